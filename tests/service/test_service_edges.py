"""The smaller service failures of issue 29 (item 8), one test each: two schedulers take a cron slot once,
a DST fall-back fires a daily job once, YAML 1.1 booleans and octals are refused as job names, numbers are
finite and bounded, a NUL byte or deep nesting is one line, cron has 5 fields, the API refuses to trigger
a disabled job, `runs prune` checks before it deletes, Flex Template parameters are checked as the
command line checks them, and `serve --help` says how to reload a jobs file."""
import datetime
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from bertprep import cli
from bertprep.errors import BertprepError
from bertprep.service import flex_main
from bertprep.service.api import create_app
from bertprep.service.clock import FakeClock
from bertprep.service.jobs_file import load_jobs_file, parse_jobs
from bertprep.service.run_registry import Registry
from bertprep.service.scheduler import next_fire_time
from service_helpers import START, fake_job, make_scheduler, write_input, write_jobs  # noqa: F401

TOKEN = "edges-test-token"


def jobs_text(job_lines: str, name: str = "counted", args: str = "{input: in.txt}") -> str:
    return "output_root: out\njobs:\n  %s:\n    pipeline: fake-count\n    args: %s\n%s" % (
        name, args, "".join("    %s\n" % line for line in job_lines.splitlines() if line))


def refused(text: str, *expected: str) -> str:
    with pytest.raises(BertprepError) as caught:
        parse_jobs(text, "jobs.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("jobs.yaml:"), message
    for part in expected:
        assert part in message, message
    return message


def test_two_schedulers_on_one_registry_take_a_cron_slot_once(tmp_path, fake_job):
    write_input(tmp_path, ["a"])
    jobs = write_jobs(tmp_path, """
        nightly:
          pipeline: fake-count
          schedule: "1 0 * * *"
          args: {input: in.txt}
    """)
    first, second = make_scheduler(jobs, clock=FakeClock(START)), make_scheduler(jobs, clock=FakeClock(START))
    for scheduler in (first, second):
        scheduler.clock.advance(60)  # 00:01:30: the 00:01 slot is due for both
    started = first.tick() + second.tick()
    assert first.wait_idle(60) and second.wait_idle(60)
    runs = first.registry.list(job="nightly")
    assert len(started) == 1 and [run["trigger"] for run in runs] == ["schedule"], runs


@pytest.mark.parametrize("timezone, schedule, fall_back_day", [
    ("America/New_York", "30 1 * * *", datetime.datetime(2025, 11, 2, 12, tzinfo=datetime.timezone.utc)),
    ("Europe/Berlin", "30 2 * * *", datetime.datetime(2025, 10, 26, 12, tzinfo=datetime.timezone.utc)),
])
def test_a_daily_job_fires_once_on_the_dst_fall_back_day(timezone, schedule, fall_back_day):
    fires, moment = [], fall_back_day - datetime.timedelta(days=2)
    while True:
        moment = next_fire_time(schedule, timezone, moment)
        if moment > fall_back_day + datetime.timedelta(days=1):
            break
        fires.append(moment)
    assert [fire.date() for fire in fires] == [(fall_back_day + datetime.timedelta(days=offset)).date()
                                               for offset in (-1, 0, 1)], fires
    assert len({fire.astimezone(datetime.timezone.utc) for fire in fires}) == 3


@pytest.mark.parametrize("key, reading", [("off", "false"), ("012", "10"), ("0x1A", "26"), ("yes", "true")])
def test_yaml_1_1_booleans_and_octals_are_refused_as_job_names(key, reading, fake_job):
    message = refused(jobs_text("", name=key), "key %s is read by YAML as" % key, 'quote it ("%s")' % key)
    assert reading in message.lower()
    quoted = parse_jobs(jobs_text("", name='"%s"' % key), "jobs.yaml", check_pipelines=False)
    assert list(quoted.jobs) == [key]


@pytest.mark.parametrize("job_lines, expected", [
    ("retry_backoff_seconds: .nan", "must be a finite number"),
    ("timeout_seconds: .inf", "must be a finite number"),
    ("retries: 1000000000\nretry_backoff_seconds: 60", "must be at most 100"),
    ("retry_backoff_seconds: 1.0e+12", "must be at most"),
])
def test_numbers_are_finite_and_bounded(job_lines, expected, fake_job):
    refused(jobs_text(job_lines), expected)
    refused(jobs_text("", args="{input: in.txt, sleep: .nan}"), "jobs.counted.args.sleep: must be a finite number")


def test_a_nul_byte_and_deep_nesting_are_one_line(tmp_path):
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"output_root: out\njobs:\n  a:\x00\n")
    deep = tmp_path / "deep.yaml"
    deep.write_text("output_root: out\njobs: " + "[" * 50000 + "]" * 50000 + "\n")
    for path, expected in ((nul, "nul.yaml:3: invalid YAML: character '\\x00'"),
                           (deep, "invalid YAML: nested deeper than")):
        with pytest.raises(BertprepError) as caught:
            load_jobs_file(str(path))
        assert "\n" not in str(caught.value) and expected in str(caught.value), str(caught.value)


def test_cron_schedules_have_five_fields(fake_job):
    refused(jobs_text('schedule: "0 0 2 * * *"'), "not a 5-field cron expression")
    assert parse_jobs(jobs_text('schedule: "0 2 * * *"'), "jobs.yaml").jobs["counted"].schedule == "0 2 * * *"


def test_the_api_does_not_trigger_a_disabled_job(tmp_path, fake_job, monkeypatch):
    monkeypatch.setenv("BERTPREP_API_TOKEN", TOKEN)
    config = parse_jobs(jobs_text("enabled: false") + "registry: %s\n" % (tmp_path / "runs.sqlite"),
                        str(tmp_path / "jobs.yaml"))
    api = TestClient(create_app(config))
    answer = api.post("/jobs/counted/trigger", headers={"Authorization": "Bearer " + TOKEN})
    assert answer.status_code == 409 and "enabled: false" in answer.json()["detail"]
    assert api.get("/runs").json()["runs"] == []


def test_prune_checks_each_run_before_deleting_anything_of_it(tmp_path, fake_job, capsys):
    config = parse_jobs(jobs_text(""), str(tmp_path / "jobs.yaml"))
    registry = Registry(str(tmp_path / "runs.sqlite"))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    runs = []
    for index in range(3):
        run_id = registry.enqueue(config.jobs["counted"].to_json(), "api", 1000.0 + index)
        output = tmp_path / "out" / "counted" / run_id
        if index == 1:  # the middle run's output is a symbolic link to somebody else's directory
            output.parent.mkdir(parents=True, exist_ok=True)
            output.symlink_to(precious)
        else:
            output.mkdir(parents=True)
            (output / "shard").write_text("x")
        registry.claim(run_id, 1000.0 + index, "test")
        registry.finish(run_id, "failed", 1001.0 + index, output_path=str(output))
        runs.append((run_id, output))
    prune = ["runs", "prune", "--keep", "0", "--registry", str(tmp_path / "runs.sqlite")]
    assert cli.main(prune) == 1
    err = capsys.readouterr().err
    assert "not deleting %s" % runs[1][0] in err and "symbolic link" in err
    assert (precious / "keep.txt").read_text() == "keep" and runs[1][1].is_symlink()
    assert not runs[0][1].exists() and not runs[2][1].exists()
    assert [run["run_id"] for run in registry.list()] == [runs[1][0]]  # the others' records went with them
    assert cli.main(prune) == 1  # again: the same refusal, nothing else touched
    assert (precious / "keep.txt").read_text() == "keep"


@pytest.mark.parametrize("parameters, expected", [
    (["--max_seq_length=-5"], "--max-seq-length must be at least 5, got -5"),
    (["--max_seq_length=lots"], "argument --max-seq-length: invalid int value: 'lots'"),
    (["--input="], "template parameter input is empty"),
])
def test_flex_template_parameters_are_checked_as_the_command_line_checks_them(parameters, expected, capsys):
    base = {"--input": "gs://b/in.txt", "--output": "gs://b/out", "--vocab": "gs://b/vocab.txt"}
    argv = ["--pipeline=pretraining"] + ["%s=%s" % item for item in base.items()
                                         if not any(p.startswith(item[0] + "=") for p in parameters)] + parameters
    ran = []
    assert flex_main.main(argv + ["--project=p"], run_command=ran.append) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert ran == [] and err[-1] == "bertprep: error: " + expected and len(err) == 2, err


def test_the_launcher_refuses_local_paths_and_launch_bodies_negative_workers(monkeypatch, capsys):
    monkeypatch.setenv(flex_main.LAUNCHER_ENV, "/opt/bertprep/bertprep/service/flex_main.py")
    ran = []
    assert flex_main.main(["--pipeline=pretraining", "--input=/data/corpus.txt", "--output=gs://b/out",
                           "--vocab=gs://b/vocab.txt", "--project=p"], run_command=ran.append) == 2
    assert ran == [] and "input must be a gs:// path" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["dataflow", "launch-body", "pretraining", "--param", "input=gs://b/in.txt", "--param",
                  "output=gs://b/o", "--max-workers", "-3"])
    assert exited.value.code == 2 and "--max-workers: must be at least 1, got -3" in capsys.readouterr().err


def test_serve_help_says_how_to_reload_the_jobs_file():
    shown = subprocess.run([sys.executable, "-m", "bertprep", "serve", "--help"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, COLUMNS="200"))
    assert shown.returncode == 0
    assert "read once, at start: to reload it, restart serve" in " ".join(shown.stdout.split())
