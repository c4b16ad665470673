"""The one path every job takes: options → plan → prepare the output → run → summary.

`run(job, options, beam_args)` is what every job command calls (bertprep.commands.job_command), for the
built-in jobs and those a deployment adds alike. A Beam job's graph comes from its `build(pipeline,
options, plan)`, and what it returns is published by bertprep.publish.finalize, the same way for every
job; an in-process job's `run(options, plan)` writes its output itself (see bertprep.pipelines.registry).
"""
import dataclasses
import sys
import time
from typing import Any, Callable, List, Optional


@dataclasses.dataclass(frozen=True)
class JobRun:
    """What one run of a job left: its plan, how long it took, and (for an in-process job) what `run`
    returned; `dry_run`: Beam built the job and submitted nothing (no output to read)."""

    plan: Any
    elapsed: float
    result: Any = None
    dry_run: bool = False


class BuildAndPublish:
    """`build_pipeline(pipeline, options)` for bertprep.runtime.beam_job: the job's graph, then its
    publishing (a class, not a closure, so the callable pickles for DataflowRunner's job graph)."""

    def __init__(self, job, plan):
        self._job = job
        self._plan = plan

    def __call__(self, pipeline, options) -> None:
        from bertprep.publish import finalize

        outputs = self._job.build_function()(pipeline, options, self._plan)
        finalize.publish(pipeline, outputs, options)


def plan(job, options):
    """The job's plan: every check and derived value that needs I/O, once, here on the driver."""
    return job.plan_function()(options)


def run(job, options, beam_args: Optional[List[str]] = None, *, progress: bool = True, summary: bool = True,
        before_run: Optional[Callable] = None) -> JobRun:
    """Plan the job, prepare its output directory, run it and print the summary.

    The plan comes first, so a bad input, vocabulary or labels file is one line before any output exists.
    `before_run(options, plan)`: what a command says between the plan and the run (a note).
    """
    from bertprep.io import output as output_lib
    from bertprep.runtime import beam_job, run_summary

    job_plan = plan(job, options)
    if before_run is not None:
        before_run(options, job_plan)
    # An existing complete output is refused (or withdrawn with --overwrite) before the job starts.
    output_lib.OutputDirectory(options.output, overwrite=options.overwrite).prepare(side_outputs=job.side_outputs)
    if job.runs_in_process:
        started = time.time()
        result = job.run_function()(options, job_plan)
        elapsed = time.time() - started
        if summary:
            run_summary.print_summary(options.output, elapsed, options=options.changed_options(),
                                      runner="in this process")
        return JobRun(job_plan, elapsed, result)
    build_module = job.build.split(":")[0]
    _, elapsed = beam_job.run_job(BuildAndPublish(job, job_plan), options, beam_args, progress=progress,
                                  summary=summary, job_module=build_module)
    return JobRun(job_plan, elapsed, dry_run=beam_job.is_dry_run(beam_args))


def note(line: str) -> None:
    """A command's note before the run, on stderr."""
    print("bertprep: note: " + line, file=sys.stderr)
