"""Shared pieces of the service tests: a jobs file around the fast fake pipeline, a stepped clock."""
import datetime
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
START = datetime.datetime(2025, 1, 6, 0, 0, 30, tzinfo=datetime.timezone.utc)


@pytest.fixture
def fake_job(monkeypatch):
    """The registry (and so the jobs file, the CLI and its runs) gains the `fake-count` job of
    tests/service_fake_job.py."""
    monkeypatch.setenv("BERTPREP_EXTRA_PIPELINES", "service_fake_job")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO / "tests"),
                                                                 os.environ.get("PYTHONPATH")) if p))


def write_jobs(directory: pathlib.Path, jobs_yaml: str, extra_top: str = "") -> pathlib.Path:
    path = directory / "jobs.yaml"
    path.write_text("output_root: out\n%s\njobs:\n%s" % (extra_top, textwrap.indent(textwrap.dedent(jobs_yaml),
                                                                                      "  ")), encoding="utf-8")
    return path


def write_input(directory: pathlib.Path, lines, name: str = "in.txt") -> pathlib.Path:
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def bump_mtime(path: pathlib.Path, seconds: float = 5.0) -> None:
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + int(seconds * 1e9)))


def make_scheduler(jobs_path, clock=None, **kwargs):
    from bertprep.service.clock import FakeClock
    from bertprep.service.jobs_file import load_jobs_file
    from bertprep.service.scheduler import Scheduler

    config = load_jobs_file(str(jobs_path))
    return Scheduler(config, clock=clock or FakeClock(START), **kwargs)


def tick_and_wait(scheduler, timeout=120):
    started = scheduler.tick()
    assert scheduler.wait_idle(timeout), "runs did not finish within %s s" % timeout
    return started


def latest(output_root: pathlib.Path, job: str):
    path = output_root / job / "LATEST"
    return path.read_text().strip() if path.exists() else None


def wait_for(predicate, timeout=60.0, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def job_parser(job: str):
    """The job's command-line parser, as the CLI builds it from the options class."""
    import argparse

    from bertprep.service import catalog

    parser = argparse.ArgumentParser(prog="bertprep " + job, allow_abbrev=False)
    catalog.options_class(job).add_arguments(parser)
    return parser


def bertprep_process(args, cwd, env=None, **kwargs) -> subprocess.Popen:
    """`python -m bertprep ARGS` as a live process (with fake-count where the environment names it)."""
    return subprocess.Popen([sys.executable, "-m", "bertprep"] + list(args), cwd=str(cwd),
                            env=env or os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kwargs)
