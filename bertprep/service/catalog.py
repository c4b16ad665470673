"""Which pipelines the service can run, and how a job's `args` mapping becomes a command line.

The pipelines are the jobs of `bertprep.pipelines.registry` (the built-in Beam jobs, and those a
deployment or a test adds with BERTPREP_EXTRA_PIPELINES); their typed options classes check a jobs
file's `args` and turn them into the job's options. A run executes the job in a subprocess as
`python -m bertprep <pipeline> ...` (bertprep/__main__.py): a command line, so the service never imports
the CLI.
"""
import sys
from typing import List

from bertprep.errors import BertprepError
from bertprep.options.fields import value_text
from bertprep.pipelines import registry

# `python -m bertprep` runs the bertprep command (bertprep/__main__.py).
COMMAND_MODULE = "bertprep"


def command_prefix() -> List[str]:
    """argv that starts the CLI in a fresh interpreter (the same one running the service)."""
    return [sys.executable, "-m", COMMAND_MODULE]


def available_pipelines() -> List[str]:
    """The names of every job the service can run, sorted."""
    return registry.names()


def beam_pipelines() -> List[str]:
    """The jobs that are Beam graphs (what a Dataflow template can run), sorted; not the in-process ones."""
    return sorted(name for name, job in registry.pipelines().items() if not job.runs_in_process)


def require_beam_pipeline(name: str) -> None:
    """One line for an in-process job (train, export) where only a Beam job fits (a Dataflow template)."""
    if registry.pipeline(name).runs_in_process:
        raise BertprepError("%s is no Beam job (it runs in the scheduler's own process tree), so it has no Dataflow "
                            "template; Beam jobs: %s" % (name, ", ".join(beam_pipelines())))


def options_class(name: str):
    """The typed options class of a pipeline; BertprepError naming the known ones for an unknown name."""
    return registry.pipeline(name).options_class()


def args_to_argv(pipeline: str, args: dict) -> List[str]:
    """A job's `args` mapping → the pipeline's command-line options (its options class says how:
    `--x`/`--no-x` for switches, `--x` or nothing for flags, lists comma-joined, `--x=value` otherwise).
    An unknown key or a non-boolean value of a boolean option raises BertprepError."""
    return options_class(pipeline).command_line_from_mapping(args)


def beam_options_to_argv(options: dict) -> List[str]:
    """Runner options ({runner: DataflowRunner, project: p, experiments: [a, b]}) → `--key=value` flags.

    Keys keep their spelling (Beam's own options use underscores); lists repeat the flag.
    """
    argv = []
    for key, value in options.items():
        flag = "--" + str(key).lstrip("-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv.extend("%s=%s" % (flag, value_text(item)) for item in value)
        else:
            argv.append("%s=%s" % (flag, value_text(value)))
    return argv
