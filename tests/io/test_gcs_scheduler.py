"""The scheduler with its output root on gs:// (a local Cloud Storage emulator), running the real jobs in
subprocesses as a deployment does: the README's nightly chain (`mask-probs`, then `pretraining` with
`mask-probability: "${after}"` and `confusion-sets: "${after}"`) publishes both runs and moves both LATEST
pointers; a run killed mid-write publishes nothing and leaves LATEST where it was, and the rerun publishes;
`runs list/show/prune` work on the gs:// runs, prune deleting their objects.
"""
import os
import signal

import pytest

from bertprep.commands.inspect import inspect_directory
from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.service.clock import SystemClock
from bertprep.service.run_process import read_latest

from gcs_emulator import gcs_bucket, small_csc_inputs, storage_emulator, upload  # noqa: F401
from service_helpers import make_scheduler, tick_and_wait, wait_for

JOBS = """\
output_root: {root}
jobs:
  confusions:
    pipeline: mask-probs
    args:
      input: {inputs}/pairs.tsv
      vocab: {inputs}/vocab.txt
  pretraining:
    pipeline: pretraining
    after: confusions
    args:
      input: {inputs}/{docs}
      vocab: {inputs}/vocab.txt
      max-seq-length: 64
      dupe-factor: {dupe}
      num-shards: {shards}
      mask-probability: "${{after}}"
      confusion-sets: "${{after}}"
"""


def test_after_chain_killed_run_and_runs_prune_on_a_gcs_output_root(storage_emulator, gcs_bucket, tmp_path, shared,
                                                                    monkeypatch, capsys):
    monkeypatch.delenv("BERTPREP_EXTRA_PIPELINES", raising=False)  # the real jobs only
    local_inputs = small_csc_inputs(shared, tmp_path / "in")
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as corpus:
        (local_inputs / "docs_big.txt").write_text("".join(line for _, line in zip(range(3000), corpus)),
                                                   encoding="utf-8")
    inputs = upload(local_inputs, gcs_bucket + "/in")
    root = gcs_bucket + "/runs"
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(JOBS.format(root=root, inputs=inputs, docs="docs.txt", dupe=1, shards=1), encoding="utf-8")
    scheduler = make_scheduler(jobs, clock=SystemClock())

    upstream = scheduler.trigger("confusions")
    tick_and_wait(scheduler, timeout=300)  # mask-probs publishes and queues pretraining (after:)
    assert scheduler.registry.get(upstream)["status"] == "succeeded", scheduler.registry.get(upstream)["error"]
    tick_and_wait(scheduler, timeout=300)
    downstream = scheduler.registry.list(job="pretraining")[-1]
    assert downstream["status"] == "succeeded", downstream["error"]
    assert read_latest(root, "confusions") == upstream
    assert read_latest(root, "pretraining") == downstream["run_id"]
    assert downstream["output_path"] == "%s/pretraining/%s" % (root, downstream["run_id"])
    info = inspect_directory(downstream["output_path"])
    assert info["records"] > 0
    config = fs.read_text(downstream["output_path"] + "/info.json")
    assert "%s/confusions/%s" % (root, upstream) in config  # ${after} became the upstream run on gs://

    # A run killed while it writes its shards (a bigger input in 8 shards, written one after another):
    # nothing published, LATEST unmoved; the rerun publishes.
    jobs.write_text(JOBS.format(root=root, inputs=inputs, docs="docs_big.txt", dupe=2, shards=8), encoding="utf-8")
    scheduler = make_scheduler(jobs, clock=SystemClock())
    killed_id = scheduler.trigger("pretraining")
    assert scheduler.tick() == [killed_id]
    run_dir = "%s/pretraining/%s" % (root, killed_id)
    pid = wait_for(lambda: fs.list_files(run_dir + "/pretraining-*") and scheduler.registry.get(killed_id)["pid"],
                   timeout=120, interval=0.1, what="the pipeline to write a shard")
    os.killpg(pid, signal.SIGKILL)
    assert scheduler.wait_idle(120)
    killed = scheduler.registry.get(killed_id)
    assert killed["status"] == "failed" and "SIGKILL" in killed["error"]
    assert read_latest(root, "pretraining") == downstream["run_id"]
    assert not fs.exists(run_dir + "/_COMPLETE")
    with pytest.raises(BertprepError, match="incomplete"):
        inspect_directory(run_dir)
    jobs.write_text(JOBS.format(root=root, inputs=inputs, docs="docs.txt", dupe=2, shards=1), encoding="utf-8")
    scheduler = make_scheduler(jobs, clock=SystemClock())
    again = scheduler.trigger("pretraining")
    tick_and_wait(scheduler, timeout=300)
    assert scheduler.registry.get(again)["status"] == "succeeded", scheduler.registry.get(again)["error"]
    assert read_latest(root, "pretraining") == again
    assert inspect_directory("%s/pretraining/%s" % (root, again))["records"] > info["records"]

    # runs list / show / prune against the same registry; prune deletes the pruned runs' objects on gs://.
    from bertprep.cli import main

    registry = str(scheduler.registry.path)
    assert main(["runs", "list", "--registry", registry]) == 0
    assert main(["runs", "show", again, "--registry", registry]) == 0
    shown = capsys.readouterr().out
    assert again in shown and root in shown
    assert fs.list_files(run_dir + "/**")  # the killed run's leftovers are there before the prune
    assert main(["runs", "prune", "--job", "pretraining", "--keep", "1", "--registry", registry]) == 0
    assert not fs.list_files(run_dir + "/**")
    assert not fs.list_files("%s/pretraining/%s/**" % (root, downstream["run_id"]))
    assert fs.exists("%s/pretraining/%s/_COMPLETE" % (root, again))
