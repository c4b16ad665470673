"""Fine-tuning tasks beyond single-label classification: tagging, SQuAD, multi-label; their metrics."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import CLS, SEP, tiny_config, write_bert_config, write_dataset  # noqa: E402

from bertprep.seeding import numpy_rng_for  # noqa: E402
from bertprep.trainer import tasks  # noqa: E402

SEQ = 16
TAGS = ["O", "B-PER", "I-PER"]


def sentence(index, seed):
    """[CLS] body [SEP] padded; the body holds the span 7 8 ('a person') at a random place in odd sentences."""
    rng = numpy_rng_for(seed, "sentence", index)
    length = int(rng.integers(6, SEQ - 2))
    body = rng.integers(10, 100, size=length).tolist()
    start = None
    if index % 2:
        start = int(rng.integers(0, length - 1))
        body[start:start + 2] = [7, 8]
    tokens = [CLS] + body + [SEP]
    pad = SEQ - len(tokens)
    return tokens + [0] * pad, [1] * len(tokens) + [0] * pad, (None if start is None else start + 1)


def tagging_records(count, seed):
    for index in range(count):
        ids, mask, start = sentence(index, seed)
        labels = [0] * SEQ
        if start is not None:
            labels[start], labels[start + 1] = 1, 2
        weights = [float(m) for m in mask]
        weights[0] = weights[sum(mask) - 1] = 0.0  # [CLS] and [SEP] carry no tag
        yield {"input_ids": ids, "input_mask": mask, "segment_ids": [0] * SEQ, "label_ids": labels,
               "label_weights": weights, "example_id": index}


def squad_records(count, seed, train=True):
    for index in range(count):
        ids, mask, start = sentence(index, seed)
        record = {"unique_id": 1000 + index, "input_ids": ids, "input_mask": mask, "segment_ids": [0] * SEQ}
        if train:
            record.update(start_positions=start or 0, end_positions=(start + 1) if start else 0,
                          is_impossible=int(start is None))
        yield record


def multi_label_records(count, seed):
    for index in range(count):
        rng = numpy_rng_for(seed, "multi", index)
        body = rng.integers(10, 100, size=10).tolist()
        labels = [int(b) for b in rng.integers(0, 2, size=3)]
        for slot, present in enumerate(labels):
            if present:
                body[slot * 3] = 5 + slot  # tokens 5, 6, 7 mark labels 0, 1, 2
        tokens = [CLS] + body + [SEP]
        pad = SEQ - len(tokens)
        yield {"input_ids": tokens + [0] * pad, "input_mask": [1] * len(tokens) + [0] * pad,
               "segment_ids": [0] * SEQ, "label_ids": labels, "is_real_example": 1, "example_id": index}


def run(tmp_path, task, train_dir, eval_dir, steps=120, learning_rate=2e-3):
    from bertprep.trainer.loop import TrainConfig, train

    bert_config = write_bert_config(str(tmp_path), tiny_config())
    config = TrainConfig(task=task, data=train_dir, eval_data=eval_dir, bert_config=bert_config,
                         output=str(tmp_path / "out"), train_batch_size=16, learning_rate=learning_rate,
                         num_train_steps=steps, steps_per_loop=steps // 2, verbose=False)
    return train(config)


def test_bio_entities_and_entity_f1():
    assert tasks.bio_entities(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == {
        ("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 5, 6)}
    scores = tasks.entity_f1([["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"]],
                             [["B-PER", "I-PER", "O"], ["B-LOC", "I-LOC", "O"]])
    assert scores["entity_precision"] == 0.5 and scores["entity_recall"] == 0.5 and scores["entity_f1"] == 0.5


def test_multi_label_f1_micro_and_macro():
    predicted = np.array([[1, 0, 1], [0, 1, 0]])
    labels = np.array([[1, 0, 0], [0, 1, 0]])
    scores = tasks.multi_label_f1(predicted, labels)
    assert scores["micro_f1"] == pytest.approx(0.8)  # tp 2, predicted 3, actual 2
    assert scores["macro_f1"] == pytest.approx((1 + 1 + 0) / 3)
    assert scores["exact_match"] == 0.5


def test_regression_and_multi_label_losses():
    logits = np.array([[2.0, -1.0], [0.5, 0.0]], "float32")
    features = {"label_ids": np.array([[1, 0], [0, 1]], "float32"), "is_real_example": np.array([1, 1])}
    expected = np.mean([np.log1p(np.exp(-2.0)) + np.log1p(np.exp(-1.0)),
                        np.log1p(np.exp(0.5)) + np.log1p(np.exp(-0.0))]) / 2
    loss = tasks.compute_loss("classifier", {"logits": logits}, features, multi_label=True)
    assert float(np.asarray(loss)) == pytest.approx(expected, rel=1e-4)
    regression = tasks.compute_loss("classifier", {"logits": logits[:, :1]},
                                    {"label_ids": np.array([1.0, 0.0], "float32"),
                                     "is_real_example": np.array([1, 0])}, regression=True)
    assert float(np.asarray(regression)) == pytest.approx(1.0, rel=1e-4)  # only the real example: (2-1)^2


def test_tagging_learns_entities(tmp_path):
    info = {"labels": TAGS}
    train_dir = write_dataset(str(tmp_path / "train"), "tagging", {"max_seq_length": SEQ}, tagging_records(160, 1),
                              extra_info=info)
    dev_dir = write_dataset(str(tmp_path / "dev"), "tagging", {"max_seq_length": SEQ}, tagging_records(48, 2),
                            extra_info=info)
    summary = run(tmp_path, "tagging", train_dir, dev_dir)
    print("tagging:", summary["eval"])
    assert summary["eval"]["entity_f1"] >= 0.9 and summary["eval"]["token_accuracy"] >= 0.95


def test_squad_trains_and_writes_logits_for_squad_predict(tmp_path):
    train_dir = write_dataset(str(tmp_path / "train"), "squad_train", {"max_seq_length": SEQ},
                              squad_records(160, 3))
    eval_dir = write_dataset(str(tmp_path / "eval"), "squad_eval", {"max_seq_length": SEQ},
                             squad_records(40, 4, train=False))
    summary = run(tmp_path, "squad", train_dir, eval_dir)
    lines = [json.loads(line) for line in open(summary["eval"]["logits_file"], encoding="utf-8")]
    assert [line["unique_id"] for line in lines] == list(range(1000, 1040))
    assert all(len(line["start_logits"]) == SEQ == len(line["end_logits"]) for line in lines)
    correct = 0
    for index, line in enumerate(lines):
        _, _, start = sentence(index, 4)
        expected = (start or 0, (start + 1) if start else 0)
        correct += (int(np.argmax(line["start_logits"])), int(np.argmax(line["end_logits"]))) == expected
    print("squad spans right:", correct, "of", len(lines))
    assert correct >= 0.8 * len(lines)


def test_multi_label_classifier_learns(tmp_path):
    config = {"max_seq_length": SEQ, "num_labels": 3, "multi_label": True}
    info = {"labels": ["a", "b", "c"]}
    train_dir = write_dataset(str(tmp_path / "train"), "classifier", config, multi_label_records(192, 5),
                              extra_info=info)
    dev_dir = write_dataset(str(tmp_path / "dev"), "classifier", config, multi_label_records(48, 6), extra_info=info)
    summary = run(tmp_path, "classifier", train_dir, dev_dir, steps=300, learning_rate=5e-3)
    print("multi-label:", summary["losses"], summary["eval"])
    assert summary["losses"][-1]["loss"] < 0.5 * summary["losses"][0]["loss"]
    assert summary["eval"]["micro_f1"] >= 0.8 and summary["eval"]["macro_f1"] >= 0.75  # chance: about 0.5
