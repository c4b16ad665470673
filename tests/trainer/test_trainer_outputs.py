"""What a training run leaves behind and what users read: train_log.jsonl, TensorBoard scalars, report.html,
eval_results.json, the terminal (quiet on CPU), and `bertprep predict` rows in TSV, JSONL and Parquet."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import (classifier_records, tagging_records, tiny_config, write_bert_config,  # noqa: E402
                          write_dataset)

from bertprep.cli import main  # noqa: E402
from bertprep.trainer.loop import TrainConfig, train  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABELS = ["neg", "pos"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny classifier trained in two runs (stopped at step 10, resumed to 20), logging every 5 steps."""
    root = tmp_path_factory.mktemp("outputs")
    config = {"max_seq_length": 16, "num_labels": 2}
    train_dir = write_dataset(str(root / "train"), "classifier", config, classifier_records(128, seed=5),
                              extra_info={"labels": LABELS})
    dev_dir = write_dataset(str(root / "dev"), "classifier", config, classifier_records(40, seed=6),
                            extra_info={"labels": LABELS})
    bert_config = write_bert_config(str(root), tiny_config())
    options = dict(task="classifier", data=train_dir, eval_data=dev_dir, bert_config=bert_config,
                   output=str(root / "run"), train_batch_size=16, learning_rate=3e-3, num_train_steps=60,
                   log_every=5, save_checkpoints_steps=10, verbose=False)
    train(TrainConfig(**options, max_steps_this_run=10))
    summary = train(TrainConfig(**options))
    return root, summary


def test_train_log_has_every_logged_step_once_across_a_resume(trained):
    root, summary = trained
    entries = [json.loads(line) for line in (root / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in entries] == list(range(5, 65, 5))
    assert summary["resumed_from_step"] == 10
    for entry in entries:
        assert set(entry) == {"step", "loss", "learning_rate", "examples_per_second", "elapsed_seconds"}
        assert np.isfinite(entry["loss"]) and entry["examples_per_second"] > 0
    # AdamW's schedule: warm-up over 6 steps to 3e-3, then linear decay to 0 at step 60; a log entry's
    # rate is the one its last step used (step s uses the rate at s − 1).
    for entry in entries:
        step = entry["step"] - 1
        expected = 3e-3 * step / 6 if step < 6 else 3e-3 * (60 - step) / 54
        assert entry["learning_rate"] == pytest.approx(expected, rel=1e-5)


def test_tensorboard_scalars_and_eval_results(trained):
    import tensorflow as tf

    root, summary = trained
    scalars = {}
    for path in glob.glob(str(root / "run" / "tensorboard" / "train" / "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(event.step)
    for tag in ("loss", "learning_rate", "examples_per_second"):
        assert sorted(scalars[tag]) == list(range(5, 65, 5)), tag
    results = json.loads((root / "run" / "eval_results.json").read_text())
    assert {"loss", "accuracy", "macro_f1", "per_class", "confusion_matrix", "warnings", "step"} <= set(results)
    assert results["step"] == 60 and results["warnings"] == []
    assert sorted(results["per_class"]) == LABELS
    assert sum(map(sum, results["confusion_matrix"]["counts"])) == results["examples"] == 40


def test_report_html_shows_curves_and_metrics(trained):
    root, _ = trained
    page = (root / "run" / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3  # loss, learning rate, examples/s
    for text in ("Training loss", "Learning rate", "Confusion matrix", "macro_f1", "no collapse detected", "adamw"):
        assert text in page, text


def _rows(path):
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in open(path, encoding="utf-8")]
    lines = open(path, encoding="utf-8").read().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


@pytest.mark.parametrize("extension", ["tsv", "jsonl", "parquet"])
def test_predict_writes_one_row_per_example_agreeing_with_evaluation(trained, extension, capsys):
    root, summary = trained
    output = str(root / f"predictions.{extension}")
    assert main(["predict", "--task", "classifier", "--model", str(root / "run"), "--data", str(root / "dev"),
                 "--output", output]) == 0
    assert f"wrote 40 classifier predictions to {output}" in capsys.readouterr().out
    rows = _rows(output)
    assert [int(row["example_id"]) for row in rows] == list(range(40))
    correct = 0
    for row, record in zip(rows, classifier_records(40, seed=6)):
        probabilities = [float(row["prob_" + label]) for label in LABELS]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
        assert row["label"] == LABELS[int(np.argmax(probabilities))]
        correct += row["label"] == LABELS[record["label_ids"]]
    assert correct / 40 == pytest.approx(summary["eval"]["accuracy"])
    assert not os.path.exists(output + ".incomplete")


def test_predict_tagging_gives_a_tag_per_word(tmp_path, capsys):
    data = write_dataset(str(tmp_path / "tags"), "tagging", {"max_seq_length": 16}, tagging_records(32),
                         extra_info={"labels": ["O", "B-PER", "I-PER"]})
    bert_config = write_bert_config(str(tmp_path), tiny_config())
    train(TrainConfig(task="tagging", data=data, bert_config=bert_config, output=str(tmp_path / "run"),
                      train_batch_size=16, learning_rate=3e-3, num_train_steps=4, verbose=False))
    output = str(tmp_path / "tags.jsonl")
    assert main(["predict", "--task", "tagging", "--model", str(tmp_path / "run"), "--data", data,
                 "--output", output]) == 0
    rows = _rows(output)
    records = list(tagging_records(32))
    assert [row["example_id"] for row in rows] == [record["example_id"] for record in records]
    for row, record in zip(rows, records):
        assert len(row["tags"]) == int(sum(record["label_weights"]))
        assert set(row["tags"]) <= {"O", "B-PER", "I-PER"}
    # The wrong task, or an output name without a known format: one line, no traceback.
    capsys.readouterr()
    assert main(["predict", "--task", "classifier", "--model", str(tmp_path / "run"), "--data", data,
                 "--output", str(tmp_path / "x.tsv")]) == 2
    assert "holds a 'tagging' model (model.json), not a classifier model" in capsys.readouterr().err
    assert main(["predict", "--task", "tagging", "--model", str(tmp_path / "run"), "--data", data,
                 "--output", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "use .tsv, .jsonl or .parquet" in err


def test_cli_is_quiet_on_cpu_and_reports_first_and_last_loss(trained, tmp_path):
    root, _ = trained
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run([sys.executable, "-m", "bertprep.cli", "train", "--task", "classifier",
                             "--data", str(root / "train"), "--bert-config", str(root / "bert_config.json"),
                             "--output", str(tmp_path / "run"), "--num-train-steps", "20", "--train-batch-size", "8"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    for noise in ("cuInit", "cuda drivers", "oneDNN", "absl::InitializeLog"):
        assert noise not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count("training runs on CPU (no GPU or TPU found)") == 1
    assert any(line.startswith("trained to step 20: loss ") and "(step 10) →" in line and line.endswith("(step 20)")
               for line in lines), result.stdout


def test_a_half_written_train_log_line_is_left_out_with_a_warning(tmp_path, capsys):
    """A killed run can leave a partial line that a resumed run appends after: the curves lose that entry,
    the run does not end in a traceback."""
    from bertprep.trainer.loop import TRAIN_LOG, read_train_log

    (tmp_path / TRAIN_LOG).write_text('{"step": 1, "loss": 0.9}\n{"step": 2, "lo{"step": 3, "loss": 0.7}\n\n',
                                      encoding="utf-8")
    assert read_train_log(str(tmp_path)) == [{"step": 1, "loss": 0.9}]
    assert "1 unreadable line(s) (2) left out of the training curves" in capsys.readouterr().err
