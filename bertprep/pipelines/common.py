"""What every job's command line shares: common options, Beam options, running and summarising.

Local runs use FnApiRunner, never DirectRunner, because since Beam 2.68 DirectRunner first tries to
download the Prism runner. `--workers N` runs FnApiRunner with N worker processes (Beam's SDK harness
started as `bertprep.local_worker`: forked from a warm copy of the launching process instead of N
fresh interpreters, with a fast exit and quiet terminal logging). Any other `--beam_option` on the
command line passes to Beam unchanged, so `--runner DataflowRunner --project P --region R
--temp_location gs://...` runs the same job on Dataflow.
What passes through must be an option some Beam PipelineOptions class defines (checked by
bertprep/pipelines/command_line.py before the job starts).
"""
import argparse
import contextlib
import logging
import math
import sys
import time
from typing import Callable, List, Optional

from bertprep.errors import BertprepError

LOCAL_RUNNER = "FnApiRunner"
DEFAULT_SEED = 12345
DEFAULT_MAX_DEAD_LETTER_RATE = 0.5


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
    group.add_argument("--max-dead-letter-rate", type=dead_letter_rate, default=DEFAULT_MAX_DEAD_LETTER_RATE,
                       help="fail, publishing nothing, when more than this share of the input records is "
                       "dead-lettered (0 to 1); a run that writes no record always fails")
    group.add_argument("--strict", action=argparse.BooleanOptionalAction, default=False,
                       help="fail the run, publishing nothing, when the data gives a warning (an [UNK] flood, a case "
                       "setting that does not fit the vocabulary, a dead-letter reason over 10%% of the input, "
                       "skewed labels; see README)")
    group.add_argument("--runner", default=LOCAL_RUNNER, help="Beam runner (DataflowRunner for Dataflow); other "
                       "--beam_options pass through unchanged")


def dead_letter_rate(text: str) -> float:
    """--max-dead-letter-rate: a share between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number from 0 to 1, got %r" % text) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a number from 0 to 1, got %s" % text)
    return value


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
    skip = {"func", "command", "beam_args", "verbose"}
    return {key: value for key, value in sorted(vars(args).items()) if key not in skip and not callable(value)}


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
    run `bertprep.local_worker` (Beam's harness, forked from a warm server, a fast exit); None otherwise
    (Beam picks from --runner)."""
    if not is_local(config) or local_workers(config) <= 1:
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    from bertprep import local_worker

    return FnApiRunner(default_environment=SubprocessSDKEnvironment.from_command_string(local_worker.command_line()))


def _local_worker_server(config: dict, build_pipeline: Callable):
    """For --workers N > 1, the warm server the N workers are forked from (started before this process
    starts any thread; see bertprep.local_worker); otherwise nothing."""
    if not is_local(config) or local_workers(config) <= 1:
        return contextlib.nullcontext()
    from bertprep import local_worker

    return local_worker.worker_server(getattr(build_pipeline, "__module__", ""))


def run_job(build_pipeline: Callable, config: dict, extra_beam_args: Optional[List[str]] = None):
    """Build and run one job's pipeline to completion; returns (result, elapsed seconds)."""
    import apache_beam as beam

    from bertprep import progress, run_summary

    options = make_pipeline_options(config, extra_beam_args)
    started = time.time()
    local = is_local(config)
    try:
        # Progress for local runs (rich on a terminal, log lines otherwise); remote runners have their own UI.
        with _local_worker_server(config, build_pipeline), \
                progress.ProgressMonitor(mode=None if local and config.get("progress", True) else "off"):
            pipeline = _new_pipeline(beam, local_runner(config), options)
            build_pipeline(pipeline, config)
            result = pipeline.run()
            result.wait_until_finish()
    except BertprepError as error:  # raised in this process; Beam may have appended the step's name
        raise BertprepError(_without_beam_step(str(error))) from error
    except Exception as error:  # Beam wraps worker errors: one line, the original kept as the cause (--verbose)
        message = _find_bertprep_message(error)
        raise BertprepError(_without_beam_step(message) if message else describe_step_failure(error)) from error
    elapsed = time.time() - started
    if is_dry_run(extra_beam_args):  # the runner built and checked the job; nothing ran, nothing was written
        print("bertprep: dry run: %s built the job (graph, pickled steps, options); nothing was submitted or "
              "written" % config.get("runner", LOCAL_RUNNER), file=sys.stderr)
        return result, elapsed
    if config.get("output") and config.get("summary", True):
        try:
            from bertprep.pipelines.command_line import summary_options

            run_summary.print_summary(config["output"], elapsed, options=summary_options(config, extra_beam_args),
                                   runner=runner_description(config))
        except BertprepError:  # e.g. a remote run that has not written info.json where we can read it
            pass
    return result, elapsed


def runner_description(config: dict) -> str:
    """"FnApiRunner (local, 2 worker processes)" or the remote runner's name."""
    runner = config.get("runner", LOCAL_RUNNER)
    if not is_local(config):
        return runner
    workers = local_workers(config)
    return "%s (local, %s)" % (runner, "in this process" if workers <= 1 else "%d worker processes" % workers)


def _new_pipeline(beam, runner, options):
    """beam.Pipeline, with Beam's check of the runner's options (a project id, a gs:// temp location) as
    our one-line error: those are the user's flags, not a fault of the program."""
    try:
        return beam.Pipeline(runner=runner, options=options)
    except ValueError as error:
        message = str(error)
        if not message.startswith("Pipeline has validations errors"):
            raise
        details = "; ".join(line.strip() for line in message.splitlines()[1:] if line.strip())
        raise BertprepError("Beam options: %s" % (details or message)) from None


def is_dry_run(beam_args: Optional[List[str]]) -> bool:
    """Whether Beam's --dry_run is set: DataflowRunner then builds the job (graph, pickled transforms,
    options) and submits nothing, so there is no output to summarise."""
    if not beam_args or not any("dry_run" in arg for arg in beam_args):
        return False
    from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

    return bool(PipelineOptions(list(beam_args)).view_as(TestOptions).dry_run)


def _without_beam_step(message: str) -> str:
    """Drop the " [while running 'Step/Name']" Beam appends, keeping the message one plain line."""
    import re

    return re.sub(r"\s*\[while running '[^']*'\]", "", message).strip()


def describe_step_failure(error: BaseException) -> str:
    """One line for an unexpected error inside a Beam step: the OS error's path and reason when the
    original exception is at hand (one process), else the last line of the text Beam passed on (workers)."""
    import re

    seen, chain = error, []
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    os_error = next((item for item in chain if isinstance(item, OSError)), None)
    step = re.search(r"\[while running '([^']*)'\]", str(error))
    where = " in step %s" % step.group(1) if step else ""
    if os_error is not None:
        path = os_error.filename
        return "%s%s (%s%s)" % (path + ": " if path else "", os_error.strerror or os_error, type(os_error).__name__,
                                where)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = _without_beam_step(lines[-1]) if lines else type(error).__name__
    return "unexpected error%s: %s (--verbose shows the traceback)" % (where, last)


def _find_bertprep_message(error: BaseException) -> Optional[str]:
    text = str(error)
    marker = "BertprepError: "
    if marker in text:
        # Only the step annotation and quotes around the whole message go: a message may end in `']`.
        line = _without_beam_step(text.split(marker, 1)[1].splitlines()[0].strip())
        if len(line) > 1 and line[0] == line[-1] and line[0] in "'\"":
            line = line[1:-1]
        return line
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
    # user as the exception `run_job` raises (one line; --verbose prints the trace behind it), so the
    # relayed copy would only print it again.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.CRITICAL)
    # A failing step logs its exception with a traceback here, before run_job turns it into one line (the
    # traceback stays available as that line's cause: `--verbose` prints it).
    logging.getLogger("apache_beam.runners.common").setLevel(logging.CRITICAL)
