"""`bertprep runs list|show|retry|prune` over a registry filled by real (fake-count) runs."""
import json

from bertprep import cli
from bertprep.service.clock import SystemClock
from service_helpers import (fake_job, latest, make_scheduler, tick_and_wait, write_input,  # noqa: F401
                             write_jobs)


def registry_args(tmp_path):
    return ["--registry", str(tmp_path / "bertprep-runs.sqlite")]


def test_list_show_retry_and_prune(tmp_path, fake_job, capsys):
    write_input(tmp_path, ["a", "b", "c"])
    jobs = write_jobs(tmp_path, """
        flaky:
          pipeline: fake-count
          args: {input: in.txt, fail-times: 1, state-file: attempts.txt}
    """)
    scheduler = make_scheduler(jobs, clock=SystemClock())  # `runs retry` queues at the real time
    scheduler.trigger("flaky")
    tick_and_wait(scheduler)
    (failed,) = scheduler.registry.list(job="flaky")
    assert failed["status"] == "failed"

    assert cli.main(["runs", "list", "--jobs", str(jobs)]) == 0
    out = capsys.readouterr().out
    assert failed["run_id"] in out and "failed" in out and "planned failure 1 of 1" in out

    # Retry here and now: the second attempt of the flaky job succeeds and is published.
    assert cli.main(["runs", "retry", failed["run_id"][:20], "--now"] + registry_args(tmp_path)) == 0
    out = capsys.readouterr().out
    retried = scheduler.registry.list(job="flaky")[0]
    assert retried["retry_of"] == failed["run_id"] and retried["force"] and retried["trigger"] == "retry"
    assert retried["status"] == "succeeded" and "%s succeeded" % retried["run_id"] in out
    assert latest(tmp_path / "out", "flaky") == retried["run_id"]

    assert cli.main(["runs", "show", retried["run_id"], "--json"] + registry_args(tmp_path)) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["counters"] == {"read": 3, "written": 3, "dead_lettered": 0}
    assert shown["report"]["counts"]["read"] == 3 and shown["published"]
    assert str(tmp_path / "in.txt") in [entry["path"] for entry in shown["input_fingerprint"]["files"]]
    assert cli.main(["runs", "show", retried["run_id"]] + registry_args(tmp_path)) == 0
    text = capsys.readouterr().out
    assert "status:           succeeded" in text and "read" in text and "command:" in text

    # A queued retry (no --now) waits for the scheduler.
    assert cli.main(["runs", "retry", retried["run_id"]] + registry_args(tmp_path)) == 0
    capsys.readouterr()
    queued = scheduler.registry.list(status="queued")
    assert len(queued) == 1 and queued[0]["retry_of"] == retried["run_id"]
    tick_and_wait(scheduler)
    newest = scheduler.registry.list(job="flaky")[0]
    assert newest["status"] == "succeeded" and latest(tmp_path / "out", "flaky") == newest["run_id"]

    assert cli.main(["runs", "list", "--status", "succeeded", "--json"] + registry_args(tmp_path)) == 0
    assert [run["run_id"] for run in json.loads(capsys.readouterr().out)] == [newest["run_id"], retried["run_id"]]

    # Prune to one run per job: the newest (which LATEST names) stays; the rest go, files and records.
    assert cli.main(["runs", "prune", "--keep", "1", "--dry-run"] + registry_args(tmp_path)) == 0
    assert "2 run(s) to delete" in capsys.readouterr().out
    assert len(scheduler.registry.list()) == 3
    assert (tmp_path / "out" / "flaky" / retried["run_id"]).is_dir()
    assert cli.main(["runs", "prune", "--keep", "1"] + registry_args(tmp_path)) == 0
    capsys.readouterr()
    assert [run["run_id"] for run in scheduler.registry.list()] == [newest["run_id"]]
    assert not (tmp_path / "out" / "flaky" / retried["run_id"]).exists()
    assert (tmp_path / "out" / "flaky" / newest["run_id"] / "_COMPLETE").exists()
    # Even --keep 0 keeps the run LATEST names.
    assert cli.main(["runs", "prune", "--keep", "0"] + registry_args(tmp_path)) == 0
    assert [run["run_id"] for run in scheduler.registry.list()] == [newest["run_id"]]


def test_runs_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BERTPREP_REGISTRY", raising=False)
    assert cli.main(["runs", "list"]) == 2
    assert "give --registry PATH or --jobs FILE" in capsys.readouterr().err
    assert cli.main(["runs", "list", "--registry", str(tmp_path / "missing.sqlite")]) == 2
    assert "no run registry at" in capsys.readouterr().err
    from bertprep.service.run_registry import Registry

    Registry(str(tmp_path / "r.sqlite"))
    assert cli.main(["runs", "show", "nope", "--registry", str(tmp_path / "r.sqlite")]) == 2
    assert "no run nope" in capsys.readouterr().err
