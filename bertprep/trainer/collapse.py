"""Signs that fine-tuning learned nothing, so that a collapsed model never passes for a trained one.

Two signs, checked after training and evaluation:
- the model predicts one class for every evaluation example (classifier) or one tag for every word
  (tagging) while the labels hold several;
- the training loss never fell below the loss of predicting the label distribution, the entropy of
  the labels it trained on: what a model that ignores its inputs reaches. Each logged loss is a
  mean over a few batches, and an input-blind model's batch means scatter around that entropy (a
  batch with more of the common class scores below it), so a loss must fall more than
  `LOSS_TOLERANCE` (a share of the entropy) below it to count as learning.
"""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

LOSS_TOLERANCE = 0.02


class LabelCounter:
    """Counts the labels of the training batches (host side), for the entropy of their distribution.

    Single-label classifier and tagging: a count per label id (tagging: per tagged word). Multi-label:
    positives per label and the example count. Other tasks are not counted.
    """

    def __init__(self, task: str, num_labels: int, multi_label: bool = False, regression: bool = False):
        self.task, self.num_labels, self.multi_label = task, int(num_labels), multi_label
        self.enabled = task == "tagging" or (task == "classifier" and not regression)
        self.counts = np.zeros(self.num_labels, np.float64)
        self.examples = 0.0

    def add(self, counts, examples) -> None:
        self.counts += np.asarray(counts, np.float64)
        self.examples += float(examples)

    def prior_loss(self) -> Optional[float]:
        """Cross entropy of always predicting the label distribution: its entropy in nats (None: unknown)."""
        if not self.enabled or self.counts.sum() <= 0:
            return None
        if self.multi_label:
            if self.examples <= 0:
                return None
            shares = np.clip(self.counts / self.examples, 0.0, 1.0)
            return float(np.mean([_binary_entropy(p) for p in shares]))
        shares = self.counts / self.counts.sum()
        return float(-sum(p * math.log(p) for p in shares if p > 0))


def _binary_entropy(p: float) -> float:
    return 0.0 if p <= 0.0 or p >= 1.0 else -(p * math.log(p) + (1 - p) * math.log(1 - p))


def loss_warning(losses: Sequence[dict], prior_loss: Optional[float]) -> Optional[str]:
    """A warning when no logged training loss fell clearly below `prior_loss`."""
    if prior_loss is None or prior_loss <= 0 or not losses:
        return None
    lowest = min(losses, key=lambda entry: entry["loss"])
    if lowest["loss"] < prior_loss * (1.0 - LOSS_TOLERANCE):
        return None
    return (f"the training loss never fell below {prior_loss:.4f}, the loss of predicting the label distribution "
            f"(lowest logged: {lowest['loss']:.4f} at step {lowest['step']}): the model learned nothing from its "
            f"inputs (a lower --learning-rate or another --seed may help)")


def prediction_warning(task: str, metrics: dict) -> Optional[str]:
    """A warning when evaluation predicted a single class (tag) for everything while the labels hold several."""
    if task == "classifier" and "confusion_matrix" in metrics:
        matrix = np.asarray(metrics["confusion_matrix"]["counts"])
        names = metrics["confusion_matrix"]["labels"]
        predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
        if (predicted > 0).sum() == 1 and (actual > 0).sum() > 1:
            only = names[int(np.argmax(predicted))]
            return (f"the model predicts label {only!r} for every one of the {int(matrix.sum())} evaluation "
                    f"examples (the labels hold {(actual > 0).sum()} classes): it has collapsed to one class")
    if task == "tagging" and metrics.get("predicted_tags"):
        tags: Dict[str, int] = metrics["predicted_tags"]
        if len(tags) == 1 and metrics.get("token_accuracy", 0.0) < 1.0:
            (only, count), = tags.items()
            return (f"the model predicts tag {only!r} for every one of the {count} evaluated words while the "
                    f"labels hold other tags: it has collapsed to one tag")
    return None


def collapse_warnings(task: str, losses: Sequence[dict], prior_loss: Optional[float],
                      metrics: Optional[dict]) -> List[str]:
    """Every collapse sign found (empty when training looks healthy)."""
    warnings = [prediction_warning(task, metrics or {}), loss_warning(losses, prior_loss)]
    return [warning for warning in warnings if warning]
