"""Progress for local runs, and the one-screen summary a job's command ends with.

A local Beam run (FnApiRunner) only reports its metrics once it has finished, and with `--workers N`
the readers run in worker subprocesses. So the readers count records here (`note_read`), and each
process publishes its running total as a small file in a per-run progress directory named by the
environment variable below (worker subprocesses inherit it). A monitor thread in the launching process
sums those files: with rich on a terminal, as plain log lines otherwise. It also keeps a timeline of
(seconds, records) samples that the run report plots as throughput.

Reading is over in seconds; a job's long stage comes after it (pre-training builds instances bucket by
bucket). Such a job announces its stage (`announce_stage`: its name and how many units, e.g. buckets)
and counts its work per process (`note_stage`: items written, units finished); the monitor then shows
the units done, the items and their rate, and an estimate of the time left.
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import List, Optional

PROGRESS_DIR_ENV = "BERTPREP_PROGRESS_DIR"
# Seconds between plain log lines when stderr is not a terminal (tests set it lower).
LOG_INTERVAL_ENV = "BERTPREP_PROGRESS_LOG_SECONDS"
DEFAULT_LOG_INTERVAL = 10.0
RUN_FILE = "run.json"
_COUNT_PREFIX = "read-"
_FLUSH_EVERY_RECORDS = 512
_FLUSH_EVERY_SECONDS = 0.5
_MAX_SAMPLES = 600

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
    _write_atomically(os.path.join(directory, "%s%d" % (_COUNT_PREFIX, os.getpid())), str(total))


def _write_atomically(path: str, text: str) -> None:
    temporary = "%s.%d.tmp" % (path, threading.get_ident())
    try:
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        pass  # progress is best effort: a vanished directory must not fail the run


def records_read(directory: str) -> int:
    """Sum of the totals every process has published in `directory`."""
    total = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if name.startswith(_COUNT_PREFIX) and not name.endswith(".tmp"):
            try:
                with open(os.path.join(directory, name)) as handle:
                    total += int(handle.read().strip() or 0)
            except (OSError, ValueError):
                continue
    return total


# ---------------------------------------------------------------- a job's long stage (after reading)

STAGE_FILE = "stage.json"
_STAGE_PREFIX = "stage-"
_stage = {"dir": None, "items": 0, "units": 0, "flushed_at": 0.0}


@dataclass
class StageProgress:
    """The long stage as summed over processes: `units_done` of `units_total` (buckets), `items` (instances)."""
    name: str
    unit: str
    item: str
    units_total: int
    units_done: int = 0
    items: int = 0

    @property
    def started(self) -> bool:
        return bool(self.units_done or self.items)


def announce_stage(name: str, units_total: int, unit: str = "buckets", item: str = "instances") -> None:
    """In the launching process, while the pipeline is built: the stage to show and its size."""
    directory = os.environ.get(PROGRESS_DIR_ENV)
    if directory and units_total > 0:
        _write_atomically(os.path.join(directory, STAGE_FILE), json.dumps(
            {"name": name, "unit": unit, "item": item, "units_total": int(units_total)}))


def note_stage(items: int = 0, units_done: int = 0) -> None:
    """Count the stage's work in this process: call per batch of items and once per finished unit.
    Published at most twice a second, and whenever a unit finishes."""
    directory = os.environ.get(PROGRESS_DIR_ENV)
    with _worker_lock:
        if directory != _stage["dir"]:  # a new run in this process starts from zero
            _stage.update(dir=directory, items=0, units=0, flushed_at=0.0)
        _stage["items"] += items
        _stage["units"] += units_done
        now = time.monotonic()
        if not directory or (not units_done and now - _stage["flushed_at"] < _FLUSH_EVERY_SECONDS):
            return
        _stage["flushed_at"] = now
        text = "%d %d" % (_stage["items"], _stage["units"])
    _write_atomically(os.path.join(directory, "%s%d" % (_STAGE_PREFIX, os.getpid())), text)


def stage_progress(directory: str) -> Optional[StageProgress]:
    """The announced stage with every process's counts added up; None when no stage was announced."""
    try:
        with open(os.path.join(directory, STAGE_FILE)) as handle:
            announced = json.load(handle)
        names = os.listdir(directory)
    except (OSError, ValueError):
        return None
    stage = StageProgress(announced["name"], announced["unit"], announced["item"], announced["units_total"])
    for name in names:
        if name.startswith(_STAGE_PREFIX) and not name.endswith(".tmp"):
            try:
                with open(os.path.join(directory, name)) as handle:
                    items, units = handle.read().split()
                stage.items += int(items)
                stage.units_done += int(units)
            except (OSError, ValueError):
                continue
    return stage


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


def format_stage(stage: StageProgress, seconds: float) -> str:
    """"building: 7/16 buckets, 60,000 instances at 41,000/s, about 0:00:04 left" (fits 80 columns beside
    a spinner); `seconds` is the stage's time so far."""
    rate = stage.items / seconds if seconds > 0 else 0.0
    text = "%s: %s/%s %s, %s %s at %s/s" % (stage.name, format(stage.units_done, ","), format(stage.units_total, ","),
                                           stage.unit, format(stage.items, ","), stage.item, format(int(rate), ","))
    if stage.units_done >= stage.units_total:
        return text
    if stage.units_done:
        # Units are about the same size (buckets hold about the same bytes of input).
        left = seconds * (stage.units_total - stage.units_done) / stage.units_done
        return text + ", about %s left" % format_duration(left)
    return text + ", time left to come"


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


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def format_progress_line(records: int, elapsed: float) -> str:
    rate = records / elapsed if elapsed > 0 else 0.0
    return "%s records read, %s records/s, %s elapsed" % (format(records, ","), format(int(rate), ","),
                                                         format_duration(elapsed))


class ProgressMonitor:
    """Context manager around a local pipeline run: shows progress, records the throughput timeline.

    `mode` is "rich" (a live line on a terminal), "log" (a plain line every few seconds) or "off"
    (still records the timeline); by default rich when stderr is a terminal, else log.
    """

    def __init__(self, mode: Optional[str] = None, stream=None, poll_seconds: float = 0.5,
                 log_seconds: Optional[float] = None):
        self.stream = stream or sys.stderr
        if mode is None:
            mode = "rich" if getattr(self.stream, "isatty", lambda: False)() else "log"
        self.mode = mode
        self.poll_seconds = poll_seconds
        self.log_seconds = log_seconds if log_seconds is not None else float(
            os.environ.get(LOG_INTERVAL_ENV, DEFAULT_LOG_INTERVAL))
        self.directory = None
        self.samples: List[List[float]] = [[0.0, 0]]
        self.records = 0
        self.stage: Optional[StageProgress] = None
        self._stage_started = 0.0  # seconds into the run when the stage's first work was seen
        self._stage_finished: Optional[float] = None  # ... and when its last unit was
        self._previous_env = None
        self._stop = threading.Event()
        self._thread = None
        self._started = 0.0
        self._started_at = 0.0

    def __enter__(self):
        self.directory = tempfile.mkdtemp(prefix="bertprep-progress-")
        self._previous_env = os.environ.get(PROGRESS_DIR_ENV)
        os.environ[PROGRESS_DIR_ENV] = self.directory
        self._started = time.monotonic()
        self._started_at = time.time()
        self._save_timeline()
        self._thread = threading.Thread(target=self._watch, name="bertprep-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._stop.set()
        self._thread.join()
        if self._previous_env is None:
            os.environ.pop(PROGRESS_DIR_ENV, None)
        else:
            os.environ[PROGRESS_DIR_ENV] = self._previous_env
        shutil.rmtree(self.directory, ignore_errors=True)
        return False

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _sample(self) -> None:
        flush(force=True)  # this process's own readers (in-memory runs read in the launching process)
        self.records = records_read(self.directory)
        self.stage = stage_progress(self.directory)
        if self.stage is None or not self.stage.started:
            self._stage_started = self.elapsed()
        elif self._stage_finished is None and self.stage.units_done >= self.stage.units_total:
            self._stage_finished = self.elapsed()
        self.samples.append([round(self.elapsed(), 3), self.records])
        if len(self.samples) > _MAX_SAMPLES:  # keep the first, thin the rest
            self.samples = self.samples[:1] + self.samples[2::2]
        self._save_timeline()

    def _save_timeline(self) -> None:
        _write_atomically(os.path.join(self.directory, RUN_FILE),
                          json.dumps({"started_at": self._started_at, "samples": self.samples}))

    def _watch(self) -> None:
        if self.mode == "rich":
            self._watch_rich()
            return
        next_log = self.log_seconds
        while not self._stop.wait(self.poll_seconds):
            self._sample()
            if self.mode == "log" and self.elapsed() >= next_log:
                print("bertprep: " + self._line(), file=self.stream, flush=True)
                next_log += self.log_seconds
        self._sample()
        if self.mode == "log" and self.elapsed() >= self.log_seconds:  # short runs stay quiet
            print("bertprep: done: " + self._line(), file=self.stream, flush=True)

    def _line(self) -> str:
        line = format_progress_line(self.records, self.elapsed())
        if self.stage is not None and self.stage.started:
            line += "; " + format_stage(self.stage, self.stage_seconds())
        return line

    def stage_seconds(self) -> float:
        """The long stage's time so far: from its first work seen to its last unit (or now)."""
        end = self._stage_finished if self._stage_finished is not None else self.elapsed()
        return end - self._stage_started

    def _watch_rich(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn

        console = Console(file=self.stream, force_terminal=True)
        columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[text]}"))
        with Progress(*columns, console=console, transient=True) as progress:
            read_task = progress.add_task("bertprep", total=None, text="")
            stage_task = None  # a second line once the long stage has started
            while not self._stop.wait(self.poll_seconds):
                self._sample()
                elapsed = self.elapsed()
                progress.update(read_task, text=format_progress_line(self.records, elapsed))
                if self.stage is not None and self.stage.started:
                    text = format_stage(self.stage, self.stage_seconds())
                    if stage_task is None:
                        stage_task = progress.add_task("", total=None, text=text)
                    else:
                        progress.update(stage_task, text=text)
        self._sample()


# ---------------------------------------------------------------- the summary a job's command ends with

def format_summary(output_dir: str, elapsed: Optional[float] = None, max_files: int = 6) -> str:
    """One screen: what was read, written and dead-lettered, how fast, and the paths written."""
    from apache_beam.io.filesystems import FileSystems

    from bertprep.io import output as output_lib

    directory = output_lib.OutputDirectory(output_dir)
    info = directory.read_info()
    counts = info.get("counts", {})
    lines = []
    headline = "bertprep %s: %s" % (info.get("kind", "job"), "complete" if directory.is_complete() else "INCOMPLETE")
    if elapsed:
        headline += " in %.1f s" % elapsed
        rates = ["%s %s/s" % (format(int(counts[name] / elapsed), ","), label)
                 for name, label in (("read", "read"), ("records_out", "written")) if counts.get(name)]
        if rates:
            headline += " (%s)" % ", ".join(rates)
    lines.append(headline)
    accounting = info.get("accounting") or ["read", "written", "dead_lettered"]
    first = [name for name in accounting if name in counts]
    for name in first + sorted(set(counts) - set(first)):
        value = counts[name]
        lines.append("  %-22s %s" % (name, format(value, ",") if isinstance(value, int) else value))
    reasons = info.get("dead_letters_by_reason") or {}
    for reason, number in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:5]:
        lines.append("    dead letter: %-40s %s" % (reason[:40], format(number, ",")))
    if len(reasons) > 5:
        lines.append("    … %d more reasons (see report.html)" % (len(reasons) - 5))
    lines.append("wrote %s:" % output_dir)
    shards = info.get("shards") or []
    for shard in shards[:max_files]:
        lines.append("  %s  (%s records)" % (shard["file"], format(shard.get("records", 0), ",")))
    if len(shards) > max_files:
        lines.append("  … %d more shards" % (len(shards) - max_files))
    extra = [output_lib.INFO_FILE, "report.html", "report.json", output_lib.COMPLETE_MARKER]
    for name in extra:
        if FileSystems.exists(directory.file(name)):
            lines.append("  %s" % name)
    dead_dir = directory.file(output_lib.DEAD_LETTER_DIR, "*.jsonl*")
    for result in FileSystems.match([dead_dir]):
        for metadata in sorted(result.metadata_list, key=lambda m: m.path):
            if metadata.size_in_bytes:
                lines.append("  %s/%s" % (output_lib.DEAD_LETTER_DIR, metadata.path.rsplit("/", 1)[-1]))
    return "\n".join(lines)


def print_summary(output_dir: str, elapsed: Optional[float] = None, stream=None) -> None:
    print(format_summary(output_dir, elapsed), file=stream or sys.stdout)
