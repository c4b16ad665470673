"""`train` and `export` as jobs of a jobs file: `scheduler run --once` runs mask-probs → pretraining → train →
export end to end (the real jobs, a tiny model, a few steps), publishing all four; then a train run that fails
moves neither train's nor export's LATEST, and `--once` exits 1 naming train."""
import dataclasses
import json
import os

import pytest

pytest.importorskip("tensorflow")

from service_helpers import bertprep_process, latest, write_jobs  # noqa: E402
from trainer_data import tiny_config, write_bert_config  # noqa: E402

CHAIN = """
    confusions:
      pipeline: mask-probs
      retries: 0
      args:
        input: pairs.tsv
        vocab: {vocab}
    pretraining-nightly:
      pipeline: pretraining
      after: confusions
      retries: 0
      args:
        input: corpus.txt
        vocab: {vocab}
        max-seq-length: 32
        max-predictions-per-seq: 5
        dupe-factor: 1
        num-shards: 1
        mask-probability: "${{after}}"
        confusion-sets: "${{after}}"
    train:
      pipeline: train
      after: pretraining-nightly
      retries: 0
      args:
        task: pretraining
        data: "${{after}}"
        eval-data: "${{after}}"
        bert-config: bert_config.json
        max-seq-length: {train_length}
        train-batch-size: 8
        eval-batch-size: 8
        num-train-steps: 4
        steps-per-loop: 2
        log-every: 2
        learning-rate: 0.001
    export:
      pipeline: export
      after: train
      retries: 0
      args:
        checkpoint: "${{after}}"
        saved-model: false
"""


def _head(source, target, lines):
    with open(source, encoding="utf-8") as handle, open(target, "w", encoding="utf-8") as out:
        for number, line in enumerate(handle):
            if number >= lines:
                break
            out.write(line)


def _run_logs(tmp_path, job) -> str:
    return "".join(path.read_text() for path in (tmp_path / "bertprep-logs" / job).glob("*.log"))


def _once(tmp_path, trigger):
    process = bertprep_process(["scheduler", "run", "--jobs", str(tmp_path / "jobs.yaml"), "--trigger", trigger,
                                "--once"], cwd=tmp_path)
    output, _ = process.communicate(timeout=900)
    return process.returncode, output


def test_scheduled_chain_trains_and_exports_and_a_failed_train_publishes_nothing(tmp_path, shared, zh_vocab,
                                                                                 monkeypatch):
    monkeypatch.delenv("BERTPREP_EXTRA_PIPELINES", raising=False)  # the real jobs only
    _head(shared / "data" / "csc" / "sighan15_train.tsv", tmp_path / "pairs.tsv", 200)
    _head(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", tmp_path / "corpus.txt", 60)
    with open(zh_vocab, encoding="utf-8") as handle:
        vocab_size = sum(1 for _ in handle)
    write_bert_config(str(tmp_path), tiny_config(vocab_size=vocab_size))
    write_jobs(tmp_path, CHAIN.format(vocab=zh_vocab, train_length=32))

    code, output = _once(tmp_path, "confusions")
    assert code == 0, output
    assert "runs by status: succeeded 4" in output, output
    out = tmp_path / "out"
    published = {job: latest(out, job) for job in ("confusions", "pretraining-nightly", "train", "export")}
    assert all(published.values()), published
    trained = out / "train" / published["train"]
    with open(trained / "_COMPLETE") as handle:
        marker = json.load(handle)
    assert marker["job"] == "train" and marker["step"] == 4 and marker["eval"]["examples"] > 0
    assert (trained / "checkpoints").is_dir() and (trained / "report.html").exists()
    # train read what pretraining published; export what train published
    with open(trained / "model.json") as handle:
        assert json.load(handle)["task"] == "pretraining"
    exported = out / "export" / published["export"]
    assert (exported / "_COMPLETE").exists() and (exported / "model.ckpt.index").exists()
    assert str(out / "pretraining-nightly" / published["pretraining-nightly"]) in (trained / "report.html").read_text()

    # A train run that fails (its --max-seq-length disagrees with the data) publishes nothing downstream.
    write_jobs(tmp_path, CHAIN.format(vocab=zh_vocab, train_length=64))
    code, output = _once(tmp_path, "train")
    assert code == 1, output
    assert "bertprep: error: 1 job(s) did not succeed: train (" in output and ": failed)" in output
    assert latest(out, "train") == published["train"] and latest(out, "export") == published["export"]
    # refused before training: the failed run left no output at all (so nothing half-written either)
    assert sorted(os.listdir(out / "train")) == sorted(["LATEST", published["train"]])
    assert "bertprep: error: --max-seq-length 64 but" in _run_logs(tmp_path, "train")


def test_an_evaluation_of_no_example_is_a_failed_run_without_marker(tmp_path):
    from bertprep.errors import BertprepError
    from bertprep.options.train import TrainOptions
    from bertprep.trainer import job
    from trainer_data import classifier_records, write_dataset

    train_dir = write_dataset(str(tmp_path / "train"), "classifier", {"max_seq_length": 16}, classifier_records(16),
                              extra_info={"labels": ["0", "1"]})
    empty = write_dataset(str(tmp_path / "empty"), "classifier", {"max_seq_length": 16}, [],
                          extra_info={"labels": ["0", "1"]})
    options = TrainOptions(task="classifier", data=train_dir, eval_data=empty, output=str(tmp_path / "out"),
                           bert_config=write_bert_config(str(tmp_path), tiny_config()), num_train_steps=1,
                           train_batch_size=8, eval_batch_size=8)
    with pytest.raises(BertprepError, match="the evaluation read no example; nothing was evaluated"):
        job.run_training(options, job.plan_training(options), log=lambda line: None)
    assert not (tmp_path / "out" / "_COMPLETE").exists()


def test_job_options_offer_what_the_trainer_knows():
    from bertprep.options import train as train_options
    from bertprep.pipelines import registry
    from bertprep.trainer import config, data, loop

    assert train_options.TASKS == tuple(data.TASK_KINDS) and train_options.OPTIMIZERS == config.OPTIMIZERS
    assert train_options.STRATEGIES == loop.STRATEGIES and train_options.PRECISIONS == loop.PRECISIONS
    job = registry.pipeline("train")
    assert job.runs_in_process and job.options_class() is train_options.TrainOptions
    assert job.plan_function().__name__ == "plan_training" and job.run_function().__name__ == "run_training"
    config_fields = {field.name for field in dataclasses.fields(loop.TrainConfig)}
    options = {option.name for option in train_options.TrainOptions.command_options()}
    assert options - config_fields == {"fail_on_collapse"}  # every other option reaches the trainer
