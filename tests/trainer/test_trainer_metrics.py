"""Every evaluation metric against values computed by hand on small arrays."""
import math

import numpy as np
import pytest

pytest.importorskip("keras")

from bertprep.trainer import tasks  # noqa: E402


def test_classifier_metrics_accuracy_macro_f1_per_class_and_confusion_matrix():
    actual = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    metrics = tasks.classification_metrics(predicted, actual, ["neg", "pos", "mixed"])
    assert metrics["confusion_matrix"]["counts"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics["confusion_matrix"]["labels"] == ["neg", "pos", "mixed"]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    neg, pos, mixed = (metrics["per_class"][name] for name in ("neg", "pos", "mixed"))
    assert (neg["precision"], neg["recall"], neg["f1"], neg["support"]) == pytest.approx((1 / 2, 1 / 2, 1 / 2, 2))
    assert (pos["precision"], pos["recall"], pos["f1"], pos["support"]) == pytest.approx((2 / 3, 1.0, 0.8, 2))
    assert (mixed["precision"], mixed["recall"], mixed["f1"]) == pytest.approx((1.0, 1 / 2, 2 / 3))
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_classifier_metrics_class_never_predicted_and_class_absent():
    # Class 1 is never predicted (precision 0, F1 0); class 2 neither occurs nor is predicted (left out of macro-F1).
    metrics = tasks.classification_metrics(np.array([0, 0, 0]), np.array([0, 0, 1]), ["a", "b", "c"])
    assert metrics["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0}
    assert metrics["per_class"]["a"]["f1"] == pytest.approx(0.8)  # precision 2/3, recall 1
    assert metrics["macro_f1"] == pytest.approx(0.4)


def test_classifier_eval_outputs_and_summary_loss_skip_padding_examples():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [5.0, -5.0]], "float32")
    features = {"label_ids": np.array([0, 0, 1]), "is_real_example": np.array([1, 1, 0]),
                "example_id": np.array([10, 11, 12])}
    batch = {name: np.asarray(value) for name, value in
             tasks.eval_outputs("classifier", {"logits": logits}, features).items()}
    expected_losses = [math.log1p(math.exp(-2.0)), math.log1p(math.exp(1.0)), math.log1p(math.exp(10.0))]
    np.testing.assert_allclose(batch["loss"], expected_losses, rtol=1e-5)
    np.testing.assert_allclose(batch["probabilities"].sum(axis=1), 1.0, rtol=1e-6)
    assert batch["predicted"].tolist() == [0, 1, 0]
    metrics = tasks.summarize("classifier", [batch], labels=["0", "1"], num_labels=2)
    assert metrics["examples"] == 2  # the padding example is not counted
    assert metrics["loss"] == pytest.approx(np.mean(expected_losses[:2]), rel=1e-5)
    assert metrics["accuracy"] == 0.5 and metrics["confusion_matrix"]["counts"] == [[1, 1], [0, 0]]


def test_multi_label_summary_micro_macro_f1_and_loss():
    logits = np.array([[3.0, -1.0, 2.0], [-2.0, 1.0, -3.0]], "float32")
    labels = np.array([[1, 0, 0], [0, 1, 0]])
    batch = {name: np.asarray(value) for name, value in tasks.eval_outputs(
        "classifier", {"logits": logits}, {"label_ids": labels, "is_real_example": np.array([1, 1])},
        multi_label=True).items()}
    metrics = tasks.summarize("classifier", [batch], multi_label=True)
    # predicted [[1,0,1],[0,1,0]]: tp 2, predicted 3, actual 2 → micro 0.8; per label F1 1, 1, 0.
    assert metrics["micro_f1"] == pytest.approx(0.8)
    assert metrics["macro_f1"] == pytest.approx(2 / 3)
    def softplus(x):  # sigmoid cross entropy: softplus(−z) for label 1, softplus(z) for label 0
        return math.log1p(math.exp(x))

    expected = np.mean([(softplus(-3) + softplus(-1) + softplus(2)) / 3,
                        (softplus(-2) + softplus(-1) + softplus(-3)) / 3])
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)


def test_tagging_summary_entity_scores_token_accuracy_loss_and_predicted_tags():
    names = ["O", "B-PER", "I-PER", "B-LOC"]
    # Words at positions 1..4 (weight 1); position 0 and 5 carry no tag.
    actual = np.array([[0, 1, 2, 0, 3, 0]])
    predicted = np.array([[0, 1, 2, 0, 0, 3]])
    weight = np.array([[0, 1, 1, 1, 1, 0]], "float32")
    batch = {"predicted": predicted, "label": actual, "weight": weight,
             "loss_sum": np.array([2.0]), "loss_weight": np.array([4.0])}
    metrics = tasks.summarize("tagging", [batch], labels=names)
    # Words: actual B-PER I-PER O B-LOC, predicted B-PER I-PER O O: PER found, LOC missed.
    assert metrics["token_accuracy"] == pytest.approx(3 / 4)
    assert (metrics["entity_precision"], metrics["entity_recall"]) == pytest.approx((1.0, 0.5))
    assert metrics["entity_f1"] == pytest.approx(2 / 3)
    assert metrics["loss"] == pytest.approx(0.5)
    assert metrics["predicted_tags"] == {"B-PER": 1, "I-PER": 1, "O": 2}


def test_pretraining_summary_masked_lm_and_next_sentence():
    batch = {"mlm_correct": np.array([2.0, 0.0]), "mlm_weight": np.array([3.0, 1.0]),
             "mlm_loss_sum": np.array([3.0, 5.0]), "nsp_predicted": np.array([1, 0]), "nsp_label": np.array([1, 1]),
             "nsp_loss": np.array([0.2, 1.0])}
    metrics = tasks.summarize("pretraining", [batch])
    assert metrics["masked_lm_accuracy"] == pytest.approx(0.5)  # 2 of 4 weighted positions
    assert metrics["masked_lm_loss"] == pytest.approx(2.0)  # 8 / 4
    assert metrics["next_sentence_accuracy"] == 0.5
    assert metrics["next_sentence_loss"] == pytest.approx(0.6)
    assert metrics["loss"] == pytest.approx(2.6)
