"""What a job's command line said: the arguments it passes to Beam, and its options not at their defaults.

A job reads its own options; what its parser leaves must be options that Beam's PipelineOptions classes
define, checked with Beam's own parser (`check_beam_arguments`), or the command stops with one line
naming the closest known option before it reads or writes anything. The same check serves the jobs
file's runner options and the Flex Template launcher. The end-of-run summary lists the options that
differ from their defaults (`summary_options`), which the config alone cannot tell.
"""
import argparse
import dataclasses
import difflib
import importlib
from typing import Dict, List, Optional, Sequence

from bertprep.errors import BertprepError

# Modules that define runner-specific PipelineOptions classes beyond apache_beam.options.pipeline_options
# (Beam only knows an options class once its module is imported). They are imported only when an
# argument is unknown to the classes already loaded, so a run with ordinary options pays nothing.
RUNNER_OPTION_MODULES = (
    "apache_beam.runners.dataflow.dataflow_runner",
    "apache_beam.runners.dask.dask_runner",
    "apache_beam.runners.render",
)
# Below this similarity (difflib's ratio) a known option is not offered as what the user meant.
SUGGESTION_CUTOFF = 0.7


def beam_option_parser(load_runner_modules: bool = False) -> argparse.ArgumentParser:
    """The parser Beam itself builds from every PipelineOptions class, failing with BertprepError.

    Same classes and the same argparse settings as `PipelineOptions.get_all_options` (no abbreviations),
    so an argument it accepts is one Beam reads; a bad value of a Beam option fails here as well.
    """
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    if load_runner_modules:
        for name in RUNNER_OPTION_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # that runner's dependencies (dask, ...) are not installed
                continue

    class RaisingParser(_BeamArgumentParser):
        def error(self, message):
            raise BertprepError(message)

    parser = RaisingParser(allow_abbrev=False, add_help=False, conflict_handler="resolve")
    classes = {}
    for options_class in PipelineOptions.__subclasses__():  # Beam keeps the first class of each name too
        classes.setdefault(str(options_class), options_class)
    for options_class in classes.values():
        options_class._add_argparse_args(parser)  # Beam's own hook; it has no public equivalent
    return parser


def _option_strings(parser: argparse.ArgumentParser) -> List[str]:
    return [option for action in parser._actions for option in action.option_strings if option.startswith("--")]


def closest_option(name: str, known: Sequence[str]) -> Optional[str]:
    """The known option most like `name` (dashes and underscores alike), or None when none is close."""
    def normal(option):
        return option.lstrip("-").replace("_", "-").lower()

    by_normal = {}
    for option in known:
        by_normal.setdefault(normal(option), option)
    extending = [option for key, option in by_normal.items() if key.startswith(normal(name))]
    if len(extending) == 1:  # a cut-short option: jobs take no abbreviations, but the user meant this one
        return extending[0]
    found = difflib.get_close_matches(normal(name), list(by_normal), n=1, cutoff=SUGGESTION_CUTOFF)
    return by_normal[found[0]] if found else None


def unknown_option_message(argument: str, known: Sequence[str]) -> str:
    """The one line for an argument nobody defines: the option and the closest known one."""
    if not argument.startswith("-"):
        return "unexpected argument %r (options are given as --name value)" % argument
    name = argument.split("=", 1)[0]
    suggestion = closest_option(name, known)
    if suggestion:
        return "unknown option %s; did you mean %s?" % (name, suggestion)
    return "unknown option %s: neither an option of this command (see --help) nor a Beam pipeline option" % name


def _left_to_beam(arguments: List[str], load_runner_modules: bool):
    parser = beam_option_parser(load_runner_modules)
    _, left = parser.parse_known_args(arguments)
    return left, parser


def check_beam_arguments(arguments: Sequence[str], own_options: Sequence[str] = ()) -> None:
    """Raise BertprepError (one line) unless every argument is an option Beam's PipelineOptions define.

    `own_options` are the command's own options, offered as suggestions with Beam's: the arguments
    reaching here are what the command's parser did not know, so a misspelled job option lands here.
    """
    arguments = list(arguments)
    if not arguments:
        return
    left, parser = _left_to_beam(arguments, load_runner_modules=False)
    if left:
        left, parser = _left_to_beam(arguments, load_runner_modules=True)
    if left:
        raise BertprepError(unknown_option_message(left[0], list(own_options) + _option_strings(parser)))
    for argument in arguments:
        name = argument.split("=", 1)[0]
        longer = [option for option in own_options if option.startswith(name) and option != name]
        if argument.startswith("--") and longer:
            # Beam's --label (Dataflow job labels) against a job's --labels: the user most likely meant the
            # job's option, which argparse used to complete; Beam would take it without a word.
            raise BertprepError("ambiguous option %s: a Beam pipeline option, and short for this job's %s "
                                "(job options are never abbreviated: write %s)" % (name, longer[0], longer[0]))


def check_job_command_line(job_parser: argparse.ArgumentParser, runner: Optional[str],
                           beam_arguments: Sequence[str]) -> None:
    """A job's --runner and the arguments its parser left for Beam; BertprepError (one line) if wrong."""
    check_runner(runner)
    check_beam_arguments(beam_arguments, own_options=_option_strings(job_parser))


def is_beam_option(name: str) -> bool:
    """Whether `--name` is an option of some Beam PipelineOptions class (installed runners' included)."""
    return name.split("=", 1)[0] in _option_strings(beam_option_parser(load_runner_modules=True))


def check_runner(name: Optional[str]) -> None:
    """A --runner Beam can create: one of its known runner names (any case, "Runner" optional) or a
    dotted path to a PipelineRunner class; else one line with the closest known name."""
    if not name or "." in name:
        return
    from apache_beam.options.pipeline_options import StandardOptions

    known = [path.rsplit(".", 1)[-1] for path in StandardOptions.ALL_KNOWN_RUNNERS]
    lowered = {runner.lower() for runner in known}
    if name.lower() in lowered or name.lower() + "runner" in lowered:
        return
    found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    raise BertprepError("unknown runner %s%s" % (name, "; did you mean %s?" % found[0] if found else
                                                 " (known: %s)" % ", ".join(sorted(known))))


@dataclasses.dataclass
class JobOption:
    """One option of a job's parser as the summary writes it."""
    option: str  # the spelling a user types: --max-seq-length
    default: object
    kind: str  # "value" (--x V), "flag" (--x or nothing) or "negatable" (--x / --no-x)

    def command_line(self, value) -> str:
        if self.kind == "negatable":
            return self.option if value else "--no-" + self.option[2:]
        if self.kind == "flag":
            return self.option
        if isinstance(value, (list, tuple)):
            return "%s %s" % (self.option, " ".join(str(item) for item in value))
        return "%s %s" % (self.option, value)


@dataclasses.dataclass
class JobCommandLine:
    """The options of this process's job command and their defaults, which the config alone does not
    tell. `bertprep.cli` records it before a job runs; the end-of-run summary lists the options that
    differ from their defaults."""
    options: Dict[str, JobOption]

    def changed(self, config: dict, leave_out: Sequence[str] = ("output", "runner")) -> List[str]:
        """`--option value` for each config entry that differs from its option's default, in --help order."""
        return [option.command_line(config[dest]) for dest, option in self.options.items()
                if dest in config and dest not in leave_out and config[dest] != option.default]


_job_command_line: Optional[JobCommandLine] = None


def _job_option(action: argparse.Action) -> JobOption:
    longs = [option for option in action.option_strings if option.startswith("--")] or action.option_strings
    if isinstance(action, argparse.BooleanOptionalAction):
        return JobOption(longs[0], action.default, "negatable")
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return JobOption(max(longs, key=len), action.default, "flag")
    return JobOption(max(longs, key=len), action.default, "value")


def record_job_command_line(parser: Optional[argparse.ArgumentParser]) -> None:
    """Remember a job parser's options and defaults for the summary (None forgets them)."""
    global _job_command_line
    if parser is None:
        _job_command_line = None
        return
    options = {action.dest: _job_option(action) for action in parser._actions
               if action.option_strings and not isinstance(action, argparse._HelpAction)}
    _job_command_line = JobCommandLine(options)


def job_command_line() -> Optional[JobCommandLine]:
    return _job_command_line


def summary_options(config: dict, beam_args: Optional[Sequence[str]] = None) -> List[str]:
    """The summary's option lines: job options that differ from their defaults (known when the CLI
    recorded the job's parser), then the arguments passed to Beam, one `--name value` per option."""
    recorded = job_command_line()
    beam: List[str] = []
    for argument in beam_args or ():
        if argument.startswith("-") or not beam:
            beam.append(argument.replace("=", " ", 1) if argument.startswith("--") else argument)
        else:  # the value of the option before it
            beam[-1] += " " + argument
    return (recorded.changed(config) if recorded is not None else []) + beam
