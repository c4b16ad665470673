"""The scheduler running the real `pretraining` job: publish, SIGKILL mid-run, publish again."""
import os
import signal

import pytest

from bertprep.errors import BertprepError
from bertprep.commands.inspect import inspect_directory
from bertprep.service.clock import SystemClock
from service_helpers import latest, make_scheduler, tick_and_wait, wait_for, write_jobs


def corpus_slice(source, target, documents):
    """The first `documents` blank-line-separated documents of the shared corpus."""
    kept, count = [], 0
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            kept.append(line)
            if not line.strip():
                count += 1
                if count >= documents:
                    break
    target.write_text("".join(kept), encoding="utf-8")


def test_real_pretraining_job_killed_mid_run_never_moves_latest(tmp_path, shared, zh_vocab, monkeypatch):
    monkeypatch.delenv("BERTPREP_EXTRA_PIPELINES", raising=False)  # the real jobs only
    corpus = shared / "data" / "corpus" / "zh_peopledaily_docs.txt"
    corpus_slice(corpus, tmp_path / "corpus.txt", 20)
    jobs = write_jobs(tmp_path, """
        pretraining-nightly:
          pipeline: pretraining
          args:
            input: corpus.txt
            vocab: %s
            max-seq-length: 64
            max-predictions-per-seq: 10
            dupe-factor: 1
            num-shards: 1
    """ % zh_vocab)
    scheduler = make_scheduler(jobs, clock=SystemClock())
    first = scheduler.trigger("pretraining-nightly")
    tick_and_wait(scheduler, timeout=300)
    run = scheduler.registry.get(first)
    assert run["status"] == "succeeded", run["error"]
    assert latest(tmp_path / "out", "pretraining-nightly") == first
    summary = inspect_directory(run["output_path"])
    assert run["counters"]["records_out"] == summary["records"] > 0
    assert "--max-seq-length=64" in run["parameters"]["argv"]

    corpus_slice(corpus, tmp_path / "corpus.txt", 40)
    killed_id = scheduler.trigger("pretraining-nightly")
    assert scheduler.tick() == [killed_id]
    run_dir = tmp_path / "out" / "pretraining-nightly" / killed_id
    # The job creates its output directory before Beam starts; kill it while it works.
    pid = wait_for(lambda: run_dir.is_dir() and scheduler.registry.get(killed_id)["pid"], timeout=120,
                   what="the pipeline to start")
    os.killpg(pid, signal.SIGKILL)
    assert scheduler.wait_idle(120)
    killed = scheduler.registry.get(killed_id)
    assert killed["status"] == "failed" and "SIGKILL" in killed["error"]
    assert latest(tmp_path / "out", "pretraining-nightly") == first
    assert not (run_dir / "_COMPLETE").exists()
    with pytest.raises(BertprepError, match="incomplete"):
        inspect_directory(str(run_dir))

    again = scheduler.trigger("pretraining-nightly")
    tick_and_wait(scheduler, timeout=300)
    rerun = scheduler.registry.get(again)
    assert rerun["status"] == "succeeded", rerun["error"]
    assert latest(tmp_path / "out", "pretraining-nightly") == again
    assert inspect_directory(rerun["output_path"])["records"] > summary["records"]
