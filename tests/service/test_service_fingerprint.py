"""The input fingerprint counts the code and every path option (issue 29, item 3): an upgrade of bertprep
(any change to the installed package's files) reruns an unforced run instead of keeping the old output as
good, and a changed vocabulary reruns even when the job lists its `inputs:`."""
import os
import shutil
import subprocess
import sys

from bertprep.service.run_registry import Registry
from service_helpers import (REPO, bump_mtime, fake_job, latest, make_scheduler, tick_and_wait,  # noqa: F401
                             write_input, write_jobs)


def test_a_changed_vocabulary_reruns_a_job_with_explicit_inputs(tmp_path, fake_job):
    write_input(tmp_path, ["a", "b"])
    vocab = write_input(tmp_path, ["[PAD]", "[UNK]"], name="vocab.txt")
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          inputs: [in.txt]
          args: {input: in.txt, state-file: vocab.txt}
    """)
    scheduler = make_scheduler(jobs)
    first = scheduler.trigger("counted")
    tick_and_wait(scheduler)
    unchanged = scheduler.trigger("counted")
    tick_and_wait(scheduler)
    assert scheduler.registry.get(unchanged)["status"] == "skipped"

    write_input(tmp_path, ["[PAD]", "[UNK]", "[CLS]"], name="vocab.txt")
    bump_mtime(vocab)
    changed = scheduler.trigger("counted")
    tick_and_wait(scheduler)
    run = scheduler.registry.get(changed)
    assert run["status"] == "succeeded", run["error"]
    assert latest(tmp_path / "out", "counted") == changed != first


def test_an_upgraded_package_reruns_instead_of_skipping(tmp_path, fake_job):
    site = tmp_path / "site"
    shutil.copytree(REPO / "bertprep", site / "bertprep", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    write_input(tmp_path, ["a", "b"])
    jobs = write_jobs(tmp_path, """
        counted:
          pipeline: fake-count
          args: {input: in.txt}
    """)
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO / "tests")]))

    def run_once():
        done = subprocess.run([sys.executable, "-m", "bertprep", "scheduler", "run", "--jobs", str(jobs),
                               "--trigger", "counted", "--once", "--poll-seconds", "0.2"], cwd=str(tmp_path),
                              env=environment, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return Registry(str(tmp_path / "bertprep-runs.sqlite")).list(job="counted")[0]

    assert run_once()["status"] == "succeeded"
    assert run_once()["status"] == "skipped"  # nothing changed
    fixed = site / "bertprep" / "service" / "run_process.py"  # a fix in the installed package
    fixed.write_text(fixed.read_text(encoding="utf-8") + "\n# a fix\n", encoding="utf-8")
    upgraded = run_once()
    assert upgraded["status"] == "succeeded", upgraded["error"]
    assert latest(tmp_path / "out", "counted") == upgraded["run_id"]
