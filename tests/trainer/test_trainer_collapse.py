"""Collapse is loud: the label-prior loss, the two warnings, and a model forced to one class end to end."""
import json
import math
import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import (classifier_records, tiny_config, uninformative_records, write_bert_config,  # noqa: E402
                          write_dataset)

from bertprep.trainer import collapse  # noqa: E402


def test_prior_loss_is_the_entropy_of_the_training_labels():
    counter = collapse.LabelCounter("classifier", 3)
    counter.add([30, 10, 0], 40)
    counter.add([0, 0, 0], 0)
    assert counter.prior_loss() == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    multi = collapse.LabelCounter("classifier", 2, multi_label=True)
    multi.add([5, 10], 10)  # label 0 in half the examples, label 1 in all of them
    assert multi.prior_loss() == pytest.approx((math.log(2) + 0.0) / 2)
    assert collapse.LabelCounter("pretraining", 2).prior_loss() is None
    assert collapse.LabelCounter("classifier", 1, regression=True).prior_loss() is None


def test_loss_warning_only_when_no_logged_loss_fell_below_the_prior():
    prior = math.log(2)
    flat = [{"step": 10, "loss": 0.6950}, {"step": 20, "loss": 0.6890}, {"step": 30, "loss": 0.6931}]
    warning = collapse.loss_warning(flat, prior)
    assert "never fell below 0.6931" in warning and "0.6890 at step 20" in warning
    learning = flat + [{"step": 40, "loss": 0.60}]
    assert collapse.loss_warning(learning, prior) is None
    assert collapse.loss_warning(flat, None) is None


def test_prediction_warning_for_one_class_and_one_tag():
    one_class = {"confusion_matrix": {"labels": ["0", "1"], "counts": [[0, 291], [0, 309]]}}
    assert "label '1' for every one of the 600" in collapse.prediction_warning("classifier", one_class)
    healthy = {"confusion_matrix": {"labels": ["0", "1"], "counts": [[200, 91], [80, 229]]}}
    assert collapse.prediction_warning("classifier", healthy) is None
    only_one_label_in_data = {"confusion_matrix": {"labels": ["0", "1"], "counts": [[0, 0], [0, 50]]}}
    assert collapse.prediction_warning("classifier", only_one_label_in_data) is None
    assert "tag 'O'" in collapse.prediction_warning("tagging", {"predicted_tags": {"O": 40}, "token_accuracy": 0.8})
    assert collapse.prediction_warning("tagging", {"predicted_tags": {"O": 40, "B-PER": 2},
                                                   "token_accuracy": 0.8}) is None


def _datasets(tmp_path, records_fn):
    config = {"max_seq_length": 16, "num_labels": 2}
    info = {"labels": ["neg", "pos"]}
    train = write_dataset(str(tmp_path / "train"), "classifier", config, records_fn(128), extra_info=info)
    dev = write_dataset(str(tmp_path / "dev"), "classifier", config, records_fn(32), extra_info=info)
    return train, dev, write_bert_config(str(tmp_path), tiny_config())


def test_a_model_forced_to_one_class_warns_and_fails_with_fail_on_collapse(tmp_path, capsys):
    from bertprep.cli import main

    train, dev, bert_config = _datasets(tmp_path, uninformative_records)
    args = ["train", "--task", "classifier", "--data", train, "--eval-data", dev, "--bert-config", bert_config,
            "--train-batch-size", "16", "--num-train-steps", "30", "--learning-rate", "1e-4", "--log-every", "5"]
    assert main(args + ["--output", str(tmp_path / "warned")]) == 0  # a warning, not an error, by default
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("bertprep: warning:")]
    assert len(warnings) == 2, captured.err
    assert "for every one of the 32 evaluation examples" in warnings[0]
    assert re.search(r"never fell below 0\.69\d\d, the loss of predicting the label distribution", warnings[1])
    results = json.loads((tmp_path / "warned" / "eval_results.json").read_text())
    assert results["warnings"] == [line[len("bertprep: warning: "):] for line in warnings]

    assert main(args + ["--output", str(tmp_path / "failed"), "--fail-on-collapse"]) == 3
    err = capsys.readouterr().err
    assert "bertprep: error: training collapsed (--fail-on-collapse)" in err
    assert (tmp_path / "failed" / "eval_results.json").exists()  # outputs are kept for inspection


def test_a_model_that_learns_gets_no_warning(tmp_path):
    from bertprep.trainer.loop import TrainConfig, train

    train_dir, dev, bert_config = _datasets(tmp_path, classifier_records)
    summary = train(TrainConfig(task="classifier", data=train_dir, eval_data=dev, bert_config=bert_config,
                                output=str(tmp_path / "out"), train_batch_size=16, learning_rate=3e-3,
                                num_train_steps=100, verbose=False))
    assert summary["eval"]["accuracy"] >= 0.9, summary["eval"]
    assert summary["warnings"] == [] and summary["eval"]["warnings"] == []
    # Half the records have each label; the 1,600 drawn for training (12.5 passes) are close to half and half.
    assert summary["prior_loss"] == pytest.approx(math.log(2), abs=1e-3)
    assert np.isfinite(summary["losses"][-1]["loss"])
