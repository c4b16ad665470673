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
they are stopped and marked `interrupted`. Nothing unfinished is ever published.
"""
import datetime
import logging
import threading
import time
from typing import Dict, List, Optional
from zoneinfo import ZoneInfo

from croniter import croniter

from bertprep.service.clock import SystemClock
from bertprep.service.jobs_file import JobsConfig, JobSpec
from bertprep.service.registry import Registry, process_owner
from bertprep.service.runner import Runner, recover_stale_runs

LOG = logging.getLogger("bertprep.scheduler")
MAX_BACKOFF_SECONDS = 6 * 3600


def next_fire_time(schedule: str, timezone: str, after: datetime.datetime) -> datetime.datetime:
    """The first cron time strictly after `after`, computed in the job's time zone (DST-aware)."""
    local = after.astimezone(ZoneInfo(timezone))
    return croniter(schedule, local).get_next(datetime.datetime)


def retry_delay(spec: JobSpec, attempt: int) -> float:
    return min(MAX_BACKOFF_SECONDS, float(spec.retry_backoff_seconds) * (2 ** max(0, attempt - 1)))


class Scheduler:
    def __init__(self, config: JobsConfig, registry: Optional[Registry] = None, runner: Optional[Runner] = None,
                 clock=None, force: bool = False, env: Optional[dict] = None):
        self.config = config
        self.clock = clock or SystemClock()
        self.registry = registry or Registry(config.registry)
        self.runner = runner or Runner(self.registry, config.output_root, config.logs, self.clock, env=env)
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
            run_id = self.registry.enqueue(spec.to_json(), "schedule", now.timestamp(), force=self.force,
                                           coalesce=True)
            if run_id:
                queued.append(run_id)
            else:
                LOG.info("%s is due but a run is already queued; not queuing another", name)
            self._next_fire[name] = next_fire_time(spec.schedule, spec.timezone, now)
        return queued

    # --- running -------------------------------------------------------------------------------

    def tick(self) -> List[str]:
        """Queue due scheduled runs and start every queued run that may start; returns started run ids."""
        if self._stop.is_set():
            return []
        self._queue_due()
        started = []
        while True:
            with self._lock:
                if len(self._threads) >= self.max_parallel or self._stop.is_set():
                    break
                run = self.registry.claim_next(self.clock.time(), self.owner, busy_jobs=list(self._active_jobs))
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
            status = self.runner.execute(run, self._interrupt)
            LOG.info("run %s of %s: %s", run["run_id"], run["job"], status)
            self._after_run(run, status)
        finally:
            with self._lock:
                self._threads.pop(run["run_id"], None)
                if self._active_jobs.get(run["job"]) == run["run_id"]:
                    del self._active_jobs[run["job"]]
            self._wake.set()  # a finished run may have queued a retry or a dependent job

    def _after_run(self, run: dict, status: str) -> None:
        spec = JobSpec.from_json(run["spec"])
        now = self.clock.time()
        if status == "failed" and run["attempt"] <= spec.retries and not self._stop.is_set():
            delay = retry_delay(spec, run["attempt"])
            self.registry.enqueue(run["spec"], "retry", now, not_before=now + delay, attempt=run["attempt"] + 1,
                                  retry_of=run["run_id"], force=run.get("force", False))
        if status == "succeeded":
            for name in self.config.downstream_of(run["job"]):
                downstream = self.config.jobs[name]
                if downstream.enabled and not downstream.schedule:
                    self.registry.enqueue(downstream.to_json(), "after:%s" % run["job"], now, coalesce=True)

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
        return recover_stale_runs(self.registry, self.clock)

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
        """
        self.recover()
        while not self._stop.is_set():
            started = self.tick()
            if once and not started and not self.active_runs() and not self.registry.list(status="queued"):
                break
            self.clock.wait(poll_seconds if not once else 0.2, self._wake)
            self._wake.clear()
        self.shutdown(grace_seconds)

    def shutdown(self, grace_seconds: float) -> None:
        """Let running pipelines finish for `grace_seconds`, then stop them (they end `interrupted`)."""
        self._stop.set()
        if not self.wait_idle(timeout=max(0.0, grace_seconds)):
            LOG.warning("stopping %d running pipeline(s) after the %.0f s grace period",
                        len(self.active_runs()), grace_seconds)
            self._interrupt.set()
            self.wait_idle()
