"""Progress counters that a job's steps publish while it runs, read by bertprep.runtime.progress_monitor.

A local Beam run (FnApiRunner) only reports its metrics once it has finished, and with `--workers N`
the readers run in worker subprocesses. So the readers count records here (`note_read`), and each
process publishes its running total as a small file in a per-run progress directory named by the
environment variable below (worker subprocesses inherit it); the monitor in the launching process sums
those files and keeps the run's timeline (`read_run_timeline`, `run_timing` for the run report).

Reading is over in seconds; a job's long stages come after it. Each is counted per process with
`note_stage` (units done of a total: characters ranked, buckets built) or timed with `stage` (a model
fit). A stage that also counts items (pre-training: instances, bucket by bucket, `announce_stage` with
`item=`) runs beside the reading.
"""
import contextlib
import json
import os
import sys
import threading
import time
from typing import Optional

PROGRESS_DIR_ENV = "BERTPREP_PROGRESS_DIR"
RUN_FILE = "run.json"
COUNT_PREFIX = "read-"
_FLUSH_EVERY_RECORDS = 512
_FLUSH_EVERY_SECONDS = 0.5


# Worker side: this process's running total for the current progress directory.
_worker = {"dir": None, "count": 0, "pending": 0, "flushed_at": 0.0}
_worker_lock = threading.Lock()


def note_read(records: int = 1) -> None:
    """Count records read in this process; cheap enough to call once per record."""
    _worker["pending"] += records
    if _worker["pending"] >= _FLUSH_EVERY_RECORDS:
        flush()


def flush(force: bool = False) -> None:
    """Publish this process's total, at most twice a second unless forced."""
    directory = os.environ.get(PROGRESS_DIR_ENV)
    with _worker_lock:
        if directory != _worker["dir"]:  # a new run in this process starts from zero
            _worker.update(dir=directory, count=0, flushed_at=0.0)
        _worker["count"] += _worker["pending"]
        _worker["pending"] = 0
        now = time.monotonic()
        if not directory or (not force and now - _worker["flushed_at"] < _FLUSH_EVERY_SECONDS):
            return
        _worker["flushed_at"] = now
        total = _worker["count"]
    write_atomically(os.path.join(directory, "%s%d" % (COUNT_PREFIX, os.getpid())), str(total))


def write_atomically(path: str, text: str) -> None:
    temporary = "%s.%d.tmp" % (path, threading.get_ident())
    try:
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        pass  # progress is best effort: a vanished directory must not fail the run


# ---------------------------------------------------------------- stages after the reading

# A job's long stages after reading (mask-probs: fitting the ranker, ranking every character's
# candidates) count their own units: each process publishes {stage: {"done", "total", "unit", "started",
# "finished"}} as one small JSON file beside the read counts, and the monitor shows the latest stage.
STAGE_PREFIX = "stage-"
_stages = {"dir": None, "stages": {}, "flushed_at": 0.0}


def note_stage(stage: str, done: int = 1, total: Optional[int] = None, unit: str = "items", items: int = 0,
               at_once: bool = False) -> None:
    """Count `done` units (and `items`, for a stage that counts them) of the named stage in this process;
    `total` is the whole stage's (all processes). Published at most twice a second, or `at_once` (a unit
    that took seconds, such as a pre-training bucket)."""
    with _worker_lock:
        state = _stage_state(stage, unit)
        state["done"] += done
        state["items"] = state.get("items", 0) + items
        if total is not None:
            state["total"] = total
    flush_stages(force=at_once)


def announce_stage(stage: str, total: int, unit: str = "items", item: Optional[str] = None) -> None:
    """In the launching process, while the pipeline is built: a stage and its size, before any worker
    counts it. With `item` ("instances") the stage counts items too and is shown beside the reading."""
    if total <= 0:
        return
    with _worker_lock:
        state = _stage_state(stage, unit)
        state["total"] = int(total)
        if item:
            state["item"] = item
    flush_stages(force=True)


@contextlib.contextmanager
def stage(name: str, total: Optional[int] = None, unit: str = "items"):
    """A stage without countable steps (a model fit): shown as running from entry to exit."""
    with _worker_lock:
        state = _stage_state(name, unit)
        state["finished"] = None  # entered again (another DoFn instance in this process)
        if total is not None:
            state["total"] = total
    flush_stages(force=True)
    try:
        yield
    finally:
        with _worker_lock:
            _stage_state(name, unit)["finished"] = time.time()
        flush_stages(force=True)


def _stage_state(name: str, unit: str) -> dict:
    directory = os.environ.get(PROGRESS_DIR_ENV)
    if directory != _stages["dir"]:  # a new run in this process starts without stages
        _stages.update(dir=directory, stages={}, flushed_at=0.0)
    return _stages["stages"].setdefault(name, {"done": 0, "total": None, "unit": unit, "started": time.time(),
                                               "finished": None, "items": 0})


def flush_stages(force: bool = False) -> None:
    """Publish this process's stages, at most twice a second unless forced (a DoFn's finish_bundle)."""
    with _worker_lock:
        directory = _stages["dir"]
        now = time.monotonic()
        if not directory or (not force and now - _stages["flushed_at"] < _FLUSH_EVERY_SECONDS):
            return
        _stages["flushed_at"] = now
        text = json.dumps(_stages["stages"])
    write_atomically(os.path.join(directory, "%s%d" % (STAGE_PREFIX, os.getpid())), text)


def notice_once(key: str, message: str, stream=None) -> None:
    """Print `bertprep: message` on stderr once per run, whichever worker process gets here first."""
    directory = os.environ.get(PROGRESS_DIR_ENV)
    if directory:
        try:
            os.close(os.open(os.path.join(directory, "notice-" + key), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        except OSError:
            pass
    print("bertprep: " + message, file=stream or sys.stderr, flush=True)


def read_run_timeline(directory: Optional[str] = None) -> Optional[dict]:
    """{"started_at": epoch seconds, "samples": [[seconds, records], ...]} of the current local run."""
    directory = directory or os.environ.get(PROGRESS_DIR_ENV)
    if not directory:
        return None
    try:
        with open(os.path.join(directory, RUN_FILE)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def run_timing(started_at: Optional[float]) -> dict:
    """The timing of a run ending now: from the progress timeline if there is one, else `started_at`."""
    finished = time.time()
    timeline = read_run_timeline()
    if timeline and timeline.get("started_at"):
        return {"started_at": timeline["started_at"], "finished_at": finished,
                "elapsed_seconds": finished - timeline["started_at"], "samples": timeline.get("samples") or []}
    if started_at:
        return {"started_at": started_at, "finished_at": finished, "elapsed_seconds": finished - started_at}
    return {}
