"""Run ownership by lease (issue 29, items 1 and 2): a container restart — a new host name, or the same
host name with `bertprep scheduler` as PID 1 again — never leaves a run `running`; /health is 503 only for
a run whose lease expired and that nobody took over; a registry lock longer than any retry window does
not lose a run's outcome, and a run LATEST names is recorded `succeeded` by whoever takes it over.

The restarts are real: each scheduler runs as PID 1 of a new PID and UTS namespace (`unshare`, as a
container runtime does), and is killed with SIGKILL there, which also kills every process of its
namespace, the pipeline included — what `docker restart` or a rescheduled Kubernetes pod does.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from bertprep.service.api import create_app
from bertprep.service.clock import SystemClock
from bertprep.service.run_registry import Registry
from bertprep.service.run_process import Runner
from service_helpers import fake_job, latest, make_scheduler, wait_for, write_input, write_jobs  # noqa: F401

PAUSING_RETRIED_JOB = """
    counted:
      pipeline: fake-count
      retries: 1
      retry_backoff_seconds: 0
      args: {input: in.txt, pause-flag: pause, ready-file: ready, sleep: 120}
"""


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--uts", "--pid", "--fork", "true"], capture_output=True).returncode == 0


needs_namespaces = pytest.mark.skipif(not _namespaces_work(), reason="needs unshare with PID and UTS namespaces "
                                      "(root)")


def container(hostname: str, args, cwd):
    """`python -m bertprep ARGS` as PID 1 of new PID and UTS namespaces with this host name."""
    script = 'hostname "$0" && exec "$@"'
    return subprocess.Popen(["unshare", "--uts", "--pid", "--fork", "sh", "-c", script, hostname, sys.executable,
                             "-m", "bertprep"] + list(args), cwd=str(cwd), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def container_init_pid(unshare: subprocess.Popen) -> int:
    """The host PID of the namespace's PID 1 (the forked child of `unshare`)."""
    def child():
        try:
            with open("/proc/%d/task/%d/children" % (unshare.pid, unshare.pid)) as handle:
                found = handle.read().split()
        except OSError:
            return None
        return int(found[0]) if found else None
    return wait_for(child, timeout=30, what="the container's PID 1")


def kill_container(unshare: subprocess.Popen) -> str:
    os.kill(container_init_pid(unshare), signal.SIGKILL)
    output, _ = unshare.communicate(timeout=30)
    return output


def processes_naming(text: str):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    if text.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@needs_namespaces
@pytest.mark.parametrize("second_hostname", ["box-a", "box-b"], ids=["same-hostname-pid-1-again", "new-hostname"])
def test_a_container_restart_takes_over_the_killed_run_and_retries_it(tmp_path, fake_job, monkeypatch,
                                                                      second_hostname):
    monkeypatch.setenv("BERTPREP_LEASE_SECONDS", "1")
    write_input(tmp_path, ["line %d" % index for index in range(8)])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, PAUSING_RETRIED_JOB)
    loop = ["scheduler", "run", "--jobs", str(jobs), "--poll-seconds", "0.2"]
    first = container("box-a", loop + ["--trigger", "counted"], tmp_path)
    try:
        wait_for(lambda: (tmp_path / "ready").exists(), timeout=90, what="the pipeline to pause")
    finally:
        output = kill_container(first)
    registry = Registry(str(tmp_path / "bertprep-runs.sqlite"))
    (killed,) = registry.list(job="counted")
    assert killed["status"] == "running", output
    owner = killed["owner"].split(":")
    assert owner[0] == "box-a" and "1" in owner[1:]  # the owner was PID 1 of its container
    assert processes_naming(killed["run_id"]) == []  # the pipeline died with its container
    (tmp_path / "pause").unlink()

    second = container(second_hostname, loop, tmp_path)
    try:
        done = wait_for(lambda: [run for run in registry.list(job="counted") if run["status"] == "succeeded"],
                        timeout=60, what="the restarted scheduler to take the run over and retry it")
    finally:
        output = kill_container(second)
    (retry,) = done
    taken = registry.get(killed["run_id"])
    assert taken["status"] == "interrupted", output
    assert "stopped renewing its lease" in taken["error"] and "nothing was published" in taken["error"]
    assert retry["retry_of"] == killed["run_id"] and retry["attempt"] == 2
    assert retry["owner"].startswith(second_hostname + ":") and retry["owner"].split(":")[2] == "1"
    assert latest(tmp_path / "out", "counted") == retry["run_id"]


def _running_run(registry: Registry, tmp_path, lease_expires: float, owner: str = "gone-host:4026531836:1:dead0000"):
    from bertprep.service.jobs_file import load_jobs_file

    config = load_jobs_file(str(write_jobs(tmp_path, "    counted:\n      pipeline: fake-count\n"
                                                     "      args: {input: in.txt}\n")))
    run_id = registry.enqueue(config.jobs["counted"].to_json(), "api", time.time())
    registry.claim(run_id, time.time(), owner)
    registry.update(run_id, lease_expires=lease_expires)
    return config, run_id


def test_health_is_503_only_for_a_run_whose_lease_expired_without_a_takeover(tmp_path, fake_job):
    registry = Registry(str(tmp_path / "bertprep-runs.sqlite"))
    config, run_id = _running_run(registry, tmp_path, lease_expires=time.time() + 3600)
    api = TestClient(create_app(config, registry=registry, stuck_after_seconds=1.0))
    long_run = api.get("/health")  # a long legitimate run renews its lease: healthy
    assert long_run.status_code == 200 and long_run.json()["stuck_runs"] == []

    registry.update(run_id, lease_expires=time.time() - 0.5)  # expired, still within the takeover time
    assert api.get("/health").status_code == 200
    registry.update(run_id, lease_expires=time.time() - 5)  # nobody took it over
    stuck = api.get("/health")
    assert stuck.status_code == 503 and stuck.json()["stuck_runs"] == [run_id]
    assert stuck.json()["status"] == "unhealthy"


def test_a_published_run_whose_owner_died_is_recorded_succeeded(tmp_path, fake_job):
    write_input(tmp_path, ["a", "b"])
    scheduler = make_scheduler(write_jobs(tmp_path, "    counted:\n      pipeline: fake-count\n"
                                                    "      args: {input: in.txt}\n"), clock=SystemClock())
    run_id = scheduler.trigger("counted")
    scheduler.tick()
    assert scheduler.wait_idle(60)
    assert latest(tmp_path / "out", "counted") == run_id
    # The owner published LATEST and died before recording the outcome (another host, lease run out).
    scheduler.registry.update(run_id, status="running", ended_at=None, counters=None, published=0,
                              owner="gone-host:4026531836:1:dead0000", lease_expires=time.time() - 1)
    assert scheduler.recover() == [run_id]
    run = scheduler.registry.get(run_id)
    assert run["status"] == "succeeded" and run["published"] and run["counters"]["read"] == 2
    assert "LATEST names this run" in run["error"]
    assert scheduler.registry.list(status="queued") == []  # no retry of a published run


def test_a_registry_lock_longer_than_the_retry_window_does_not_lose_the_outcome(tmp_path, fake_job):
    write_input(tmp_path, ["line %d" % index for index in range(6)])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          args: {input: in.txt, pause-flag: pause, ready-file: ready, sleep: 60}
    """)
    registry_path = tmp_path / "bertprep-runs.sqlite"
    registry = Registry(str(registry_path), busy_timeout_seconds=0.2)
    scheduler = make_scheduler(jobs, clock=SystemClock(), registry=registry)
    # Recording used to give up after this window (10 minutes in production) and leave the run `running`.
    scheduler.runner = Runner(registry, scheduler.config.output_root, scheduler.config.logs, scheduler.clock,
                              record_retry_seconds=1.0)
    run_id = scheduler.trigger("counted")
    assert scheduler.tick() == [run_id]
    wait_for(lambda: (tmp_path / "ready").exists(), timeout=60, what="the pipeline to pause")
    locker = sqlite3.connect(str(registry_path), isolation_level=None)  # another connection's write lock
    locker.execute("BEGIN EXCLUSIVE")
    try:
        (tmp_path / "pause").unlink()
        wait_for(lambda: latest(tmp_path / "out", "counted") == run_id, timeout=60, what="LATEST to move")
        time.sleep(2.5)  # the lock outlasts the busy timeout plus the whole retry window
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert scheduler.wait_idle(60)
    run = registry.get(run_id)
    assert run["status"] == "succeeded" and run["published"]
    assert scheduler.last_outcomes["counted"] == (run_id, "succeeded")


def test_a_run_taken_over_by_another_scheduler_is_stopped_and_its_record_left_alone(tmp_path, fake_job):
    write_input(tmp_path, ["line %d" % index for index in range(6)])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          retries: 1
          retry_backoff_seconds: 60
          args: {input: in.txt, pause-flag: pause, ready-file: ready, sleep: 60}
    """)
    scheduler = make_scheduler(jobs, clock=SystemClock(), lease_seconds=0.4)
    run_id = scheduler.trigger("counted")
    assert scheduler.tick() == [run_id]
    wait_for(lambda: (tmp_path / "ready").exists(), timeout=60, what="the pipeline to pause")
    # Another scheduler found the lease expired (say, after a lock longer than the lease) and took over.
    other = Registry(str(tmp_path / "bertprep-runs.sqlite"))
    assert other.take_over(other.get(run_id), "interrupted", time.time(), error="taken over by the test")
    assert scheduler.wait_idle(30)  # the heartbeat saw it and stopped the pipeline
    run = other.get(run_id)
    assert run["status"] == "interrupted" and run["error"] == "taken over by the test"
    assert processes_naming(run_id) == [] and latest(tmp_path / "out", "counted") is None
    assert scheduler.registry.list(status="queued") == []  # the taker queues the retry, not the loser
