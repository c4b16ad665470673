"""A run stopped by SIGTERM (a deploy, `systemctl stop`) is retried like a crashed one: its retry waits in
the registry and the next scheduler start runs it (issue 29, item 4)."""
import signal

from bertprep.service.clock import SystemClock
from bertprep.service.run_registry import Registry
from service_helpers import (bertprep_process, fake_job, latest, make_scheduler, tick_and_wait,  # noqa: F401
                             wait_for, write_input, write_jobs)


def test_a_run_stopped_by_sigterm_is_retried_after_the_restart(tmp_path, fake_job):
    write_input(tmp_path, ["line %d" % index for index in range(8)])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          retries: 2
          retry_backoff_seconds: 0
          args: {input: in.txt, pause-flag: pause, ready-file: ready, sleep: 120}
    """)
    process = bertprep_process(["scheduler", "run", "--jobs", str(jobs), "--trigger", "counted",
                                "--poll-seconds", "0.2", "--grace-seconds", "0.5"], cwd=tmp_path)
    wait_for(lambda: (tmp_path / "ready").exists(), timeout=90, what="the pipeline to pause")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    registry = Registry(str(tmp_path / "bertprep-runs.sqlite"))
    (stopped,) = registry.list(job="counted", status="interrupted")
    (retry,) = registry.list(job="counted", status="queued")
    assert retry["retry_of"] == stopped["run_id"] and retry["attempt"] == 2 and retry["trigger"] == "retry"
    assert latest(tmp_path / "out", "counted") is None

    (tmp_path / "pause").unlink()
    restarted = make_scheduler(jobs, clock=SystemClock())
    assert tick_and_wait(restarted) == [retry["run_id"]]
    assert registry.get(retry["run_id"])["status"] == "succeeded"
    assert latest(tmp_path / "out", "counted") == retry["run_id"]
