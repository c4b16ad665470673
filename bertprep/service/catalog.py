"""Which pipelines the service can run, and how a job's `args` mapping becomes a command line.

A pipeline is a command module of the CLI whose module sets ACCEPTS_BEAM_ARGS (the Beam jobs:
mask-probs, pretraining, classifier, squad, tagging, embed). Runs execute it in a subprocess as
`python -m <cli module> <pipeline> ...`; the CLI module is `bertprep.cli` unless the environment
variable BERTPREP_CLI_MODULE names another one with the same COMMANDS/main shape (a deployment
adding its own pipelines, or the tests adding a fast fake one).
"""
import argparse
import importlib
import os
import sys
from typing import Dict, List, Optional

from bertprep.errors import BertprepError

CLI_MODULE_ENV = "BERTPREP_CLI_MODULE"
DEFAULT_CLI_MODULE = "bertprep.cli"


def cli_module_name() -> str:
    return os.environ.get(CLI_MODULE_ENV) or DEFAULT_CLI_MODULE


def command_prefix() -> List[str]:
    """argv that starts the CLI in a fresh interpreter (the same one running the service)."""
    return [sys.executable, "-m", cli_module_name()]


def available_pipelines() -> Dict[str, str]:
    """{command name: module path} for every job command the CLI registers."""
    cli = importlib.import_module(cli_module_name())
    found = {}
    for path in cli.COMMANDS:
        try:
            module = importlib.import_module(path)
        except ImportError:  # a job whose optional dependency is missing is simply not offered
            continue
        if getattr(module, "ACCEPTS_BEAM_ARGS", False):
            found[module.COMMAND] = path
    return found


def pipeline_module(name: str):
    pipelines = available_pipelines()
    if name not in pipelines:
        raise BertprepError("unknown pipeline %r (known: %s)" % (name, ", ".join(sorted(pipelines)) or "none"))
    return importlib.import_module(pipelines[name])


def pipeline_parser(name: str) -> argparse.ArgumentParser:
    """The pipeline's own option parser, built from its add_arguments (no parsing happens)."""
    module = pipeline_module(name)
    parser = argparse.ArgumentParser(prog="bertprep " + name, add_help=False)
    module.add_arguments(parser)
    return parser


def option_actions(parser: argparse.ArgumentParser) -> Dict[str, argparse.Action]:
    """{--long-option: action} for every optional argument (help excluded)."""
    actions = {}
    for action in parser._actions:  # argparse offers no public accessor for its actions
        if isinstance(action, argparse._HelpAction):
            continue
        for option in action.option_strings:
            if option.startswith("--"):
                actions[option] = action
    return actions


def long_option(action: argparse.Action) -> str:
    """The option's canonical spelling: `--lower` (not `--no-lower`), the longest `--` form otherwise."""
    longs = [option for option in action.option_strings if option.startswith("--")] or action.option_strings
    if isinstance(action, argparse.BooleanOptionalAction):
        return longs[0]
    return max(longs, key=len)


def option_for_key(key: str) -> str:
    """`max_seq_length` and `max-seq-length` both name `--max-seq-length`."""
    return "--" + str(key).strip().lstrip("-").replace("_", "-")


def _scalar_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def args_to_argv(args: dict, parser: Optional[argparse.ArgumentParser] = None) -> List[str]:
    """A job's `args` mapping → the pipeline's command-line options, using its parser's action kinds.

    Booleans become flags (`--x` / `--no-x` for BooleanOptionalAction, `--x` or nothing for
    store_true), lists become comma-joined values (or several values where the option takes nargs),
    and every other value becomes `--option=value`. Keys unknown to the parser raise BertprepError.
    """
    actions = option_actions(parser) if parser is not None else {}
    argv = []
    for key, value in args.items():
        option = option_for_key(key)
        action = actions.get(option)
        if parser is not None and action is None:
            raise BertprepError("unknown option %s" % option)
        if value is None:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            if not isinstance(value, bool):
                raise BertprepError("%s takes true or false, not %r" % (option, value))
            argv.append(option if value else "--no-" + option[2:])
        elif isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)) or (
                action is None and isinstance(value, bool)):
            if not isinstance(value, bool):
                raise BertprepError("%s takes true or false, not %r" % (option, value))
            if value:
                argv.append(option)
        elif isinstance(value, dict):
            raise BertprepError("%s takes a single value or a list, not a mapping" % option)
        elif isinstance(value, (list, tuple)):
            takes_many = action is not None and (action.nargs in ("+", "*") or isinstance(action.nargs, int))
            if takes_many:
                argv.append(option)
                argv.extend(_scalar_text(item) for item in value)
            elif isinstance(action, argparse._AppendAction):
                argv.extend("%s=%s" % (option, _scalar_text(item)) for item in value)
            else:
                argv.append("%s=%s" % (option, ",".join(_scalar_text(item) for item in value)))
        else:
            argv.append("%s=%s" % (option, _scalar_text(value)))
    return argv


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
            argv.extend("%s=%s" % (flag, _scalar_text(item)) for item in value)
        else:
            argv.append("%s=%s" % (flag, _scalar_text(value)))
    return argv
