"""Training on tiny configs: loss falls, a classifier learns, resume continues, export reloads."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import (classifier_records, random_features, tiny_config, write_bert_config,  # noqa: E402
                          write_dataset)

tf = pytest.importorskip("tensorflow")

from bertprep.cli import main  # noqa: E402
from bertprep.errors import BertprepError  # noqa: E402
from bertprep.trainer import checkpoint_import  # noqa: E402
from bertprep.trainer.export import export  # noqa: E402
from bertprep.trainer.heads import build_task_model  # noqa: E402
from bertprep.trainer.loop import TrainConfig, train  # noqa: E402

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Records made by the `pretraining` job from the bundled demo corpus, and a tiny config for its vocabulary."""
    from bertprep.commands.demo import build_vocabulary, demo_corpus_path

    root = tmp_path_factory.mktemp("trainer")
    vocabulary = build_vocabulary(demo_corpus_path())
    (root / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    assert main(["pretraining", "--input", demo_corpus_path(), "--vocab", str(root / "vocab.txt"),
                 "--output", str(root / "pretraining"), "--max-seq-length", "32", "--max-predictions-per-seq", "5",
                 "--dupe-factor", "4", "--num-shards", "2"]) == 0
    config = tiny_config(vocab_size=len(vocabulary))
    return root, write_bert_config(str(root), config)


def workdir_config():
    from bertprep.commands.demo import build_vocabulary, demo_corpus_path

    return tiny_config(vocab_size=len(build_vocabulary(demo_corpus_path())))


def pretraining_config(root, bert_config, output, **overrides):
    values = dict(task="pretraining", data=str(root / "pretraining"), bert_config=bert_config, output=str(output),
                  train_batch_size=16, learning_rate=2e-3, num_train_steps=120, steps_per_loop=20,
                  save_checkpoints_steps=60, warmup_proportion=0.1, verbose=False)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def trained(workdir):
    root, bert_config = workdir
    output = root / "pretrained"
    summary = train(pretraining_config(root, bert_config, output, eval_data=str(root / "pretraining")))
    return output, summary


def test_pretraining_loss_falls(trained):
    output, summary = trained
    losses = [entry["loss"] for entry in summary["losses"]]
    print("pretraining loss by 20 steps:", ["%.3f" % loss for loss in losses], summary["eval"])
    vocab_size = workdir_config().vocab_size
    # Untrained: about ln(vocab) + ln(2) (7.1 for the demo vocabulary's 619 entries).
    assert losses[0] > 0.8 * (np.log(vocab_size) + np.log(2))
    assert losses[-1] < losses[0] - 1.0
    assert summary["eval"]["masked_lm_accuracy"] > 10.0 / vocab_size
    assert summary["step"] == 120
    assert sorted(os.listdir(output / "checkpoints")) == sorted(
        ["checkpoint", "ckpt-60.index", "ckpt-60.data-00000-of-00001", "ckpt-120.index",
         "ckpt-120.data-00000-of-00001"])
    assert os.listdir(output / "tensorboard" / "train")  # event files with the loss scalars
    assert json.loads((output / "eval_results.json").read_text())["step"] == 120


def test_resume_continues_from_saved_step_and_matches_an_uninterrupted_run(workdir):
    root, bert_config = workdir
    common = dict(num_train_steps=40, steps_per_loop=10, save_checkpoints_steps=20)
    stopped = train(pretraining_config(root, bert_config, root / "resumed", max_steps_this_run=20, **common))
    assert stopped["step"] == 20
    resumed = train(pretraining_config(root, bert_config, root / "resumed", **common))
    assert resumed["resumed_from_step"] == 20
    assert [entry["step"] for entry in resumed["losses"]] == [30, 40]
    straight = train(pretraining_config(root, bert_config, root / "straight", **common))
    # Same data order (the resumed run skips what was consumed) and same optimizer state: same losses.
    np.testing.assert_allclose([e["loss"] for e in resumed["losses"]],
                               [e["loss"] for e in straight["losses"][2:]], rtol=1e-4)


def test_classifier_learns_a_separable_task(tmp_path):
    config = {"max_seq_length": 16, "num_labels": 2}
    write_dataset(str(tmp_path / "train"), "classifier", config, classifier_records(192, seed=5),
                  extra_info={"labels": ["0", "1"]})
    write_dataset(str(tmp_path / "dev"), "classifier", config, classifier_records(64, seed=6),
                  extra_info={"labels": ["0", "1"]})
    bert_config = write_bert_config(str(tmp_path), tiny_config())
    summary = train(TrainConfig(task="classifier", data=str(tmp_path / "train"), eval_data=str(tmp_path / "dev"),
                                bert_config=bert_config, output=str(tmp_path / "out"), train_batch_size=16,
                                learning_rate=1e-3, num_train_steps=150, steps_per_loop=50, verbose=False))
    print("classifier:", summary["losses"], summary["eval"])
    assert summary["eval"]["accuracy"] >= 0.9
    assert summary["eval"]["examples"] == 64


def test_model_data_mismatches_are_refused_before_training(workdir, tmp_path):
    root, bert_config = workdir
    data = str(root / "pretraining")
    with pytest.raises(BertprepError, match="--max-seq-length 64 but .* max_seq_length 32"):
        train(pretraining_config(root, bert_config, tmp_path / "a", max_seq_length=64))
    with pytest.raises(BertprepError, match="--max-predictions-per-seq 20 but .* max_predictions_per_seq 5"):
        train(pretraining_config(root, bert_config, tmp_path / "b", max_predictions_per_seq=20))
    small = write_bert_config(str(tmp_path), tiny_config(vocab_size=90))
    vocab_size = workdir_config().vocab_size
    with pytest.raises(BertprepError, match="vocabulary of %d entries but the model's vocab_size is 90" % vocab_size):
        train(pretraining_config(root, small, tmp_path / "c"))
    with pytest.raises(BertprepError, match="holds 'pretraining' records but --task classifier needs classifier"):
        train(TrainConfig(task="classifier", data=data, bert_config=bert_config, output=str(tmp_path / "d")))
    short = tmp_path / "short"
    short.mkdir()
    short_config = write_bert_config(str(short), workdir_config().__class__(
        **dict(workdir_config().to_dict(), max_position_embeddings=16)))
    with pytest.raises(BertprepError, match="max_seq_length 32 but the model's max_position_embeddings is 16"):
        train(pretraining_config(root, short_config, tmp_path / "e"))
    labelled = write_dataset(str(tmp_path / "labelled"), "classifier", {"max_seq_length": 16, "num_labels": 2},
                             classifier_records(8), extra_info={"labels": ["neg", "pos"]})
    with pytest.raises(BertprepError, match="--num-labels 3 but .* has 2 labels"):
        train(TrainConfig(task="classifier", data=labelled, bert_config=bert_config, output=str(tmp_path / "f"),
                          num_labels=3))
    assert not os.path.exists(tmp_path / "a")  # refused before anything was written


def test_export_drops_optimizer_state_and_reloads(trained, tmp_path, capsys):
    output, _ = trained
    result = export(str(output), str(tmp_path / "export"))
    printed = capsys.readouterr().out
    print(printed)
    assert "→ weights only" in printed
    # Adam keeps two slots per weight: the training checkpoint is about three times the weights.
    assert result["new_bytes"] < result["old_bytes"] / 2.5

    config = workdir_config()
    features = dict(random_features(2, 32, config.vocab_size), masked_lm_positions=np.array([[1, 2], [3, 4]]))
    from_training = build_task_model("pretraining", config)
    checkpoint_import.load_pretrained(from_training, str(output))
    from_export = build_task_model("pretraining", config)
    report = checkpoint_import.load_pretrained(from_export, str(tmp_path / "export"))
    assert report.missing == []
    expected = from_training(features)
    got = from_export(features)
    for name in expected:
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(expected[name]), rtol=1e-6)
    encoded = from_training.encode(features)

    # A classifier initialised from the export gets the encoder and reports the new head as missing.
    classifier = build_task_model("classifier", config, num_labels=4)
    report = checkpoint_import.load_pretrained(classifier, str(tmp_path / "export"))
    assert [path.split("/")[-2:] for path in report.missing] == [["classifier", "kernel"], ["classifier", "bias"]]
    np.testing.assert_allclose(np.asarray(classifier.encode(features)["pooled_output"]),
                               np.asarray(encoded["pooled_output"]), rtol=1e-6)

    loaded = tf.saved_model.load(str(tmp_path / "export" / "saved_model"))
    serving = loaded.signatures["serving_default"]
    served = serving(input_ids=tf.constant(features["input_ids"]), input_mask=tf.constant(features["input_mask"]),
                     segment_ids=tf.constant(features["segment_ids"]))
    assert sorted(served) == ["encoder_outputs", "pooled_output", "sequence_output"]
    assert tuple(served["encoder_outputs"].shape) == (2, config.num_hidden_layers, 32, config.hidden_size)
    np.testing.assert_allclose(served["sequence_output"].numpy(), np.asarray(encoded["sequence_output"]),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served["encoder_outputs"].numpy()[:, -1], served["sequence_output"].numpy())


def test_cli_train_export_and_one_line_errors(workdir, tmp_path, capsys):
    root, bert_config = workdir
    code = main(["train", "--task", "pretraining", "--data", str(root / "pretraining"), "--bert-config", bert_config,
                 "--output", str(tmp_path / "run"), "--num-train-steps", "4", "--steps-per-loop", "2",
                 "--train-batch-size", "8"])
    assert code == 0
    assert "trained to step 4" in capsys.readouterr().out
    assert main(["export", "--checkpoint", str(tmp_path / "run"), "--output", str(tmp_path / "exp"),
                 "--no-saved-model", "--google-format"]) == 0
    # The Google-format copy loads with the original names.
    model = build_task_model("pretraining", workdir_config())
    report = checkpoint_import.load_pretrained(model, str(tmp_path / "exp" / "bert_model.ckpt"))
    assert report.missing == [] and report.unused == []
    capsys.readouterr()
    code = main(["train", "--task", "pretraining", "--data", str(root / "pretraining"), "--bert-config", bert_config,
                 "--output", str(tmp_path / "bad"), "--max-seq-length", "128"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "max_seq_length 32" in err and "--max-seq-length 128" in err
