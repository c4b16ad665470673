"""The live progress display of a local run, in the launching process (rich on a terminal, plain log
lines otherwise).

The job's steps publish their counts as small files (bertprep.progress); a monitor thread sums
them: the records read, then the running stage after the reading, or beside it a stage that counts items
(pre-training's build: units done, the items and their rate, the time left). It also keeps a timeline of
(seconds, records) samples that the run report plots as throughput.
"""
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

from bertprep.progress import (COUNT_PREFIX, PROGRESS_DIR_ENV, RUN_FILE, STAGE_PREFIX, flush, flush_stages,
                                       write_atomically)

# Seconds between plain log lines when stderr is not a terminal (tests set it lower).
LOG_INTERVAL_ENV = "BERTPREP_PROGRESS_LOG_SECONDS"
DEFAULT_LOG_INTERVAL = 10.0
_MAX_SAMPLES = 600


def records_read(directory: str) -> int:
    """Sum of the totals every process has published in `directory`."""
    total = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if name.startswith(COUNT_PREFIX) and not name.endswith(".tmp"):
            try:
                with open(os.path.join(directory, name)) as handle:
                    total += int(handle.read().strip() or 0)
            except (OSError, ValueError):
                continue
    return total


def stages_progress(directory: str) -> Dict[str, dict]:
    """Every process's stages summed: {stage: {"done", "total", "unit", "started", "finished"}}, where
    a stage is finished once every process that entered it has left it."""
    merged: Dict[str, dict] = {}
    try:
        names = os.listdir(directory)
    except OSError:
        return merged
    for name in names:
        if not name.startswith(STAGE_PREFIX) or name.endswith(".tmp"):
            continue
        try:
            with open(os.path.join(directory, name)) as handle:
                stages = json.load(handle)
        except (OSError, ValueError):
            continue
        for stage_name, state in stages.items():
            total = merged.setdefault(stage_name, {"done": 0, "total": None, "unit": state.get("unit", "items"),
                                                   "started": state["started"], "finished": state["finished"],
                                                   "items": 0})
            total["done"] += int(state.get("done") or 0)
            total["items"] += int(state.get("items") or 0)
            if state.get("item"):
                total["item"] = state["item"]
            if state.get("total") is not None:
                total["total"] = max(total["total"] or 0, int(state["total"]))
            total["started"] = min(total["started"], state["started"])
            if state.get("finished") is None or total["finished"] is None:
                total["finished"] = None
            else:
                total["finished"] = max(total["finished"], state["finished"])
    return merged


def current_stage(stages: Dict[str, dict]) -> Optional[tuple]:
    """(name, state) of the stage to show after the reading: the latest started that is still running
    (a stage counting items is shown beside the reading instead), else None."""
    running = [(state["started"], name) for name, state in stages.items() if state.get("finished") is None
               and not state.get("item") and not (state.get("total") and state["done"] >= state["total"])]
    if not running:
        return None
    name = max(running)[1]
    return name, stages[name]


def format_stage_line(name: str, state: dict, now: Optional[float] = None) -> str:
    """"ranking candidates: 3,200 of 7,346 characters (44%), 21 characters/s, about 0:03:27 left"."""
    now = time.time() if now is None else now
    seconds = max(0.0, now - state["started"])
    done, total, unit = state.get("done") or 0, state.get("total"), state.get("unit", "items")
    if not done:
        what = "%s %s" % (format(total, ","), unit) if total else ""
        return "%s%s, running for %s" % (name, " (%s)" % what if what else "", format_duration(seconds))
    rate = done / seconds if seconds > 0 else 0.0
    line = "%s: %s" % (name, format(done, ","))
    if total:
        line += " of %s %s (%d%%)" % (format(total, ","), unit, 100 * done // total)
    else:
        line += " " + unit
    line += ", %s %s/s" % (format(rate, ",.0f"), unit)
    if total and rate > 0 and done < total:
        line += ", about %s left" % format_duration((total - done) / rate)
    return line


def item_stage(stages: Dict[str, dict]) -> Optional[tuple]:
    """(name, state) of the stage that counts items beside the reading (pre-training's build), once it
    has started; None before."""
    for name, state in sorted(stages.items(), key=lambda item: item[1]["started"]):
        if state.get("item") and (state["done"] or state.get("items")):
            return name, state
    return None


def format_item_stage(name: str, state: dict, seconds: float) -> str:
    """"building: 7/16 buckets, 60,000 instances at 41,000/s, about 0:00:04 left" (fits 80 columns beside
    a spinner); `seconds` is the stage's time so far."""
    done, total, items = state["done"], state.get("total") or 0, state.get("items") or 0
    rate = items / seconds if seconds > 0 else 0.0
    text = "%s: %s/%s %s, %s %s at %s/s" % (name, format(done, ","), format(total, ","), state.get("unit", "items"),
                                           format(items, ","), state["item"], format(int(rate), ","))
    if done >= total:
        return text
    if done:
        # Units are about the same size (buckets hold about the same bytes of input).
        left = seconds * (total - done) / done
        return text + ", about %s left" % format_duration(left)
    return text + ", time left to come"


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
        self.stage: Optional[tuple] = None  # (name, state) of a stage running after the reading, if any
        self.build: Optional[tuple] = None  # (name, state) of the stage counting items (pre-training's build)
        self._build_started = 0.0  # seconds into the run when the build stage's first work was seen
        self._build_finished: Optional[float] = None  # ... and when its last unit was
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
        flush_stages(force=True)
        self.records = records_read(self.directory)
        stages = stages_progress(self.directory)
        self.stage = current_stage(stages)
        self.build = item_stage(stages)
        if self.build is None:
            self._build_started = self.elapsed()
        elif self._build_finished is None and self.build[1]["done"] >= (self.build[1].get("total") or 0):
            self._build_finished = self.elapsed()
        self.samples.append([round(self.elapsed(), 3), self.records])
        if len(self.samples) > _MAX_SAMPLES:  # keep the first, thin the rest
            self.samples = self.samples[:1] + self.samples[2::2]
        self._save_timeline()

    def _save_timeline(self) -> None:
        write_atomically(os.path.join(self.directory, RUN_FILE),
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
        """The records-read line (with the build stage once it has started), or the running stage's with
        the elapsed time once reading is over."""
        if self.stage is not None:
            return "%s, %s elapsed" % (format_stage_line(*self.stage), format_duration(self.elapsed()))
        line = format_progress_line(self.records, self.elapsed())
        if self.build is not None:
            line += "; " + format_item_stage(*self.build, self.build_seconds())
        return line

    def build_seconds(self) -> float:
        """The build stage's time so far: from its first work seen to its last unit (or now)."""
        end = self._build_finished if self._build_finished is not None else self.elapsed()
        return end - self._build_started

    def _watch_rich(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream, force_terminal=True)
        # The first line: records read, or the running stage once reading is over; a second line shows
        # pre-training's build stage once it has started.
        columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[text]}"),
                   TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            read_task = progress.add_task("bertprep", total=None, text="")
            build_task = None
            while not self._stop.wait(self.poll_seconds):
                self._sample()
                elapsed = self.elapsed()
                if self.stage is None:
                    text = "%s records read, %s records/s" % (
                        format(self.records, ","), format(int(self.records / elapsed if elapsed else 0), ","))
                else:
                    text = format_stage_line(*self.stage)
                progress.update(read_task, completed=self.records, text=text)
                if self.build is not None:
                    text = format_item_stage(*self.build, self.build_seconds())
                    if build_task is None:
                        build_task = progress.add_task("", total=None, text=text)
                    else:
                        progress.update(build_task, text=text)
        self._sample()
