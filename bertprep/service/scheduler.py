"""The scheduler: starts due jobs, one run per job at a time, retries failures, follows dependencies.

Each loop step (`tick`) does three things:
  1. every enabled job with a `schedule` whose next cron time (croniter, in the job's time zone) has
     passed gets one queued run (missed times are coalesced: a scheduler that was down for an hour
     starts one run, not sixty);
  2. queued runs whose `not_before` has come are claimed from the registry, oldest first, up to
     `max_parallel_runs`, never a second run of a job that is already running;
  3. each claimed run executes in a worker thread (the pipeline itself is a subprocess). A failed
     run is queued again after `retry_backoff_seconds * 2**(attempt-1)` until `retries` is used
     up; a succeeded run queues the jobs that depend on it (`after:`) and have no schedule of their own.

Stopping (SIGTERM): no new runs start; running pipelines get `grace_seconds` to finish, after which
they are stopped and marked `interrupted`, and retried like a failed run (the retry waits in the
registry for the next scheduler start). Nothing unfinished is ever published.

Runs are owned by lease (see registry.py): each tick first takes over runs whose owner's lease expired
(a crashed or restarted process, on any host), marking them `interrupted` and queuing their retry, or
`succeeded` when LATEST already names them.

A tick that fails (the registry locked past its busy timeout, a full disk) is logged and retried after
a backoff (`tick_backoff`); the loop never ends on such an error. `health()` reports the loop's real
state for /health: running, stalled (no successful tick for `stall_seconds`), dead (the loop thread
ended without being asked to), stopping or stopped.
"""
import datetime
import logging
import sys
import threading
import time
from typing import Dict, List, Optional
from zoneinfo import ZoneInfo

from croniter import croniter

from bertprep.errors import BertprepError
from bertprep.service.clock import SystemClock
from bertprep.service.jobs_file import JobsConfig, JobSpec
from bertprep.service.run_registry import Registry, RegistryError, iso_time, process_owner
from bertprep.service.recovery import recover_expired_runs
from bertprep.service.run_process import LEASE_SECONDS, Runner, retry_registry

LOG = logging.getLogger("bertprep.scheduler")
MAX_BACKOFF_SECONDS = 6 * 3600
MAX_TICK_BACKOFF_SECONDS = 60.0
MIN_STALL_SECONDS = 120.0


def next_fire_time(schedule: str, timezone: str, after: datetime.datetime) -> datetime.datetime:
    """The first cron time strictly after `after`, computed in the job's time zone (DST-aware).

    When clocks fall back, an hour of wall-clock times happens twice; as with cron, a job fires at the
    first of them only (croniter yields both; the second has `fold=1`)."""
    local = after.astimezone(ZoneInfo(timezone))
    times = croniter(schedule, local)
    while True:
        candidate = times.get_next(datetime.datetime)
        if not candidate.fold:
            return candidate


def retry_delay(spec: JobSpec, attempt: int) -> float:
    return min(MAX_BACKOFF_SECONDS, float(spec.retry_backoff_seconds) * (2 ** max(0, attempt - 1)))


def tick_backoff(poll_seconds: float, failures: int) -> float:
    """The wait after the `failures`-th failed tick in a row: the poll interval, doubling, at most a minute."""
    return min(MAX_TICK_BACKOFF_SECONDS, max(0.05, poll_seconds) * 2 ** min(max(0, failures - 1), 16))


class Scheduler:
    def __init__(self, config: JobsConfig, registry: Optional[Registry] = None, runner: Optional[Runner] = None,
                 clock=None, force: bool = False, env: Optional[dict] = None, secret_env: tuple = (),
                 stall_seconds: Optional[float] = None, lease_seconds: Optional[float] = None):
        self.config = config
        self.clock = clock or SystemClock()
        self.registry = registry or Registry(config.registry)
        self.runner = runner or Runner(self.registry, config.output_root, config.logs, self.clock, env=env,
                                       secret_env=secret_env, lease_seconds=lease_seconds or LEASE_SECONDS)
        self.lease_seconds = self.runner.lease_seconds
        self.stall_seconds = stall_seconds
        self.force = force
        self.owner = process_owner()
        self.max_parallel = config.max_parallel_runs
        self._lock = threading.Lock()
        self._threads: Dict[str, threading.Thread] = {}
        self._active_jobs: Dict[str, str] = {}
        self._interrupt = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._next_fire: Dict[str, datetime.datetime] = {}
        self._loop_thread: Optional[threading.Thread] = None
        # job → (run id, status) of its latest run this scheduler finished ("unrecorded" when the registry
        # could not take the outcome): what `scheduler run --once` reports and exits on.
        self.last_outcomes: Dict[str, tuple] = {}
        self._loop_started = None  # time.monotonic() when the loop began
        self._last_tick_ok = None  # (time.monotonic(), clock time) of the last tick that succeeded
        self._tick_failures = 0  # failed ticks in a row
        self._last_tick_error: Optional[str] = None
        self._poll_seconds = 5.0
        self.start_schedules()

    # --- triggering ----------------------------------------------------------------------------

    def start_schedules(self) -> None:
        now = self.clock.now()
        for spec in self.config.jobs.values():
            if spec.enabled and spec.schedule:
                self._next_fire[spec.name] = next_fire_time(spec.schedule, spec.timezone, now)

    def next_fire_times(self) -> Dict[str, datetime.datetime]:
        return dict(self._next_fire)

    def trigger(self, job: str, trigger: str = "cli", force: bool = False) -> str:
        """Queue a run of `job` now; it starts at the next tick once no other run of the job is running."""
        spec = self.config.job(job)
        return self.registry.enqueue(spec.to_json(), trigger, self.clock.time(), force=force or self.force)

    def _queue_due(self) -> List[str]:
        now = self.clock.now()
        queued = []
        for name, due in sorted(self._next_fire.items()):
            if now < due:
                continue
            spec = self.config.jobs[name]
            # The registry decides which of the schedulers sharing it takes this slot (`cron_slots`).
            slot = due.astimezone(datetime.timezone.utc).isoformat()
            run_id = self.registry.enqueue(spec.to_json(), "schedule", now.timestamp(), force=self.force,
                                           coalesce=True, slot=slot)
            if run_id:
                queued.append(run_id)
            else:
                LOG.info("%s is due (%s) but a run is already queued or another scheduler took the slot; not "
                         "queuing another", name, slot)
            self._next_fire[name] = next_fire_time(spec.schedule, spec.timezone, now)
        return queued

    # --- running -------------------------------------------------------------------------------

    def tick(self) -> List[str]:
        """Queue due scheduled runs and start every queued run that may start; returns started run ids."""
        if self._stop.is_set():
            return []
        self.recover()
        self._queue_due()
        started = []
        while True:
            with self._lock:
                if len(self._threads) >= self.max_parallel or self._stop.is_set():
                    break
                run = self.registry.claim_next(self.clock.time(), self.owner, busy_jobs=list(self._active_jobs),
                                               lease_seconds=self.lease_seconds)
                if run is None:
                    break
                thread = threading.Thread(target=self._run_thread, args=(run,), name="run-" + run["run_id"],
                                          daemon=True)
                self._threads[run["run_id"]] = thread
                self._active_jobs[run["job"]] = run["run_id"]
            thread.start()
            started.append(run["run_id"])
        return started

    def _run_thread(self, run: dict) -> None:
        try:
            try:
                status = self.runner.execute(run, self._interrupt)
            except BertprepError as error:  # the registry stayed unusable through every retry
                LOG.error("run %s of %s: its outcome could not be recorded: %s", run["run_id"], run["job"], error)
                self.last_outcomes[run["job"]] = (run["run_id"], "unrecorded")
                return
            LOG.info("run %s of %s: %s", run["run_id"], run["job"], status)
            self.last_outcomes[run["job"]] = (run["run_id"], status)
            try:
                self._after_run(run, status)
            except BertprepError as error:  # the registry stayed unusable through every retry
                LOG.error("run %s of %s: could not queue its retry or dependent jobs: %s", run["run_id"],
                          run["job"], error)
        finally:
            with self._lock:
                self._threads.pop(run["run_id"], None)
                if self._active_jobs.get(run["job"]) == run["run_id"]:
                    del self._active_jobs[run["job"]]
            self._wake.set()  # a finished run may have queued a retry or a dependent job

    def _after_run(self, run: dict, status: str) -> None:
        if status == "failed" and not self._stop.is_set():
            self._queue_retry(run)
        if status == "interrupted":  # stopped by SIGTERM: retried as a crash would be, after the restart
            retry = self._queue_retry(run)
            if retry:
                LOG.info("run %s was interrupted by the shutdown; queued retry %s", run["run_id"], retry)
        if status == "succeeded":
            self._queue_downstream(run)

    def _queue_downstream(self, run: dict) -> None:
        now = self.clock.time()
        for name in self.config.downstream_of(run["job"]):
            downstream = self.config.jobs[name]
            if downstream.enabled and not downstream.schedule:
                retry_registry(self.registry.enqueue, downstream.to_json(), "after:%s" % run["job"], now,
                               coalesce=True)

    def _queue_retry(self, run: dict) -> Optional[str]:
        """Queue the next attempt of a failed (or crash-interrupted) run while its job's `retries` allow."""
        spec = JobSpec.from_json(run["spec"])
        if run["attempt"] > spec.retries:
            return None
        now = self.clock.time()
        return retry_registry(self.registry.enqueue, run["spec"], "retry", now,
                              not_before=now + retry_delay(spec, run["attempt"]), attempt=run["attempt"] + 1,
                              retry_of=run["run_id"], force=run.get("force", False))

    def active_runs(self) -> Dict[str, str]:
        with self._lock:
            return dict(self._active_jobs)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Join every running run's thread (up to `timeout` seconds); True when none is left."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads.values())
            if not threads:
                return True
            for thread in threads:
                thread.join(None if end is None else max(0.0, end - time.monotonic()))
            if end is not None and time.monotonic() >= end:
                with self._lock:
                    return not self._threads

    def recover(self) -> List[str]:
        """Runs whose owner's lease expired become `interrupted` and are retried as a failure would be
        (or `succeeded`, when LATEST names them, and their dependent jobs are queued)."""
        recovered = recover_expired_runs(self.registry, self.clock, self.owner)
        for run_id in recovered:
            run = self.registry.get(run_id)
            LOG.warning("run %s of %s taken over from %s: %s", run_id, run["job"], run.get("owner"), run["status"])
            if run["status"] == "succeeded":
                self._queue_downstream(run)
                continue
            retry = self._queue_retry(run)
            if retry:
                LOG.info("run %s was interrupted by a crash; queued retry %s", run_id, retry)
        return recovered

    # --- the loop ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def interrupt_now(self) -> None:
        """Stop running pipelines at once (a second SIGTERM); they end `interrupted`."""
        self.request_stop()
        self._interrupt.set()

    def wake(self) -> None:
        """Make the loop tick now (the API calls this after queuing a run)."""
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_forever(self, poll_seconds: float = 5.0, grace_seconds: float = 30.0, once: bool = False) -> None:
        """Tick until `request_stop` (a signal handler calls it); then shut down within the grace time.

        With `once`, start what is due or queued, wait for it (and for what it triggers), and return.
        A tick that raises is logged and retried after `tick_backoff`: one registry error must not end
        the loop while triggers keep being accepted.
        """
        self._loop_thread = threading.current_thread()
        self._loop_started = time.monotonic()
        self._poll_seconds = poll_seconds
        while not self._stop.is_set():
            try:
                started = self.tick()
                finished = once and not started and not self.active_runs() and not self.registry.list(status="queued")
            except Exception as error:  # noqa: BLE001 — any failure of one tick; the next one may succeed
                self._tick_failures += 1
                self._last_tick_error = _one_line(error, with_paths=False)
                wait = tick_backoff(poll_seconds, self._tick_failures)
                LOG.error("scheduler tick failed (%d in a row): %s; retrying in %.1f s", self._tick_failures,
                          _one_line(error), wait)
            else:
                if self._tick_failures:
                    LOG.info("scheduler tick succeeded again after %d failure(s)", self._tick_failures)
                self._tick_failures = 0
                self._last_tick_error = None
                self._last_tick_ok = (time.monotonic(), self.clock.time())
                if finished:
                    break
                wait = poll_seconds if not once else 0.2
            self.clock.wait(wait, self._wake)
            self._wake.clear()
        self.shutdown(grace_seconds)

    def start(self, poll_seconds: float = 5.0, grace_seconds: float = 30.0) -> threading.Thread:
        """Run the loop in a daemon thread (`bertprep serve`); `health()` watches that thread."""
        thread = threading.Thread(target=self.run_forever, name="scheduler",
                                  kwargs={"poll_seconds": poll_seconds, "grace_seconds": grace_seconds}, daemon=True)
        self._loop_thread = thread
        self._loop_started = time.monotonic()
        self._poll_seconds = poll_seconds
        thread.start()
        return thread

    def health(self) -> dict:
        """The loop's real state: {state, healthy, last_tick_at, seconds_since_last_tick, tick_failures, last_error}.

        `stalled`: no tick succeeded for `stall_seconds` (default: ten poll intervals, at least two
        minutes, longer than one tick blocked for the registry's busy timeout plus its backoff).
        """
        thread = self._loop_thread
        now = time.monotonic()
        last = self._last_tick_ok
        since = now - (last[0] if last else (self._loop_started or now))
        stall = self.stall_seconds if self.stall_seconds is not None else max(MIN_STALL_SECONDS,
                                                                              10 * self._poll_seconds)
        if thread is None:
            state = "not started"
        elif not thread.is_alive():
            state = "stopped" if self._stop.is_set() else "dead"
        elif self._stop.is_set():
            state = "stopping"
        elif since > stall:
            state = "stalled"
        else:
            state = "running"
        return {"state": state, "healthy": state in ("running", "stopping"),
                "last_tick_at": iso_time(last[1]) if last else None,
                "seconds_since_last_tick": round(now - last[0], 1) if last else None,
                "tick_failures": self._tick_failures, "last_error": self._last_tick_error}

    def shutdown(self, grace_seconds: float) -> None:
        """Let running pipelines finish for `grace_seconds`, then stop them (they end `interrupted`)."""
        self._stop.set()
        if not self.wait_idle(timeout=max(0.0, grace_seconds)):
            LOG.warning("stopping %d running pipeline(s) after the %.0f s grace period",
                        len(self.active_runs()), grace_seconds)
            self._interrupt.set()
            if not self.wait_idle(timeout=self.runner.kill_grace_seconds + 30.0):
                # The registry will not take the outcomes (locked): stop trying; the runs' leases expire
                # and the next scheduler records them from LATEST or marks them interrupted and retries.
                LOG.error("the outcome of %d run(s) could not be recorded; the next scheduler start takes them "
                          "over", len(self.active_runs()))
                self.runner.abandon.set()
                self.wait_idle(timeout=60.0)


def _one_line(error: BaseException, with_paths: bool = True) -> str:
    """Our errors are one line already; anything else is named by its type. Without paths (for /health,
    which anyone may read): a registry error says what SQLite said, not where the file is."""
    if isinstance(error, RegistryError) and not with_paths:
        return "run registry: %s" % error.reason
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(error, BertprepError):
        return first or type(error).__name__
    return "%s: %s" % (type(error).__name__, first)


def log_to_stderr():
    """The scheduler's log lines (ticks, runs, retries) on stderr, once, whichever command runs the loop."""
    logger = logging.getLogger("bertprep.scheduler")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
