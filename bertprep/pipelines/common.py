"""What every job's command line shares: common options, Beam options, running and summarising.

Local runs use FnApiRunner, never DirectRunner, because since Beam 2.68 DirectRunner first tries to
download the Prism runner. `--workers N` runs FnApiRunner with N worker processes (Beam's SDK harness
started as `bertprep.local_worker`, which differs from Beam's multi_processing default only in its exit
and terminal logging). Any other `--beam_option` on the command line passes to Beam unchanged, so
`--runner DataflowRunner --project P --region R --temp_location gs://...` runs the same job on Dataflow.
What passes through must be an option some Beam PipelineOptions class defines: anything else (a
misspelled job option above all) stops the command before it starts (`check_beam_arguments`).
"""
import argparse
import dataclasses
import difflib
import importlib
import logging
import math
import time
from typing import Callable, Dict, List, Optional, Sequence

from bertprep.errors import BertprepError

LOCAL_RUNNER = "FnApiRunner"
DEFAULT_SEED = 12345


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the description's line breaks.

    A help text that already explains its default, and an option whose default is None, get no
    "(default: ...)" suffix, so `--help` never says a default twice or calls it "None".
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None:
            return text
        return super()._get_help_string(action)


def add_common_job_arguments(parser: argparse.ArgumentParser, vocab: bool = True, input_help: str = None,
                             shards: bool = True) -> None:
    """--input --output [--vocab --spm-model --lower --strip-accents] --seed --workers --num-shards ..."""
    group = parser.add_argument_group("common job options")
    group.add_argument("--input", required=True, help=input_help or "input file, glob, or comma-separated list "
                       "(local or gs://)")
    group.add_argument("--output", required=True, help="output directory (local or gs://)")
    if vocab:
        add_tokenizer_arguments(group)
    group.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed; with the same seed the output "
                       "bytes are the same whatever the worker count")
    group.add_argument("--workers", type=int, default=1, help="local worker processes (FnApiRunner "
                       "with N SDK worker processes); ignored by remote runners")
    if shards:
        group.add_argument("--num-shards", type=int, default=0, help="output shards (0: from the input size)")
        group.add_argument("--compression", choices=("none", "gzip"), default="none", help="TFRecord compression")
    group.add_argument("--overwrite", action="store_true", help="replace an existing complete output")
    group.add_argument("--runner", default=LOCAL_RUNNER, help="Beam runner (DataflowRunner for Dataflow); other "
                       "--beam_options pass through unchanged")


def add_tokenizer_arguments(parser) -> None:
    """--vocab / --spm-model / --lower / --strip-accents, shared by every command that tokenizes."""
    parser.add_argument("--vocab", help="WordPiece vocabulary file (vocab.txt)")
    parser.add_argument("--spm-model", help="SentencePiece model (.model, with its .vocab beside it) instead of "
                        "--vocab")
    parser.add_argument("--lower", action=argparse.BooleanOptionalAction, default=True,
                        help="lower-case input (the original --do_lower_case)")
    parser.add_argument("--strip-accents", action=argparse.BooleanOptionalAction, default=None,
                        help="strip accents (default: same as --lower for WordPiece, off for SentencePiece)")


def load_job_tokenizer(config: dict):
    """The tokenizer named by a job's --vocab / --spm-model options."""
    from bertprep.transforms.tokenization import load_tokenizer

    if not config.get("vocab") and not config.get("spm_model"):
        raise BertprepError("give --vocab (WordPiece vocab.txt) or --spm-model (SentencePiece .model)")
    return load_tokenizer(vocab=config.get("vocab"), spm_model=config.get("spm_model"),
                          lower=config.get("lower", True), strip_accents=config.get("strip_accents"))


def config_from_args(args: argparse.Namespace) -> dict:
    """The job configuration as a JSON-able dict (stored whole in info.json)."""
    skip = {"func", "command", "beam_args"}
    return {key: value for key, value in sorted(vars(args).items()) if key not in skip and not callable(value)}


# ------------------------------------------------------------------ what the command line passes to Beam

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


def beam_arguments(config: dict, extra: Optional[List[str]] = None) -> List[str]:
    """Beam flags for this run: FnApiRunner locally with --workers processes, else passed through."""
    flags = ["--runner=%s" % config.get("runner", LOCAL_RUNNER)]
    if is_local(config):
        # N > 1: N worker processes, started by `local_runner` (Beam's multi_processing mode would start them
        # with its own worker command; this mode flag must then not say so, or Beam replaces the command).
        flags += ["--direct_running_mode=in_memory", "--direct_num_workers=%d" % local_workers(config)]
    return flags + list(extra or [])


def make_pipeline_options(config: dict, extra: Optional[List[str]] = None):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(beam_arguments(config, extra))


def default_num_shards(input_bytes: int, bytes_per_shard: int = 32 << 20) -> int:
    """Shards from the input size only (never the worker count), so output names are reproducible."""
    return max(1, int(math.ceil(input_bytes / float(bytes_per_shard))))


def is_local(config: dict) -> bool:
    """Whether the job runs on this machine (FnApiRunner, or DirectRunner which we run the same way)."""
    return config.get("runner", LOCAL_RUNNER) in (LOCAL_RUNNER, "DirectRunner")


def local_workers(config: dict) -> int:
    return int(config.get("workers") or 1)


def local_runner(config: dict):
    """The runner object for a local run with --workers N > 1: FnApiRunner with N worker processes that
    run `bertprep.local_worker` (Beam's harness, a fast exit); None otherwise (Beam picks from --runner)."""
    if not is_local(config) or local_workers(config) <= 1:
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    from bertprep import local_worker

    return FnApiRunner(default_environment=SubprocessSDKEnvironment.from_command_string(local_worker.command_line()))


def run_job(build_pipeline: Callable, config: dict, extra_beam_args: Optional[List[str]] = None):
    """Build and run one job's pipeline to completion; returns (result, elapsed seconds)."""
    import apache_beam as beam

    from bertprep import progress

    options = make_pipeline_options(config, extra_beam_args)
    started = time.time()
    local = is_local(config)
    try:
        # Progress for local runs (rich on a terminal, log lines otherwise); remote runners have their own UI.
        with progress.ProgressMonitor(mode=None if local and config.get("progress", True) else "off"):
            pipeline = beam.Pipeline(runner=local_runner(config), options=options)
            build_pipeline(pipeline, config)
            result = pipeline.run()
            result.wait_until_finish()
    except BertprepError as error:  # raised in this process; Beam may have appended the step's name
        raise BertprepError(_without_beam_step(str(error))) from None
    except Exception as error:  # Beam wraps worker errors; surface our one-line message when it is ours
        message = _find_bertprep_message(error)
        if message:
            raise BertprepError(_without_beam_step(message)) from None
        raise
    elapsed = time.time() - started
    if config.get("output") and config.get("summary", True):
        try:
            progress.print_summary(config["output"], elapsed, options=summary_options(config, extra_beam_args),
                                   runner=runner_description(config))
        except BertprepError:  # e.g. a remote run that has not written info.json where we can read it
            pass
    return result, elapsed


def summary_options(config: dict, beam_args: Optional[Sequence[str]] = None) -> List[str]:
    """The summary's option lines: job options that differ from their defaults (known when the CLI
    recorded the job's parser), then the arguments passed to Beam, one `--name value` per option."""
    command_line = job_command_line()
    beam: List[str] = []
    for argument in beam_args or ():
        if argument.startswith("-") or not beam:
            beam.append(argument.replace("=", " ", 1) if argument.startswith("--") else argument)
        else:  # the value of the option before it
            beam[-1] += " " + argument
    return (command_line.changed(config) if command_line is not None else []) + beam


def runner_description(config: dict) -> str:
    """"FnApiRunner (local, 2 worker processes)" or the remote runner's name."""
    runner = config.get("runner", LOCAL_RUNNER)
    if not is_local(config):
        return runner
    workers = local_workers(config)
    return "%s (local, %s)" % (runner, "in this process" if workers <= 1 else "%d worker processes" % workers)


def _without_beam_step(message: str) -> str:
    """Drop the " [while running 'Step/Name']" Beam appends, keeping the message one plain line."""
    import re

    return re.sub(r"\s*\[while running '[^']*'\]", "", message).strip()


def _find_bertprep_message(error: BaseException) -> Optional[str]:
    text = str(error)
    marker = "BertprepError: "
    if marker in text:
        return text.split(marker, 1)[1].splitlines()[0].strip().strip("'\"[]")
    seen = error.__cause__ or error.__context__
    if isinstance(seen, BertprepError):
        return str(seen)
    return None


def quiet_beam_logging() -> None:
    """Beam logs a warning per missing GCP client at import; users of local runs don't need it."""
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("apache_beam", "root"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Worker processes' log records relayed by the local runner: a failing bundle's traceback reaches the
    # user as the exception `run_job` raises (one line for our errors, the whole trace for anything else),
    # so the relayed copy would only print it again.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.CRITICAL)
