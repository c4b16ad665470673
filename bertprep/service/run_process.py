"""One run of a job: resolve its arguments, skip it if nothing changed, run the pipeline, publish.

The pipeline runs in its own process (`python -m bertprep <pipeline> ... --output
<output_root>/<job>/<run_id>/`), in its own session so a signal to the scheduler does not reach it
by accident. The run succeeds only when the process exits 0 *and* its output carries the
completion marker; only then is `<output_root>/<job>/LATEST` replaced to name the run (`publish_latest`:
a temporary pointer renamed over it, so a reader never finds it missing). A killed, failed or
interrupted run never moves LATEST.

While a run lives, a heartbeat thread renews its lease in the registry (`lease_seconds`); a run whose
owner died stops being renewed and is taken over by whichever scheduler sees the lease expired
(`recovery.py`): `succeeded` if LATEST already names it (the owner died between publishing and
recording), else `interrupted`, and then retried like a failed run. The final state is written with
retries until it lands (`Runner._finish`); should the process die first, that recovery records it.

The pipeline's own publish gates (no record written, too many dead letters) make it exit non-zero
without a marker, so such a run ends `failed` with the pipeline's one-line reason.

The pipeline's environment is the service's without the API token (`secret_env`): a pipeline has no
business triggering runs. Registry writes that record a run's progress are retried through a lock
(`retry_registry`), so a registry locked for a while does not lose a run's outcome.
"""
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from typing import Iterable, Optional

from bertprep.errors import BertprepError, StorageUnavailable
from bertprep.io import fs
from bertprep.service import catalog, fingerprint
from bertprep.service.jobs_file import JobSpec, resolve_placeholders
from bertprep.service.run_registry import Registry, RegistryError

LOG = logging.getLogger("bertprep.scheduler")
LATEST = "LATEST"
POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 10.0
ERROR_PREFIX = "bertprep: error:"
API_TOKEN_ENV = "BERTPREP_API_TOKEN"
RECORD_RETRY_SECONDS = 600.0
TAKEN_OVER = "taken over"  # what execute() returns for a run another scheduler took over (not a registry status)
LEASE_SECONDS = 60.0  # a run's owner renews its lease every quarter of this; a dead owner's run waits this long


def retry_registry(operation, *args, retry_seconds: Optional[float] = RECORD_RETRY_SECONDS,
                   give_up: Optional[threading.Event] = None, **kwargs):
    """Call a registry operation, retrying RegistryError (each try already waits the busy timeout) with a
    growing pause for up to `retry_seconds` (None: until it lands or `give_up` is set); the last error is
    raised when that time is spent."""
    pause = 0.5
    started = time.monotonic()
    while True:
        try:
            return operation(*args, **kwargs)
        except RegistryError as error:
            waited = time.monotonic() - started
            if (retry_seconds is not None and waited + pause > retry_seconds) or (give_up and give_up.is_set()):
                raise
            LOG.warning("%s; retrying in %.1f s (%.0f s so far)", error, pause, waited)
            if give_up is not None:
                give_up.wait(pause)
            else:
                time.sleep(pause)
            pause = min(pause * 2, 10.0)


def pipeline_environment(base: Optional[dict], secret_env: Iterable[str] = ()) -> dict:
    """The environment a pipeline subprocess gets: the service's, without the API token variables."""
    environment = dict(os.environ if base is None else base)
    for name in {API_TOKEN_ENV, *secret_env}:
        environment.pop(name, None)
    return environment


def latest_path(output_root: str, job: str) -> str:
    return fs.join(output_root, job, LATEST)


def read_latest(output_root: str, job: str) -> Optional[str]:
    """The run id LATEST names for `job`, or None before its first successful run."""
    path = latest_path(output_root, job)
    if not fs.exists(path):
        return None
    if not fs.is_remote(path) and fs.is_dir(path):
        raise BertprepError("%s is a directory, not a LATEST pointer; move it away" % path)
    return fs.read_text(path, "LATEST pointer").strip() or None


def latest_output(output_root: str, job: str) -> Optional[str]:
    run_id = read_latest(output_root, job)
    return fs.join(output_root, job, run_id) if run_id else None


def publish_latest(output_root: str, job: str, run_id: str) -> None:
    """Point LATEST at `run_id` so that a reader never finds it missing, not even for a moment: locally a
    temporary pointer beside it, fsynced, renamed over it (rename(2) replaces atomically); on an object
    store one single-object write (readers see the old object or the new one). Every LATEST write goes
    through here. A directory named LATEST is refused, not deleted: it is not ours."""
    path = latest_path(output_root, job)
    data = (run_id + "\n").encode("utf-8")
    if fs.is_remote(path):
        try:
            with fs.open_write(path) as handle:
                handle.write(data)
        except OSError as error:
            raise BertprepError("cannot write %s: %s" % (path, error)) from None
        return
    if os.path.isdir(path):
        raise BertprepError("%s is a directory, not a LATEST pointer; move it away (nothing was published)" % path)
    temporary = "%s.tmp-%d-%s" % (path, os.getpid(), threading.get_ident())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise BertprepError("cannot write %s: %s" % (path, error.strerror or error)) from None


def is_complete(output_path: str) -> bool:
    from bertprep.io import output as output_lib

    return output_lib.OutputDirectory(output_path).is_complete()


def read_info(output_path: str) -> dict:
    from bertprep.io import output as output_lib

    try:
        return output_lib.OutputDirectory(output_path).read_info()
    except StorageUnavailable:  # not "no info.json": the store cannot be asked (no credentials, no network)
        raise
    except BertprepError:
        return {}


def read_report(output_path: str) -> Optional[dict]:
    """report.json (issue 8) when the run wrote one, else the stats info.json carries."""
    from bertprep.io import output as output_lib

    report_path = fs.join(output_path, "report.json")
    try:
        return output_lib.read_json(report_path)
    except StorageUnavailable:
        raise
    except BertprepError:
        info = read_info(output_path)
        if not info:
            return None
        return {"kind": info.get("kind"), "counts": info.get("counts"), "stats": info.get("stats", {}),
                "dead_letters_by_reason": info.get("dead_letters_by_reason", {}), "source": "info.json"}


def output_root_of(run: dict) -> Optional[str]:
    """The output root a run wrote under (<root>/<job>/<run_id>), or its job's root before it started."""
    if run.get("output_path"):
        return run["output_path"].rstrip("/").rsplit("/", 2)[0]
    return (run.get("spec") or {}).get("output_root") or None


def is_published(run: dict) -> bool:
    """True while LATEST names this run."""
    root = output_root_of(run)
    return bool(root) and read_latest(root, run["job"]) == run["run_id"]


def counters_from_info(info: dict) -> dict:
    counters = dict(info.get("counts") or {})
    if info.get("dead_letters_by_reason"):
        counters["dead_letters_by_reason"] = info["dead_letters_by_reason"]
    return counters


class Runner:
    """Executes claimed runs; one Runner serves many threads (it holds no per-run state)."""

    def __init__(self, registry: Registry, output_root: str, logs_dir: str, clock, env: Optional[dict] = None,
                 kill_grace_seconds: float = KILL_GRACE_SECONDS, secret_env: Iterable[str] = (),
                 record_retry_seconds: float = RECORD_RETRY_SECONDS, lease_seconds: float = LEASE_SECONDS):
        self.registry = registry
        self.lease_seconds = lease_seconds
        # Set when this process gives up on recording outcomes (shutdown with the registry locked): the
        # runs' leases then expire and the next scheduler records them from LATEST (recovery.py).
        self.abandon = threading.Event()
        self.output_root = output_root
        self.logs_dir = logs_dir
        self.clock = clock
        self.env = env
        self.secret_env = tuple(secret_env)
        self.kill_grace_seconds = kill_grace_seconds
        self.record_retry_seconds = record_retry_seconds

    def _record(self, operation, *args, **kwargs):
        return retry_registry(operation, *args, retry_seconds=self.record_retry_seconds, **kwargs)

    def _finish(self, run_id: str, status: str, **fields) -> str:
        """Record the final state, retrying through any lock until it lands: a run whose output is
        published must not stay `running` (`abandon` ends the retries; recovery takes over then)."""
        retry_registry(self.registry.finish, run_id, status, self.clock.time(), retry_seconds=None,
                       give_up=self.abandon, **fields)
        return status

    def execute(self, run: dict, interrupt: Optional[threading.Event] = None) -> str:
        """Run a claimed (status running) run to its end; returns the final status."""
        interrupt = interrupt or threading.Event()
        done = threading.Event()
        lost = threading.Event()  # another scheduler took the run over: its record is no longer ours
        if run.get("lease_expires") is not None:
            threading.Thread(target=self._heartbeat, args=(run, done, lost), name="lease-" + run["run_id"],
                             daemon=True).start()
        try:
            try:
                return self._execute(run, interrupt, lost)
            except BertprepError as error:
                return self._finish(run["run_id"], "failed", error=str(error))
            except Exception as error:  # the registry must never be left saying `running`
                return self._finish(run["run_id"], "failed", error="%s: %s" % (type(error).__name__, error))
        finally:
            done.set()

    def _heartbeat(self, run: dict, done: threading.Event, lost: threading.Event) -> None:
        """Renew the run's lease every quarter lease while it lives; a failed renewal (a locked registry)
        is tried again at the next beat. When the run is no longer ours (its lease ran out during a long
        lock and another scheduler took it over and queued its retry), `lost` stops the pipeline: two runs
        of a job never overlap, and the taker's record stands."""
        interval = max(0.05, self.lease_seconds / 4.0)
        while not done.wait(interval):
            try:
                if not self.registry.renew_lease(run["run_id"], run["owner"], self.clock.time() + self.lease_seconds):
                    if not done.is_set():
                        LOG.error("run %s: taken over by another scheduler (its lease expired); stopping its "
                                  "pipeline", run["run_id"])
                        lost.set()
                    return
            except RegistryError as error:
                LOG.warning("run %s: lease not renewed: %s", run["run_id"], error)

    def _execute(self, run: dict, interrupt: threading.Event, lost: threading.Event) -> str:
        run_id = run["run_id"]
        spec = JobSpec.from_json(run["spec"])
        output_root = spec.output_root or self.output_root
        upstream = {job: latest_output(spec.after_roots.get(job) or self.output_root, job) for job in spec.after}
        waiting = sorted(job for job, path in upstream.items() if path is None)
        if waiting:
            return self._finish(run_id, "skipped",
                                error="upstream job(s) %s have no successful output yet" % ", ".join(waiting))
        args, missing = resolve_placeholders(spec.args, upstream)
        if missing:
            raise BertprepError("cannot resolve ${...} for %s" % ", ".join(missing))
        parameters = {"pipeline": spec.pipeline, "args": args, "runner_options": spec.runner_options}
        parameters_hash = fingerprint.fingerprint_hash(parameters)
        inputs = fingerprint.fingerprint(fingerprint.input_patterns(args, spec.inputs, spec.workdir), spec.content_hash)
        inputs["upstream_runs"] = {job: path.rstrip("/").rsplit("/", 1)[-1] for job, path in upstream.items()}
        inputs["tool"] = fingerprint.tool_fingerprint(spec.pipeline)  # an upgrade or a fix reruns
        inputs_hash = fingerprint.fingerprint_hash(inputs)
        self._record(self.registry.update, run_id, parameters=parameters, parameters_hash=parameters_hash,
                     input_fingerprint=inputs, fingerprint_hash=inputs_hash)
        if not run.get("force"):
            last = self._record(self.registry.last_succeeded, spec.name)
            if last and last["parameters_hash"] == parameters_hash and last["fingerprint_hash"] == inputs_hash:
                return self._finish(run_id, "skipped",
                                    error="inputs and parameters unchanged since run %s" % last["run_id"])
        if interrupt.is_set():
            return self._finish(run_id, "interrupted", error="shutdown before the run started")
        output_path = fs.join(output_root, spec.name, run_id)
        argv = (catalog.command_prefix() + [spec.pipeline]
                + catalog.args_to_argv(spec.pipeline, args)
                + ["--output", output_path] + catalog.beam_options_to_argv(spec.runner_options))
        parameters["argv"] = argv
        log_path = os.path.join(self.logs_dir, spec.name, run_id + ".log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self._record(self.registry.update, run_id, parameters=parameters, output_path=output_path,
                     log_path=log_path)
        status, error = self._run_process(run_id, argv, log_path, spec.timeout_seconds, interrupt, spec.workdir,
                                          lost)
        if lost.is_set():  # the run was taken over: its record (interrupted, retry queued) is the taker's
            return TAKEN_OVER
        if status != "succeeded":
            return self._finish(run_id, status, error=error)
        if not is_complete(output_path):
            return self._finish(run_id, "failed",
                                error="the pipeline exited 0 but %s has no completion marker" % output_path)
        counters = counters_from_info(read_info(output_path))
        publish_latest(output_root, spec.name, run_id)
        return self._finish(run_id, "succeeded", counters=counters, published=1)

    def _run_process(self, run_id: str, argv, log_path: str, timeout: Optional[float],
                     interrupt: threading.Event, workdir: str, lost: Optional[threading.Event] = None):
        started = time.monotonic()
        with open(log_path, "ab") as log:
            log.write(("$ %s\n" % " ".join(argv)).encode("utf-8"))
            log.flush()
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=pipeline_environment(self.env, self.secret_env),
                                       cwd=workdir if os.path.isdir(workdir) else None, start_new_session=True)
            try:  # the pid only helps recovery after a crash: never let recording it abandon a running pipeline
                self.registry.update(run_id, pid=process.pid)
            except RegistryError as error:
                LOG.warning("run %s: pid %d not recorded: %s", run_id, process.pid, error)
            reason = None
            while process.poll() is None:
                if interrupt.is_set() or (lost is not None and lost.is_set()):
                    reason = "interrupted"
                elif timeout and time.monotonic() - started > timeout:
                    reason = "timeout"
                if reason:
                    stop_process_group(process, self.kill_grace_seconds)
                    break
                time.sleep(POLL_SECONDS)
        code = process.wait()
        if reason == "interrupted":
            return "interrupted", "stopped by scheduler shutdown (exit status %s); nothing was published" % code
        if reason == "timeout":
            return "failed", "timed out after %s s" % timeout
        if code == 0:
            return "succeeded", None
        if code < 0:
            return "failed", "the pipeline was killed by signal %d (%s)" % (-code, _signal_name(-code))
        return "failed", "%s (exit status %d)" % (error_from_log(log_path), code)


def stop_process_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the pipeline's process group (it has its own session), then SIGKILL after `grace`."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


def error_from_log(log_path: str, max_chars: int = 2000) -> str:
    """The CLI's one-line `bertprep: error:` message if there is one, else the log's last lines."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no log)"
    for line in reversed(lines):
        if line.startswith(ERROR_PREFIX):
            return line[len(ERROR_PREFIX):].strip()
    tail = [line for line in lines if line.strip() and not line.startswith("$ ")][-5:]
    return "\n".join(tail)[-max_chars:] or "(empty log)"
