"""Killed and stopped runs: SIGKILL mid-write never moves LATEST; SIGTERM publishes nothing partial."""
import os
import signal

import pytest

from bertprep.errors import BertprepError
from bertprep.commands.inspect import inspect_directory
from bertprep.service.clock import SystemClock
from bertprep.service.run_registry import Registry
from service_helpers import (bertprep_process, fake_job, latest, make_scheduler, tick_and_wait,  # noqa: F401
                             wait_for, write_input, write_jobs)

PAUSING_JOB = """
    counted:
      pipeline: fake-count
      args: {input: in.txt, pause-flag: pause, ready-file: ready, sleep: %s}
"""


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def ready_pid(tmp_path) -> int:
    ready = tmp_path / "ready"
    return int(wait_for(lambda: ready.exists() and ready.read_text(), timeout=90, what="the pipeline to pause"))


def run_dir_state(tmp_path, run_id):
    directory = tmp_path / "out" / "counted" / run_id
    names = sorted(path.name for path in directory.iterdir())
    return directory, names


def test_sigkill_mid_write_never_moves_latest_and_the_next_run_publishes(tmp_path, fake_job):
    write_input(tmp_path, ["first %d" % index for index in range(6)])
    jobs = write_jobs(tmp_path, PAUSING_JOB % 60)
    scheduler = make_scheduler(jobs)
    scheduler.trigger("counted")
    tick_and_wait(scheduler)
    published = latest(tmp_path / "out", "counted")
    assert published is not None

    write_input(tmp_path, ["second %d" % index for index in range(20)])
    (tmp_path / "pause").write_text("")
    killed_id = scheduler.trigger("counted")
    assert scheduler.tick() == [killed_id]
    pid = ready_pid(tmp_path)
    assert scheduler.registry.get(killed_id)["pid"] == pid
    directory, names = run_dir_state(tmp_path, killed_id)
    assert any(".tmp-" in name for name in names), names  # a shard is half-written right now
    os.kill(pid, signal.SIGKILL)
    assert scheduler.wait_idle(60)

    killed = scheduler.registry.get(killed_id)
    assert killed["status"] == "failed" and "SIGKILL" in killed["error"]
    assert not killed["published"]
    assert latest(tmp_path / "out", "counted") == published
    assert "_COMPLETE" not in run_dir_state(tmp_path, killed_id)[1]
    with pytest.raises(BertprepError, match="incomplete"):
        inspect_directory(str(directory))

    (tmp_path / "pause").unlink()
    next_id = scheduler.trigger("counted")
    tick_and_wait(scheduler)
    next_run = scheduler.registry.get(next_id)
    assert next_run["status"] == "succeeded" and next_run["counters"]["read"] == 20
    assert latest(tmp_path / "out", "counted") == next_id


def test_a_killed_scheduler_leaves_an_interrupted_run_and_the_next_run_publishes(tmp_path, fake_job):
    write_input(tmp_path, ["line %d" % index for index in range(8)])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, PAUSING_JOB % 120)
    process = bertprep_process(["scheduler", "run", "--jobs", str(jobs), "--trigger", "counted",
                                "--poll-seconds", "0.2"], cwd=tmp_path)
    try:
        pipeline_pid = ready_pid(tmp_path)
        process.kill()  # SIGKILL: the scheduler gets no chance to clean up
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
    assert alive(pipeline_pid)  # the pipeline runs in its own session and survived
    registry = Registry(str(tmp_path / "bertprep-runs.sqlite"))
    (stale,) = registry.list(job="counted")
    assert stale["status"] == "running"

    scheduler = make_scheduler(jobs, clock=SystemClock())  # a restarted scheduler
    assert scheduler.recover() == [stale["run_id"]]
    wait_for(lambda: not alive(pipeline_pid), timeout=30, what="the orphaned pipeline to be stopped")
    recovered = registry.get(stale["run_id"])
    assert recovered["status"] == "interrupted" and "nothing was published" in recovered["error"]
    assert latest(tmp_path / "out", "counted") is None
    assert "_COMPLETE" not in run_dir_state(tmp_path, stale["run_id"])[1]

    (tmp_path / "pause").unlink()
    scheduler.trigger("counted")
    tick_and_wait(scheduler)
    newest = registry.list(job="counted")[0]
    assert newest["status"] == "succeeded"
    assert latest(tmp_path / "out", "counted") == newest["run_id"]


def test_sigterm_stops_a_running_pipeline_and_publishes_nothing(tmp_path, fake_job):
    write_input(tmp_path, ["line %d" % index for index in range(8)])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, PAUSING_JOB % 120)
    process = bertprep_process(["scheduler", "run", "--jobs", str(jobs), "--trigger", "counted",
                                "--poll-seconds", "0.2", "--grace-seconds", "0.5"], cwd=tmp_path)
    pipeline_pid = ready_pid(tmp_path)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "SIGTERM received" in output
    assert not alive(pipeline_pid)
    (run,) = Registry(str(tmp_path / "bertprep-runs.sqlite")).list(job="counted")
    assert run["status"] == "interrupted" and "nothing was published" in run["error"]
    assert latest(tmp_path / "out", "counted") is None
    names = run_dir_state(tmp_path, run["run_id"])[1]
    assert "_COMPLETE" not in names and "info.json" not in names


def test_sigterm_lets_a_running_pipeline_finish_within_the_grace_time(tmp_path, fake_job):
    write_input(tmp_path, ["line %d" % index for index in range(8)])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, PAUSING_JOB % 2)  # pauses 2 s, then completes
    process = bertprep_process(["scheduler", "run", "--jobs", str(jobs), "--trigger", "counted",
                                "--poll-seconds", "0.2", "--grace-seconds", "60"], cwd=tmp_path)
    ready_pid(tmp_path)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    (run,) = Registry(str(tmp_path / "bertprep-runs.sqlite")).list(job="counted")
    assert run["status"] == "succeeded"
    assert latest(tmp_path / "out", "counted") == run["run_id"]
    assert "_COMPLETE" in run_dir_state(tmp_path, run["run_id"])[1]
