"""The arguments a job passes to Beam: each must be an option some Beam PipelineOptions class defines.

A job reads its own options; what its parser leaves is checked with Beam's own parser
(`check_beam_arguments`), or the command stops with one line naming the closest known option before it
reads or writes anything. The same check serves the CLI, the jobs file's runner options and the Flex
Template launcher, which is why it lives here and not in commands/ (the service must not import commands).
"""
import argparse
import difflib
import importlib
from typing import List, Optional, Sequence

from bertprep.errors import BertprepError
from bertprep.options.fields import closest_option

# Modules that define runner-specific PipelineOptions classes beyond apache_beam.options.pipeline_options
# (Beam only knows an options class once its module is imported). They are imported only when an
# argument is unknown to the classes already loaded, so a run with ordinary options pays nothing.
RUNNER_OPTION_MODULES = (
    "apache_beam.runners.dataflow.dataflow_runner",
    "apache_beam.runners.dask.dask_runner",
    "apache_beam.runners.render",
)


def beam_option_parser(load_runner_modules: bool = False) -> argparse.ArgumentParser:
    """The parser Beam itself builds from every PipelineOptions class, failing with BertprepError.

    Same classes and the same argparse settings as `PipelineOptions.get_all_options` (no abbreviations),
    so an argument it accepts is one Beam reads; a bad value of a Beam option fails here as well.
    """
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    if load_runner_modules:
        _import_runner_modules()

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


def _import_runner_modules() -> None:
    for name in RUNNER_OPTION_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # that runner's dependencies (dask, ...) are not installed
            continue


def beam_option_strings(load_runner_modules: bool = True) -> List[str]:
    """Every `--option` Beam's PipelineOptions classes define (for suggestions and `is_beam_option`)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if load_runner_modules:
        _import_runner_modules()
    names = set()
    for options_class in PipelineOptions.__subclasses__():
        recorder = _OptionRecorder()
        options_class._add_argparse_args(recorder)  # Beam's own hook; it has no public equivalent
        names.update(recorder.options)
    return sorted(names)


class _OptionRecorder:
    """Stands in for the parser Beam's hook fills, keeping only the option strings it is given."""

    def __init__(self):
        self.options = []

    def add_argument(self, *names, **settings):
        self.options.extend(name for name in names if name.startswith("--"))

    def add_argument_group(self, *args, **kwargs):
        return self


def unknown_option_message(argument: str, known: Sequence[str]) -> str:
    """The one line for an argument nobody defines: the option and the closest known one."""
    if not argument.startswith("-"):
        return "unexpected argument %r (options are given as --name value)" % argument
    name = argument.split("=", 1)[0]
    suggestion = closest_option(name, known)
    if suggestion:
        return "unknown option %s; did you mean %s?" % (name, suggestion)
    return "unknown option %s: neither an option of this command (see --help) nor a Beam pipeline option" % name


def _left_to_beam(arguments: List[str], load_runner_modules: bool) -> List[str]:
    _, left = beam_option_parser(load_runner_modules).parse_known_args(arguments)
    return left


def check_beam_arguments(arguments: Sequence[str], own_options: Sequence[str] = ()) -> None:
    """Raise BertprepError (one line) unless every argument is an option Beam's PipelineOptions define.

    `own_options` are the command's own options, offered as suggestions with Beam's: the arguments
    reaching here are what the command's parser did not know, so a misspelled job option lands here.
    """
    arguments = list(arguments)
    if not arguments:
        return
    left = _left_to_beam(arguments, load_runner_modules=False)
    if left:
        left = _left_to_beam(arguments, load_runner_modules=True)
    if left:
        raise BertprepError(unknown_option_message(left[0], list(own_options) + beam_option_strings()))
    for argument in arguments:
        name = argument.split("=", 1)[0]
        longer = [option for option in own_options if option.startswith(name) and option != name]
        if argument.startswith("--") and longer:
            # Beam's --label (Dataflow job labels) against a job's --labels: the user most likely meant the
            # job's option, which argparse used to complete; Beam would take it without a word.
            raise BertprepError("ambiguous option %s: a Beam pipeline option, and short for this job's %s "
                                "(job options are never abbreviated: write %s)" % (name, longer[0], longer[0]))


def check_job_command_line(own_options: Sequence[str], runner: Optional[str], beam_arguments: Sequence[str]) -> None:
    """A job's --runner and the arguments its parser left for Beam; BertprepError (one line) if wrong.
    `own_options`: the job's options (its options class's `command_options()`), offered as suggestions."""
    check_runner(runner)
    check_beam_arguments(beam_arguments, own_options=own_options)


def is_beam_option(name: str) -> bool:
    """Whether `--name` is an option of some Beam PipelineOptions class (installed runners' included)."""
    return name.split("=", 1)[0] in beam_option_strings(load_runner_modules=True)


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
