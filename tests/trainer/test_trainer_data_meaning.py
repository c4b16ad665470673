"""Training data, evaluation data, the initial checkpoint and predict's input must agree on what each id
means (vocabulary, label list and order, tag list, lengths, task): otherwise the run stops before training
with one line naming both values. The label-order case uses data written by the real `classifier` job."""
import json
import os

import pytest

from bertprep.errors import BertprepError
from bertprep.trainer import data as data_lib
from bertprep.trainer.loop import TrainConfig, prepare, train, write_model_description
from trainer_data import classifier_records, tagging_records, tiny_config, write_bert_config, write_dataset


def _classifier_job(zh_vocab, source, output, labels):
    from bertprep.cli import main

    assert main(["classifier", "--input", str(source), "--vocab", zh_vocab, "--output", str(output),
                 "--max-seq-length", "8", "--labels", labels]) == 0
    return str(output)


def _refusal(config) -> str:
    with pytest.raises(BertprepError) as caught:
        train(config)
    message = str(caught.value)
    assert "\n" not in message
    assert not os.path.exists(os.path.join(config.output, "checkpoints"))  # stopped before training
    return message


def test_evaluation_data_with_another_label_order_is_refused(zh_vocab, tmp_path):
    source = tmp_path / "rows.tsv"
    source.write_text("text_a\tlabel\n好\t1\n差\t0\n好吃\t1\n", encoding="utf-8")
    train_dir = _classifier_job(zh_vocab, source, tmp_path / "train", "0,1")
    eval_dir = _classifier_job(zh_vocab, source, tmp_path / "eval", "1,0")
    with open(os.path.join(train_dir, "info.json")) as handle:
        vocab_size = json.load(handle).get("vocab_size") or sum(1 for _ in open(zh_vocab, encoding="utf-8"))
    bert_config = write_bert_config(str(tmp_path), tiny_config(vocab_size=vocab_size))
    config = TrainConfig(task="classifier", data=train_dir, eval_data=eval_dir, bert_config=bert_config,
                         output=str(tmp_path / "out"), num_train_steps=1)
    message = _refusal(config)
    assert f"the evaluation data {eval_dir} has label order 1,0 but the training data {train_dir} has 0,1" in message
    config.eval_data = _classifier_job(zh_vocab, source, tmp_path / "same", "0,1")
    _, infos = prepare(config)
    assert infos["eval"].labels == infos["train"].labels == ["0", "1"]  # the same order passes


def _tagging(directory, tags, seq=16, extra=None):
    return write_dataset(directory, "tagging", {"max_seq_length": seq}, tagging_records(4, seq_length=seq),
                         extra_info={"labels": tags, **(extra or {})})


@pytest.mark.parametrize("change, expected", [
    ({"tags": ["O", "B-LOC", "I-LOC"]}, "has labels O,B-LOC,I-LOC but the training data"),
    ({"seq": 32}, "has max seq length 32 but the training data"),
    ({"extra": {"vocab_fingerprint": "b" * 64}}, "has vocab fingerprint bbbbbbbbbbbb but the training data"),
])
def test_tag_list_length_and_vocabulary_must_agree(tmp_path, change, expected):
    tags = ["O", "B-PER", "I-PER"]
    train_dir = _tagging(str(tmp_path / "train"), tags, extra={"vocab_fingerprint": "a" * 64})
    eval_dir = _tagging(str(tmp_path / "eval"), change.get("tags", tags), change.get("seq", 16),
                        change.get("extra", {"vocab_fingerprint": "a" * 64}))
    config = TrainConfig(task="tagging", data=train_dir, eval_data=eval_dir, output=str(tmp_path / "out"),
                         bert_config=write_bert_config(str(tmp_path), tiny_config()), num_train_steps=1)
    assert expected in _refusal(config)


def test_initial_checkpoint_trained_with_other_labels_is_refused(tmp_path):
    train_dir = write_dataset(str(tmp_path / "train"), "classifier", {"max_seq_length": 16}, classifier_records(4),
                              extra_info={"labels": ["neg", "pos"]})
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    write_model_description(str(earlier), "classifier", {"num_labels": 2, "multi_label": False, "regression": False,
                                                          "labels": ["pos", "neg"]})
    config = TrainConfig(task="classifier", data=train_dir, output=str(tmp_path / "out"), init_checkpoint=str(earlier),
                         bert_config=write_bert_config(str(tmp_path), tiny_config()), num_train_steps=1)
    message = _refusal(config)
    assert f"the data {train_dir} has label order neg,pos but the initial checkpoint {earlier} (model.json) " \
           "has pos,neg" in message


def test_predict_input_with_other_labels_is_refused_before_tensorflow(tmp_path):
    from bertprep.trainer.predict import predict

    data_dir = write_dataset(str(tmp_path / "data"), "classifier", {"max_seq_length": 16}, classifier_records(4),
                             extra_info={"labels": ["1", "0"]})
    model = tmp_path / "model"
    model.mkdir()
    write_model_description(str(model), "classifier", {"num_labels": 2, "multi_label": False, "regression": False,
                                                        "labels": ["0", "1"], "max_seq_length": 16})
    (model / "bert_config.json").write_text(json.dumps(tiny_config().to_dict()))
    (model / "ckpt-1.index").write_text("")
    with pytest.raises(BertprepError) as caught:
        predict("classifier", str(model), data_dir, str(tmp_path / "out.tsv"))
    assert f"the input {data_dir} has label order 1,0 but the model {model} (model.json) has 0,1" in str(caught.value)


def test_meaning_of_a_data_set_names_its_task_family(tmp_path):
    record = {"unique_id": 1, "input_ids": [1] * 16, "input_mask": [1] * 16, "segment_ids": [0] * 16}
    directory = write_dataset(str(tmp_path / "squad"), "squad_eval", {"max_seq_length": 16}, [record])
    assert data_lib.data_meaning(data_lib.read_dataset_info(directory))["task"] == "squad"
