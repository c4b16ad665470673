"""Running one job's Beam pipeline: runner choice, local worker processes, progress, one-line errors.

Local runs use FnApiRunner, never DirectRunner, because since Beam 2.68 DirectRunner first tries to
download the Prism runner. `--workers N` runs FnApiRunner with N worker processes (Beam's SDK harness
started as `bertprep.runtime.local_worker`: forked from a warm copy of the launching process instead of N
fresh interpreters, with a fast exit and quiet terminal logging). Any other `--beam_option` on the
command line passes to Beam unchanged, so `--runner DataflowRunner --project P --region R
--temp_location gs://...` runs the same job on Dataflow.
"""
import contextlib
import sys
import time
from typing import Callable, List, Optional

from bertprep.errors import BertprepError

# `options` below is a job's typed options (a bertprep.options.common.CommonJobOptions): runner, workers,
# output, is_local, changed_options().


def beam_flags(options, extra: Optional[List[str]] = None) -> List[str]:
    """Beam flags for this run: FnApiRunner locally with --workers processes, else passed through."""
    flags = ["--runner=%s" % options.runner]
    if options.is_local:
        # N > 1: N worker processes, started by `local_runner` (Beam's multi_processing mode would start them
        # with its own worker command; this mode flag must then not say so, or Beam replaces the command).
        flags += ["--direct_running_mode=in_memory", "--direct_num_workers=%d" % local_workers(options)]
    return flags + list(extra or [])


def make_pipeline_options(options, extra: Optional[List[str]] = None):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(beam_flags(options, extra))


def local_workers(options) -> int:
    return int(options.workers or 1)


def _several_local_workers(options) -> bool:
    return options.is_local and local_workers(options) > 1


def local_runner(options):
    """The runner object for a local run with --workers N > 1: FnApiRunner with N worker processes that
    run `bertprep.runtime.local_worker` (Beam's harness, forked from a warm server, a fast exit); None
    otherwise (Beam picks from --runner)."""
    if not _several_local_workers(options):
        return None
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    from bertprep.runtime import local_worker

    return FnApiRunner(default_environment=SubprocessSDKEnvironment.from_command_string(local_worker.command_line()))


def _local_worker_server(options, job_module: str):
    """For --workers N > 1, the warm server the N workers are forked from (started before this process
    starts any thread; see bertprep.runtime.local_worker); otherwise nothing."""
    if not _several_local_workers(options):
        return contextlib.nullcontext()
    from bertprep.runtime import local_worker

    return local_worker.worker_server(job_module)


def run_job(build_pipeline: Callable, options, extra_beam_args: Optional[List[str]] = None, *,
            progress: bool = True, summary: bool = True, job_module: Optional[str] = None):
    """Build and run one Beam pipeline to completion; returns (result, elapsed seconds).

    `options` is the job's typed options object; `build_pipeline(pipeline, options)` adds the steps (a
    registry job's graph and its publishing, from bertprep.runtime.job_path). `job_module`: the module
    local workers preload (default: the module of `build_pipeline`). `progress` and `summary`: the live
    progress display and the end-of-run summary (both on for a user's run; tests and embedding callers
    turn them off).
    """
    import apache_beam as beam

    from bertprep.runtime import progress_monitor
    from bertprep.runtime import run_summary

    beam_options = make_pipeline_options(options, extra_beam_args)
    started = time.time()
    try:
        # Progress for local runs (rich on a terminal, log lines otherwise); remote runners have their own UI.
        with _local_worker_server(options, job_module or getattr(build_pipeline, "__module__", "")), \
                progress_monitor.ProgressMonitor(mode=None if options.is_local and progress else "off"):
            pipeline = _new_pipeline(beam, local_runner(options), beam_options)
            build_pipeline(pipeline, options)
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
              "written" % options.runner, file=sys.stderr)
        return result, elapsed
    if options.output and summary:
        try:
            run_summary.print_summary(options.output, elapsed,
                                      options=options.changed_options() + beam_argument_lines(extra_beam_args),
                                      runner=runner_description(options))
        except BertprepError:  # e.g. a remote run that has not written info.json where we can read it
            pass
    return result, elapsed


def beam_argument_lines(beam_args: Optional[List[str]]) -> List[str]:
    """The arguments passed to Beam as the summary writes them: one `--name value` a line."""
    lines: List[str] = []
    for argument in beam_args or ():
        if argument.startswith("-") or not lines:
            lines.append(argument.replace("=", " ", 1) if argument.startswith("--") else argument)
        else:  # the value of the option before it
            lines[-1] += " " + argument
    return lines


def runner_description(options) -> str:
    """"FnApiRunner (local, 2 worker processes)" or the remote runner's name."""
    if not options.is_local:
        return options.runner
    workers = local_workers(options)
    return "%s (local, %s)" % (options.runner, "in this process" if workers <= 1 else "%d worker processes" % workers)


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
