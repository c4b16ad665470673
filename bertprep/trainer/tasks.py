"""Per-task losses (in the training step) and evaluation statistics (accumulated on the host).

Losses follow the original scripts: masked LM cross entropy weighted by `masked_lm_weights` and
divided by their sum (+1e-5), plus NSP/SOP cross entropy; classifier softmax cross entropy (sigmoid
for multi-label, squared error for regression); SQuAD mean of start and end cross entropy; tagging
cross entropy weighted by `label_weights`. All in keras.ops so the benchmark can run them on JAX.
"""
import numpy as np
from keras import ops


def _sparse_cross_entropy(logits, labels):
    """−log softmax(logits)[label] per row (float32)."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    one_hot = ops.one_hot(ops.cast(labels, "int32"), ops.shape(logits)[-1], dtype="float32")
    return -ops.sum(log_probs * one_hot, axis=-1)


def _sigmoid_cross_entropy(logits, labels):
    """Numerically stable sigmoid cross entropy per row, averaged over the labels."""
    logits = ops.cast(logits, "float32")
    labels = ops.cast(labels, "float32")
    per_label = ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))
    return ops.mean(per_label, axis=-1)


def _batch_rows(features):
    return ops.cast(ops.shape(features["input_ids"])[0], "float32")


def loss_normalizers(task, features) -> dict:
    """The denominators of `task`'s loss over a whole (global) batch: weight sums and row counts.

    Under several replicas each replica divides its own sums by the global batch's denominators, and the
    replicas' losses and gradients are summed: the global batch's loss exactly, whatever the replica count
    (dividing each replica's mean by the replica count would weigh a replica holding few masked positions
    or few real examples like one holding many).
    """
    if task == "pretraining":
        return {"masked_lm_weight": ops.sum(ops.cast(features["masked_lm_weights"], "float32")),
                "rows": _batch_rows(features)}
    if task == "classifier":
        real = ops.sum(ops.cast(features["is_real_example"], "float32")) if "is_real_example" in features \
            else _batch_rows(features)
        return {"real_rows": real}
    if task == "squad":
        return {"rows": _batch_rows(features)}
    if task == "tagging":
        return {"label_weight": ops.sum(ops.cast(features["label_weights"], "float32"))}
    raise ValueError(f"unknown task {task!r}")


def _weighted_share(values, weights, total_weight):
    """This batch's part of a weighted mean whose weights sum to `total_weight` over the global batch."""
    return ops.sum(values * ops.cast(weights, "float32")) / (total_weight + 1e-5)


def compute_loss(task, outputs, features, multi_label=False, regression=False, normalizers=None):
    """The scalar training loss of one batch; with the global batch's `normalizers` (loss_normalizers), this
    replica's share of it (the shares of all replicas sum to the global batch's loss)."""
    if normalizers is None:
        normalizers = loss_normalizers(task, features)
    if task == "pretraining":
        per_position = _sparse_cross_entropy(outputs["masked_lm_logits"], features["masked_lm_ids"])
        loss = _weighted_share(per_position, features["masked_lm_weights"], normalizers["masked_lm_weight"])
        if "next_sentence_logits" in outputs:
            labels = ops.reshape(features["next_sentence_labels"], (-1,))
            loss = loss + ops.sum(_sparse_cross_entropy(outputs["next_sentence_logits"], labels)) / normalizers["rows"]
        return loss
    if task == "classifier":
        logits = outputs["logits"]
        weights = ops.cast(features["is_real_example"], "float32") if "is_real_example" in features \
            else ops.ones_like(logits[:, 0])
        if regression:
            per_example = ops.square(logits[:, 0] - ops.cast(features["label_ids"], "float32"))
        elif multi_label:
            per_example = _sigmoid_cross_entropy(logits, features["label_ids"])
        else:
            per_example = _sparse_cross_entropy(logits, features["label_ids"])
        return _weighted_share(per_example, weights, normalizers["real_rows"])
    if task == "squad":
        start = _sparse_cross_entropy(outputs["start_logits"], features["start_positions"])
        end = _sparse_cross_entropy(outputs["end_logits"], features["end_positions"])
        return (ops.sum(start) + ops.sum(end)) / (2.0 * normalizers["rows"])
    if task == "tagging":
        per_token = _sparse_cross_entropy(outputs["logits"], features["label_ids"])
        return _weighted_share(per_token, features["label_weights"], normalizers["label_weight"])
    raise ValueError(f"unknown task {task!r}")


def label_counts(task, features, num_labels, multi_label=False, regression=False):
    """(labels counted per class [num_labels], examples) in one batch, for the entropy of the training labels.

    Classifier: real examples per label (multi-label: positives per label); tagging: tagged words per
    tag. Tasks without a label distribution (pretraining, SQuAD, regression) count nothing ([0.0], 0).
    """
    if task == "classifier" and not regression:
        weights = ops.cast(features["is_real_example"], "float32") if "is_real_example" in features \
            else ops.ones_like(ops.cast(features["input_ids"][:, 0], "float32"))
        if multi_label:
            per_label = ops.cast(features["label_ids"], "float32") * weights[:, None]
        else:
            per_label = ops.one_hot(ops.cast(features["label_ids"], "int32"), num_labels, dtype="float32") \
                * weights[:, None]
        return ops.sum(per_label, axis=0), ops.sum(weights)
    if task == "tagging":
        weights = ops.cast(features["label_weights"], "float32")
        per_tag = ops.one_hot(ops.cast(features["label_ids"], "int32"), num_labels, dtype="float32")
        per_tag = per_tag * weights[..., None]
        return ops.sum(per_tag, axis=(0, 1)), ops.sum(weights)
    return ops.zeros((1,), "float32"), ops.zeros((), "float32")


def eval_outputs(task, outputs, features, multi_label=False, regression=False):
    """Small per-batch tensors the host accumulates (never the full MLM logits)."""
    if task == "pretraining":
        weights = ops.cast(features["masked_lm_weights"], "float32")
        predicted = ops.argmax(outputs["masked_lm_logits"], axis=-1)
        correct = ops.cast(ops.equal(ops.cast(predicted, "int32"), ops.cast(features["masked_lm_ids"], "int32")),
                           "float32")
        per_position = _sparse_cross_entropy(outputs["masked_lm_logits"], features["masked_lm_ids"])
        result = {
            "mlm_correct": ops.sum(correct * weights, axis=-1),
            "mlm_weight": ops.sum(weights, axis=-1),
            "mlm_loss_sum": ops.sum(per_position * weights, axis=-1),
        }
        if "next_sentence_logits" in outputs:
            result["nsp_predicted"] = ops.cast(ops.argmax(outputs["next_sentence_logits"], axis=-1), "int32")
            result["nsp_label"] = ops.cast(ops.reshape(features["next_sentence_labels"], (-1,)), "int32")
            result["nsp_loss"] = _sparse_cross_entropy(outputs["next_sentence_logits"], result["nsp_label"])
        return result
    if task == "classifier":
        logits = outputs["logits"]
        if regression:
            predicted = logits[:, 0]
            per_example = ops.square(logits[:, 0] - ops.cast(features["label_ids"], "float32"))
            probabilities = logits[:, :1]
        elif multi_label:
            predicted = ops.cast(logits > 0.0, "int32")
            per_example = _sigmoid_cross_entropy(logits, features["label_ids"])
            probabilities = ops.sigmoid(logits)
        else:
            predicted = ops.cast(ops.argmax(logits, axis=-1), "int32")
            per_example = _sparse_cross_entropy(logits, features["label_ids"])
            probabilities = ops.softmax(logits, axis=-1)
        result = {"predicted": predicted, "label": features["label_ids"], "loss": per_example,
                  "probabilities": probabilities}
        if "is_real_example" in features:
            result["weight"] = features["is_real_example"]
        if "example_id" in features:
            result["example_id"] = features["example_id"]
        return result
    if task == "tagging":
        weights = ops.cast(features["label_weights"], "float32")
        per_token = _sparse_cross_entropy(outputs["logits"], features["label_ids"])
        result = {"predicted": ops.cast(ops.argmax(outputs["logits"], axis=-1), "int32"),
                  "label": features["label_ids"], "weight": features["label_weights"],
                  "loss_sum": ops.sum(per_token * weights, axis=-1), "loss_weight": ops.sum(weights, axis=-1)}
        if "example_id" in features:
            result["example_id"] = features["example_id"]
        return result
    if task == "squad":
        return {"unique_id": features["unique_id"], "start_logits": outputs["start_logits"],
                "end_logits": outputs["end_logits"], "input_mask": features["input_mask"]}
    raise ValueError(f"unknown task {task!r}")


def _f1(true_positive, predicted, actual):
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / actual if actual else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def multi_label_f1(predicted: np.ndarray, labels: np.ndarray) -> dict:
    """Micro and macro F1 over multi-hot rows."""
    predicted, labels = predicted.astype(bool), labels.astype(bool)
    tp = (predicted & labels).sum(axis=0)
    micro = _f1(float(tp.sum()), float(predicted.sum()), float(labels.sum()))
    per_label = [_f1(float(tp[i]), float(predicted[:, i].sum()), float(labels[:, i].sum()))
                 for i in range(labels.shape[1])]
    return {"micro_f1": micro, "macro_f1": float(np.mean(per_label)) if per_label else 0.0,
            "exact_match": float(np.mean(np.all(predicted == labels, axis=1))) if len(labels) else 0.0}


def bio_entities(tags):
    """(type, start, end) spans from a BIO (or IOB2/BIOES-ish) tag sequence; stray I- starts an entity."""
    entities, current = [], None
    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, _, kind = str(tag).partition("-")
        if prefix in ("B", "S") or (prefix in ("I", "E", "M") and (current is None or current[0] != kind)):
            if current:
                entities.append((current[0], current[1], index))
            current = (kind, index)
        elif prefix not in ("I", "E", "M"):
            if current:
                entities.append((current[0], current[1], index))
            current = None
    return set(entities)


def entity_f1(predicted_sequences, label_sequences) -> dict:
    """Entity-level precision/recall/F1 (an entity counts when type and both ends match)."""
    tp = n_predicted = n_actual = 0
    for predicted, actual in zip(predicted_sequences, label_sequences):
        predicted_entities, actual_entities = bio_entities(predicted), bio_entities(actual)
        tp += len(predicted_entities & actual_entities)
        n_predicted += len(predicted_entities)
        n_actual += len(actual_entities)
    return {"entity_precision": tp / n_predicted if n_predicted else 0.0,
            "entity_recall": tp / n_actual if n_actual else 0.0,
            "entity_f1": _f1(float(tp), float(n_predicted), float(n_actual))}


def classification_metrics(predicted: np.ndarray, actual: np.ndarray, names) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: actual
    label, columns: predicted). Macro-F1 averages the classes that occur among the labels or the
    predictions (scikit-learn's default); a class never predicted has precision 0."""
    names = [str(name) for name in names]
    confusion = np.zeros((len(names), len(names)), np.int64)
    np.add.at(confusion, (actual.astype(np.int64), predicted.astype(np.int64)), 1)
    true_positive = np.diag(confusion)
    predicted_count, support = confusion.sum(axis=0), confusion.sum(axis=1)
    per_class, present_f1 = {}, []
    for index, name in enumerate(names):
        precision = true_positive[index] / predicted_count[index] if predicted_count[index] else 0.0
        recall = true_positive[index] / support[index] if support[index] else 0.0
        f1 = _f1(float(true_positive[index]), float(predicted_count[index]), float(support[index]))
        per_class[name] = {"precision": float(precision), "recall": float(recall), "f1": f1,
                           "support": int(support[index]), "predicted": int(predicted_count[index])}
        if support[index] or predicted_count[index]:
            present_f1.append(f1)
    return {"accuracy": float(true_positive.sum() / len(actual)) if len(actual) else 0.0,
            "macro_f1": float(np.mean(present_f1)) if present_f1 else 0.0,
            "per_class": per_class,
            "confusion_matrix": {"labels": names, "rows": "actual", "columns": "predicted",
                                 "counts": confusion.tolist()}}


def summarize(task, batches, labels=None, multi_label=False, regression=False, num_labels=None) -> dict:
    """Metrics from the list of per-batch `eval_outputs` (numpy)."""
    def stack(name):
        return np.concatenate([np.asarray(batch[name]) for batch in batches], axis=0) if batches else np.zeros(0)

    if task == "pretraining":
        weight = float(stack("mlm_weight").sum())
        metrics = {"masked_lm_accuracy": float(stack("mlm_correct").sum()) / max(weight, 1e-9),
                   "masked_lm_loss": float(stack("mlm_loss_sum").sum()) / max(weight, 1e-9)}
        metrics["loss"] = metrics["masked_lm_loss"]
        if batches and "nsp_label" in batches[0]:
            metrics["next_sentence_accuracy"] = float(np.mean(stack("nsp_predicted") == stack("nsp_label")))
            metrics["next_sentence_loss"] = float(np.mean(stack("nsp_loss")))
            metrics["loss"] += metrics["next_sentence_loss"]  # as the training loss adds them
        metrics["examples"] = int(len(stack("mlm_weight")))
        return metrics
    if task == "classifier":
        predicted, actual, losses = stack("predicted"), stack("label"), stack("loss")
        keep = stack("weight").astype(bool) if batches and "weight" in batches[0] else np.ones(len(actual), bool)
        predicted, actual, losses = predicted[keep], actual[keep], losses[keep]
        if regression:
            metrics = {"mse": float(np.mean((predicted - actual) ** 2)) if len(actual) else 0.0}
            if len(actual) > 1 and np.std(predicted) > 0 and np.std(actual) > 0:
                metrics["pearson"] = float(np.corrcoef(predicted, actual)[0, 1])
        elif multi_label:
            metrics = multi_label_f1(predicted, actual)
        else:
            count = num_labels or (len(labels) if labels else int(max(predicted.max(initial=0),
                                                                        actual.max(initial=0))) + 1)
            names = list(labels) if labels and len(labels) == count else [str(i) for i in range(count)]
            metrics = classification_metrics(predicted, actual, names)
        metrics["loss"] = float(np.mean(losses)) if len(losses) else 0.0
        metrics["examples"] = int(len(actual))
        return metrics
    if task == "tagging":
        predicted, actual, weight = stack("predicted"), stack("label"), stack("weight")
        mask = weight > 0
        metrics = {"token_accuracy": float(np.mean(predicted[mask] == actual[mask])) if mask.any() else 0.0,
                   "loss": float(stack("loss_sum").sum() / max(float(stack("loss_weight").sum()), 1e-9))}
        names = list(labels) if labels else [str(i) for i in range(int(max(predicted.max(initial=0),
                                                                            actual.max(initial=0))) + 1)]
        if labels:
            predicted_tags = [[names[i] for i in row[m]] for row, m in zip(predicted, mask)]
            actual_tags = [[names[i] for i in row[m]] for row, m in zip(actual, mask)]
            metrics.update(entity_f1(predicted_tags, actual_tags))
        tag_ids, counts = np.unique(predicted[mask], return_counts=True)
        metrics["predicted_tags"] = {names[i] if i < len(names) else str(i): int(n) for i, n in zip(tag_ids, counts)}
        metrics["examples"] = int(len(actual))
        return metrics
    raise ValueError(f"no summary for task {task!r}")
