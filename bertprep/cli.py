"""The `bertprep` command: one subcommand per job or tool.

A command module exposes COMMAND, HELP, `add_arguments(parser)` and `run(args) -> int`. A job of
bertprep.pipelines.registry that no module here lists (one a deployment adds with
BERTPREP_EXTRA_PIPELINES) gets a generic command (bertprep.commands.job_command). Beam jobs pass the
arguments their parser does not know to Beam, provided each is an option a Beam PipelineOptions class
defines (else exit 2 with one line naming the closest known option, before anything is written); an
in-process job names the closest of its own options; other commands reject them. Job options are never abbreviated: `--label` must not quietly become `--labels`.
"""
import argparse
import importlib
import logging
import os
import sys

from bertprep import __version__
from bertprep.errors import BertprepError

COMMANDS = [
    "bertprep.commands.inspect",
    "bertprep.commands.tokenize",
    "bertprep.commands.demo",
    "bertprep.commands.mask_probs",
    "bertprep.commands.pretraining",
    "bertprep.commands.classifier",
    "bertprep.commands.tagging",
    "bertprep.commands.squad",
    "bertprep.commands.squad_predict",
    "bertprep.commands.report",
    "bertprep.commands.train",
    "bertprep.commands.predict",
    "bertprep.commands.export",
    "bertprep.commands.embed",
    "bertprep.commands.scheduler",
    "bertprep.commands.runs",
    "bertprep.commands.serve",
    "bertprep.commands.dataflow",
]

DESCRIPTION = """Turn raw corpora into BERT training data with Apache Beam, and train on it.

Runs locally (FnApiRunner; --workers N for N processes) or on Dataflow (--runner DataflowRunner
--project ... --region ... --temp_location gs://...). `bertprep COMMAND --help` shows each command's
options with their defaults."""


VERBOSE_HELP = "on an error, also print its cause (the traceback) before the one-line message"


def build_parser(modules):
    from bertprep.commands.help_format import HelpFormatter

    parser = argparse.ArgumentParser(prog="bertprep", description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version="bertprep " + __version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in modules:
        accepts_beam_args = getattr(module, "ACCEPTS_BEAM_ARGS", False)
        is_job = accepts_beam_args or getattr(module, "IS_JOB", False)  # job options are never abbreviated
        sub = subparsers.add_parser(module.COMMAND, help=module.HELP, description=getattr(module, "DESCRIPTION",
                                    module.HELP), formatter_class=HelpFormatter, allow_abbrev=not is_job)
        module.add_arguments(sub)
        try:
            sub.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
        except argparse.ArgumentError:  # the command defines its own --verbose
            pass
        sub.set_defaults(func=module.run, accepts_beam_args=accepts_beam_args, is_job=is_job)
    return parser


def _conventional_name(module_path: str) -> str:
    """`bertprep.commands.squad_predict` → `squad-predict`: a command module is named after its command."""
    return module_path.rsplit(".", 1)[-1].replace("_", "-")


def _modules_for(argv):
    """Import only the module of the command asked for, when its name follows the convention.

    Importing every command pulls in Beam and TensorFlow pieces and costs seconds; a run of one job
    (often started by the scheduler) needs just its own module. `--help` and unknown names import all.
    Registry jobs no module lists come after the modules, each as a generic command.
    """
    from bertprep.commands import job_command

    wanted = next((arg for arg in argv if not arg.startswith("-")), None)
    if wanted:
        for path in COMMANDS:
            if _conventional_name(path) == wanted:
                module = importlib.import_module(path)
                if module.COMMAND == wanted:
                    return [module]
        if wanted not in {_conventional_name(path) for path in COMMANDS}:
            found = [command for command in job_command.commands_for(()) if command.COMMAND == wanted]
            if found:
                return found
    modules = [importlib.import_module(name) for name in COMMANDS]
    return modules + job_command.commands_for({module.COMMAND for module in modules})


def _own_options(command: str):
    """A job's own --options (from its registry options class), offered as suggestions for a typo."""
    from bertprep.pipelines import registry

    pipeline = registry.PIPELINES.get(command) or registry.pipelines().get(command)
    if pipeline is None:  # a command outside the registry (the tests' toy job): Beam's options only
        return []
    return pipeline.options_class().option_strings()


def main(argv=None, fast_exit: bool = False) -> int:
    """Parse `argv` and run the command; its exit status. `fast_exit` (the console script): after a Beam
    job, leave at once with os._exit instead of returning, see `console_main`."""
    from bertprep.runtime.beam_logging import quiet_beam_logging

    quiet_beam_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        modules = _modules_for(argv)
    except BertprepError as error:
        print("bertprep: error: %s" % error, file=sys.stderr)
        return 2
    parser = build_parser(modules)
    args, unknown = parser.parse_known_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if unknown and not args.accepts_beam_args:
        if args.is_job:  # an in-process job: its own options are the only ones, offered as suggestions
            from bertprep.options.fields import closest_option

            name = unknown[0].split("=", 1)[0]
            found = closest_option(name, _own_options(args.command)) if name.startswith("-") else None
            print("bertprep: error: unknown %s %s%s" % ("option" if name.startswith("-") else "argument", name,
                                                        "; did you mean %s?" % found if found else " (see --help)"),
                  file=sys.stderr)
            return 2
        parser.error("unrecognized arguments: %s" % " ".join(unknown))
    args.beam_args = unknown
    if "--no_auth" in unknown:  # Beam's flag reaches its Dataflow client only; our gs:// access follows it too
        from bertprep.io import cloud_storage

        cloud_storage.use_anonymous_credentials()
    if args.accepts_beam_args:
        from bertprep.runtime import beam_arguments

        try:
            beam_arguments.check_job_command_line(_own_options(args.command), getattr(args, "runner", None),
                                                  unknown)
        except BertprepError as error:
            print("bertprep: error: %s" % error, file=sys.stderr)
            return 2
    code = _run_command(args)
    if fast_exit and args.accepts_beam_args:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run_command(args) -> int:
    if getattr(args, "verbose", False):
        from bertprep.runtime.local_worker import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"  # local worker processes keep their own tracebacks on stderr too
    try:
        return int(args.func(args) or 0)
    except BertprepError as error:
        _print_cause(args, error)
        print("bertprep: error: %s" % error, file=sys.stderr)
        return 2
    except OSError as error:
        # Disk full, permission denied: one line naming the path, not a traceback.
        _print_cause(args, error)
        path = getattr(error, "filename", None) or ""
        print("bertprep: error: %s%s" % (path + ": " if path else "", error.strerror or error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bertprep: interrupted", file=sys.stderr)
        return 130


def _print_cause(args, error: BaseException) -> None:
    """With --verbose: the traceback behind a one-line error (its chained causes included)."""
    if getattr(args, "verbose", False):
        import traceback

        traceback.print_exception(error, file=sys.stderr)


def console_main() -> None:
    """The `bertprep` console script: `main`, then, after a Beam job, exit without interpreter teardown.

    Why: by the time a job returns, its shards, info.json, report and completion marker are written and
    closed and Beam's workers have stopped; what remains is finalizing Beam's, gRPC's and numba's modules
    and threads, about half a second of every run that does nothing for the user. Other commands (the
    trainer, the server) exit normally. Tests call `main`, which always returns.
    """
    sys.exit(main(fast_exit=True))


if __name__ == "__main__":
    console_main()
