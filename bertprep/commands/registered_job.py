"""A command for a registry job that has no command module of its own.

A deployment (or a test) adds a Beam job by naming its module in BERTPREP_EXTRA_PIPELINES: an options
class and a build function, nothing about the command line. The CLI gives each such job this command,
so `bertprep <job> ...` (and the service's runs, which start that command line) find it: the options
class's arguments, then `runtime.beam_job.run_job` with the build function and the arguments left for Beam.
"""
import dataclasses

from bertprep.pipelines.registry import Pipeline


@dataclasses.dataclass(frozen=True)
class RegisteredJobCommand:
    """The command-module shape bertprep.cli expects (COMMAND, HELP, add_arguments, run) for one job."""

    pipeline: Pipeline
    ACCEPTS_BEAM_ARGS = True  # a class attribute, not a field: every registry job is a Beam job

    @property
    def COMMAND(self) -> str:  # noqa: N802  (the attribute name every command module has)
        return self.pipeline.name

    @property
    def HELP(self) -> str:  # noqa: N802
        """The first line of the options class's docstring: the only words the registry has about the job."""
        doc = (self.pipeline.options_class().__doc__ or "").strip()
        return doc.splitlines()[0] if doc else "the %s job" % self.pipeline.name

    def add_arguments(self, parser) -> None:
        self.pipeline.options_class().add_arguments(parser)

    def run(self, args) -> int:
        from bertprep.io import output as output_lib
        from bertprep.runtime import beam_job

        options = self.pipeline.options_class().from_namespace(args)
        # As every job command does: an existing complete output is refused (or withdrawn with --overwrite)
        # before the job starts, whatever the job's own steps do.
        output_lib.OutputDirectory(options.output, overwrite=options.overwrite).prepare()
        beam_job.run_job(self.pipeline.build_function(), options, args.beam_args)
        return 0


def commands_for(names_taken) -> list:
    """A command for every registry job whose name no command module of the CLI already takes."""
    from bertprep.pipelines import registry

    return [RegisteredJobCommand(pipeline) for name, pipeline in sorted(registry.pipelines().items())
            if name not in names_taken]
