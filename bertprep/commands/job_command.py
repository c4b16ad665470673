"""Every job's command: the registry job's options on the command line, then the one generic path.

A built-in job's command module holds only what is its own (COMMAND, HELP, DESCRIPTION, a note before
the run, a summary line) and calls `run_job(COMMAND, args)`. A job of bertprep.pipelines.registry that no
module lists (one a deployment adds with BERTPREP_EXTRA_PIPELINES) gets a `JobCommand`, so `bertprep
<job> ...` (and the service's runs, which start that command line) find it. Either way the run is
bertprep.runtime.job_path.run: plan, prepare the output, run, summary.
"""
import dataclasses
from typing import Callable, Optional

from bertprep.pipelines.registry import Job


def run_job(name: str, args, before_run: Optional[Callable] = None, summary_line: Optional[Callable] = None) -> int:
    """Parse the job's options from `args`, then plan, prepare, run and summarise it.

    `before_run(options, plan)`: the command's note between plan and run; `summary_line(options, info,
    elapsed)`: one line the command adds after the summary (info: the published info.json).
    """
    from bertprep.io import output as output_lib
    from bertprep.pipelines import registry
    from bertprep.runtime import job_path

    job = registry.pipeline(name)
    options = job.options_class().from_namespace(args)  # validated here, once
    run = job_path.run(job, options, getattr(args, "beam_args", None), before_run=before_run)
    if summary_line is not None and not run.dry_run:
        print(summary_line(options, output_lib.OutputDirectory(options.output).read_info(), run.elapsed))
    return 0


@dataclasses.dataclass(frozen=True)
class JobCommand:
    """The command-module shape bertprep.cli expects (COMMAND, HELP, add_arguments, run) for one job."""

    job: Job
    IS_JOB = True  # a class attribute, not a field: its options are never abbreviated

    @property
    def ACCEPTS_BEAM_ARGS(self) -> bool:  # noqa: N802
        """A Beam job passes the arguments its options do not know to Beam; an in-process job takes none."""
        return not self.job.runs_in_process

    @property
    def COMMAND(self) -> str:  # noqa: N802  (the attribute name every command module has)
        return self.job.name

    @property
    def HELP(self) -> str:  # noqa: N802
        return self.job.help_line()

    def add_arguments(self, parser) -> None:
        self.job.options_class().add_arguments(parser)

    def run(self, args) -> int:
        return run_job(self.job.name, args)


def commands_for(names_taken) -> list:
    """A command for every registry job whose name no command module of the CLI already takes."""
    from bertprep.pipelines import registry

    return [JobCommand(job) for name, job in sorted(registry.pipelines().items()) if name not in names_taken]
