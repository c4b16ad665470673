"""The scheduler driven by a stepped clock: cron ticks, skips, retries, no overlap, dependencies."""
import datetime
import json

import pytest

from bertprep.errors import BertprepError
from bertprep.service import fingerprint
from bertprep.service.clock import FakeClock
from bertprep.service.scheduler import next_fire_time, retry_delay
from service_helpers import (bump_mtime, fake_job, latest, make_scheduler, tick_and_wait,  # noqa: F401
                             wait_for, write_input, write_jobs)


def runs_of(scheduler, job):
    return list(reversed(scheduler.registry.list(job=job)))  # oldest first


def test_job_due_every_minute_runs_once_per_tick(tmp_path, fake_job):
    write_input(tmp_path, ["a", "bb"])
    jobs = write_jobs(tmp_path, """
        every-minute:
          pipeline: fake-count
          schedule: "* * * * *"
          args: {input: in.txt}
    """)
    scheduler = make_scheduler(jobs)
    clock = scheduler.clock
    assert tick_and_wait(scheduler) == []  # 00:00:30: the first cron time is 00:01
    started_per_tick = []
    for minute in range(2):
        clock.advance(60)
        write_input(tmp_path, ["line %d" % index for index in range(minute + 3)])  # fresh data every minute
        started_per_tick.append(tick_and_wait(scheduler))
        assert tick_and_wait(scheduler) == []  # ticking again within the same minute starts nothing
    assert [len(started) for started in started_per_tick] == [1, 1]
    runs = runs_of(scheduler, "every-minute")
    assert [run["status"] for run in runs] == ["succeeded"] * 2
    assert [run["trigger"] for run in runs] == ["schedule"] * 2
    assert [run["counters"]["read"] for run in runs] == [3, 4]
    assert latest(tmp_path / "out", "every-minute") == runs[-1]["run_id"]
    for run in runs:
        assert (tmp_path / "out" / "every-minute" / run["run_id"] / "_COMPLETE").exists()
    # A scheduler that was stopped for ten minutes starts one run, not ten.
    clock.advance(600)
    write_input(tmp_path, ["after the gap"])
    assert len(tick_and_wait(scheduler)) == 1
    assert len(scheduler.registry.list(job="every-minute")) == 3


def test_unchanged_input_is_skipped_unless_forced(tmp_path, fake_job):
    source = write_input(tmp_path, ["x", "y", "z"])
    jobs = write_jobs(tmp_path, """
        nightly:
          pipeline: fake-count
          schedule: "* * * * *"
          args: {input: in.txt, label: first}
    """)
    scheduler = make_scheduler(jobs)
    scheduler.clock.advance(60)
    tick_and_wait(scheduler)
    scheduler.clock.advance(60)
    tick_and_wait(scheduler)
    first, second = runs_of(scheduler, "nightly")
    assert first["status"] == "succeeded"
    assert second["status"] == "skipped"
    assert first["run_id"] in second["error"] and "unchanged" in second["error"]
    assert second["output_path"] is None and not (tmp_path / "out" / "nightly" / second["run_id"]).exists()
    assert latest(tmp_path / "out", "nightly") == first["run_id"]
    # A newer modification time is a change in the default (size + mtime) fingerprint.
    bump_mtime(source)
    scheduler.clock.advance(60)
    tick_and_wait(scheduler)
    assert runs_of(scheduler, "nightly")[-1]["status"] == "succeeded"
    # Forcing runs even though nothing changed.
    scheduler.trigger("nightly", force=True)
    tick_and_wait(scheduler)
    forced = runs_of(scheduler, "nightly")[-1]
    assert forced["status"] == "succeeded" and forced["force"]
    # Changed parameters are a change too (same registry, edited jobs file).
    write_jobs(tmp_path, """
        nightly:
          pipeline: fake-count
          schedule: "* * * * *"
          args: {input: in.txt, label: second}
    """)
    edited = make_scheduler(jobs, clock=scheduler.clock)
    edited.trigger("nightly")
    tick_and_wait(edited)
    assert runs_of(edited, "nightly")[-1]["status"] == "succeeded"


def test_content_hash_ignores_a_rewrite_with_the_same_bytes(tmp_path, fake_job):
    source = write_input(tmp_path, ["same", "bytes"])
    jobs = write_jobs(tmp_path, """
        hashed:
          pipeline: fake-count
          content_hash: true
          args: {input: in.txt}
    """)
    scheduler = make_scheduler(jobs)
    scheduler.trigger("hashed")
    tick_and_wait(scheduler)
    write_input(tmp_path, ["same", "bytes"])
    bump_mtime(source)
    scheduler.trigger("hashed")
    tick_and_wait(scheduler)
    write_input(tmp_path, ["other", "bytes"])
    scheduler.trigger("hashed")
    tick_and_wait(scheduler)
    runs = runs_of(scheduler, "hashed")
    assert [run["status"] for run in runs] == ["succeeded", "skipped", "succeeded"]
    assert runs[0]["input_fingerprint"]["mode"] == "sha256"
    assert "sha256" in runs[0]["input_fingerprint"]["files"][0]


def test_failure_is_retried_with_backoff_then_marked_failed(tmp_path, fake_job):
    write_input(tmp_path, ["a"])
    jobs = write_jobs(tmp_path, """
        broken:
          pipeline: fake-count
          retries: 2
          retry_backoff_seconds: 30
          args: {input: in.txt, fail: true}
    """)
    scheduler = make_scheduler(jobs)
    clock = scheduler.clock
    scheduler.trigger("broken")
    assert len(tick_and_wait(scheduler)) == 1
    assert tick_and_wait(scheduler) == []  # the retry waits for its backoff
    clock.advance(29)
    assert tick_and_wait(scheduler) == []
    clock.advance(1)
    assert len(tick_and_wait(scheduler)) == 1  # second attempt after 30 s
    clock.advance(59)
    assert tick_and_wait(scheduler) == []
    clock.advance(1)
    assert len(tick_and_wait(scheduler)) == 1  # third attempt after another 60 s
    clock.advance(3600)
    assert tick_and_wait(scheduler) == []  # retries used up: nothing more is queued
    runs = runs_of(scheduler, "broken")
    assert [run["attempt"] for run in runs] == [1, 2, 3]
    assert [run["status"] for run in runs] == ["failed"] * 3
    assert [run["retry_of"] for run in runs] == [None, runs[0]["run_id"], runs[1]["run_id"]]
    assert all(run["error"] == "asked to fail (--fail) (exit status 2)" for run in runs)
    assert scheduler.registry.list(status="queued") == []
    assert latest(tmp_path / "out", "broken") is None


def test_a_retry_that_succeeds_publishes(tmp_path, fake_job):
    write_input(tmp_path, ["a", "b"])
    jobs = write_jobs(tmp_path, """
        flaky:
          pipeline: fake-count
          retries: 3
          retry_backoff_seconds: 10
          args: {input: in.txt, fail-times: 1, state-file: attempts.txt}
    """)
    scheduler = make_scheduler(jobs)
    scheduler.trigger("flaky")
    tick_and_wait(scheduler)
    scheduler.clock.advance(10)
    tick_and_wait(scheduler)
    first, second = runs_of(scheduler, "flaky")
    assert (first["status"], second["status"]) == ("failed", "succeeded")
    assert first["error"] == "planned failure 1 of 1 (exit status 2)"
    assert latest(tmp_path / "out", "flaky") == second["run_id"]
    assert scheduler.registry.list(status="queued") == []


def test_two_triggers_of_one_job_never_overlap(tmp_path, fake_job):
    write_input(tmp_path, ["a", "b", "c", "d"])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, """
        slow:
          pipeline: fake-count
          args: {input: in.txt, pause-flag: pause, sleep: 1.5, lock-file: slow.lock, ready-file: ready}
        other:
          pipeline: fake-count
          args: {input: in.txt, label: other}
    """, extra_top="max_parallel_runs: 4")
    scheduler = make_scheduler(jobs)
    # Another scheduler process sharing the registry must not start the job either.
    neighbour = make_scheduler(jobs, clock=scheduler.clock)
    first = scheduler.trigger("slow", trigger="api")
    second = scheduler.trigger("slow", trigger="api")
    scheduler.trigger("other")
    started = scheduler.tick()
    assert first in started and second not in started and len(started) == 2  # `other` runs alongside
    wait_for(lambda: (tmp_path / "ready").exists(), what="the first run to pause")
    for _ in range(5):
        assert scheduler.tick() == [] and neighbour.tick() == []
    assert scheduler.registry.get(second)["status"] == "queued"
    assert scheduler.wait_idle(60)
    assert scheduler.tick() == [second]
    assert scheduler.wait_idle(60)
    runs = {run["run_id"]: run for run in scheduler.registry.list(job="slow")}
    assert runs[first]["status"] == runs[second]["status"] == "succeeded"
    assert not (tmp_path / "slow.lock.overlap").exists()


# Two jobs: `downstream` runs after `upstream` publishes and reads its LATEST output.
UPSTREAM_AND_DOWNSTREAM = """
    upstream:
      pipeline: fake-count
      args: {input: in.txt}
    downstream:
      pipeline: fake-count
      after: upstream
      args: {input: in.txt, upstream: "${after}"}
"""


def test_after_dependency_uses_the_latest_successful_output(tmp_path, fake_job):
    write_input(tmp_path, ["a", "b"])
    jobs = write_jobs(tmp_path, UPSTREAM_AND_DOWNSTREAM)
    scheduler = make_scheduler(jobs)
    scheduler.trigger("downstream")
    tick_and_wait(scheduler)
    waiting = runs_of(scheduler, "downstream")[0]
    assert waiting["status"] == "skipped" and "upstream" in waiting["error"]
    scheduler.trigger("upstream")
    tick_and_wait(scheduler)  # upstream succeeds and queues downstream
    queued = scheduler.registry.list(job="downstream", status="queued")
    assert len(queued) == 1 and queued[0]["trigger"] == "after:upstream"
    tick_and_wait(scheduler)
    run = runs_of(scheduler, "downstream")[-1]
    upstream_run = latest(tmp_path / "out", "upstream")
    assert run["status"] == "succeeded"
    info = json.loads((tmp_path / "out" / "downstream" / run["run_id"] / "info.json").read_text())
    assert info["upstream"] == str(tmp_path / "out" / "upstream" / upstream_run)
    assert run["input_fingerprint"]["upstream_runs"] == {"upstream": upstream_run}


def test_timeout_fails_the_run_without_publishing(tmp_path, fake_job):
    write_input(tmp_path, ["a", "b"])
    (tmp_path / "pause").write_text("")
    jobs = write_jobs(tmp_path, """
        stuck:
          pipeline: fake-count
          timeout_seconds: 1
          args: {input: in.txt, pause-flag: pause}
    """)
    scheduler = make_scheduler(jobs)
    scheduler.trigger("stuck")
    tick_and_wait(scheduler)
    run = runs_of(scheduler, "stuck")[0]
    assert run["status"] == "failed" and "timed out" in run["error"]
    assert latest(tmp_path / "out", "stuck") is None


def test_cron_times_follow_the_job_time_zone():
    # 02:00 in Shanghai is 18:00 UTC the day before.
    after = datetime.datetime(2025, 1, 6, 17, 59, 30, tzinfo=datetime.timezone.utc)
    due = next_fire_time("0 2 * * *", "Asia/Shanghai", after)
    assert due.astimezone(datetime.timezone.utc) == datetime.datetime(2025, 1, 6, 18, 0, tzinfo=datetime.timezone.utc)
    # New York's daylight-saving start: 03:30 local is 07:30 UTC after the change, 08:30 before it.
    before_dst = datetime.datetime(2025, 3, 7, 12, 0, tzinfo=datetime.timezone.utc)
    first = next_fire_time("30 3 * * *", "America/New_York", before_dst)
    second = next_fire_time("30 3 * * *", "America/New_York", first)
    assert first.astimezone(datetime.timezone.utc).hour == 8
    assert second.astimezone(datetime.timezone.utc).hour == 7


def test_retry_backoff_doubles():
    from bertprep.service.jobs_file import JobSpec

    spec = JobSpec(name="j", pipeline="p", args={}, retry_backoff_seconds=30)
    assert [retry_delay(spec, attempt) for attempt in (1, 2, 3)] == [30, 60, 120]


def test_fingerprint_lists_files_under_directories_and_globs(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("1")
    (tmp_path / "d" / "y.txt").write_text("22")
    (tmp_path / "vocab.txt").write_text("[UNK]\n")
    patterns = fingerprint.input_patterns({"input": "d/*.txt", "vocab": "vocab.txt", "seed": "12",
                                           "label": "not-a-file"}, base_dir=str(tmp_path))
    assert patterns == [str(tmp_path / "d" / "*.txt"), str(tmp_path / "vocab.txt")]
    listed = fingerprint.fingerprint([str(tmp_path / "d")])
    assert [(entry["path"].rsplit("/", 1)[-1], entry["size"]) for entry in listed["files"]] == [("x.txt", 1),
                                                                                             ("y.txt", 2)]


def test_fake_clock_needs_a_time_zone():
    with pytest.raises(ValueError):
        FakeClock(datetime.datetime(2025, 1, 1))


def test_trigger_of_an_unknown_job_names_the_jobs(tmp_path, fake_job):
    write_input(tmp_path, ["a"])
    jobs = write_jobs(tmp_path, """
        only:
          pipeline: fake-count
          args: {input: in.txt}
    """)
    with pytest.raises(BertprepError, match="no job named 'nope'.*only"):
        make_scheduler(jobs).trigger("nope")


def test_scheduler_once_runs_a_trigger_and_its_dependents_then_exits(tmp_path, fake_job):
    from service_helpers import bertprep_process

    write_input(tmp_path, ["a", "b", "c"])
    jobs = write_jobs(tmp_path, UPSTREAM_AND_DOWNSTREAM)
    process = bertprep_process(["scheduler", "run", "--jobs", str(jobs), "--trigger", "upstream", "--once"],
                               cwd=tmp_path)
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output
    assert "runs by status: succeeded 2" in output
    upstream_run = latest(tmp_path / "out", "upstream")
    info = json.loads((tmp_path / "out" / "downstream" / latest(tmp_path / "out", "downstream") / "info.json")
                      .read_text())
    assert info["upstream"] == str(tmp_path / "out" / "upstream" / upstream_run)


def test_scheduler_once_exits_non_zero_when_a_job_did_not_succeed(tmp_path, fake_job):
    """A one-shot run (cron, CI) whose job failed after its retries must not exit 0."""
    from service_helpers import bertprep_process

    write_input(tmp_path, ["a", "b"])
    jobs = write_jobs(tmp_path, """
        broken:
          pipeline: fake-count
          args: {input: in.txt, fail_times: 5, state_file: state.txt}
    """)
    process = bertprep_process(["scheduler", "run", "--jobs", str(jobs), "--trigger", "broken", "--once"],
                               cwd=tmp_path)
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 1, output
    assert "runs by status: failed 1" in output
    assert "bertprep: error: 1 job(s) did not succeed: broken (" in output and ": failed)" in output
