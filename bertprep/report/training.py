"""report.html for a training run: loss and learning-rate curves, speed, evaluation metrics, warnings.

Written by the trainer beside its checkpoints from `train_log.jsonl` and the evaluation metrics, with
the same page style and plot helpers as the data jobs' reports (html.py, plots.py).
"""
import datetime
from typing import List, Optional

from bertprep.io import fs
from bertprep.report import plots
from bertprep.report.html import _escape, _table, figure, head, json_cell

TRAINING_REPORT = "report.html"


def _metric_tables(metrics: dict) -> List[str]:
    parts = []
    scalars = [(name, value) for name, value in sorted(metrics.items())
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    parts.append(_table(scalars, ["metric", "value"]))
    per_class = metrics.get("per_class")
    if per_class:
        parts.append("<h3>Per class</h3>")
        parts.append(_table([(name, values["precision"], values["recall"], values["f1"], values["support"],
                              values.get("predicted", ""))
                             for name, values in per_class.items()],
                            ["label", "precision", "recall", "F1", "support", "predicted"]))
    confusion = metrics.get("confusion_matrix")
    if confusion:
        parts.append("<h3>Confusion matrix</h3><p>Rows: actual label; columns: predicted label.</p>")
        labels = confusion["labels"]
        parts.append(_table([[label] + list(row) for label, row in zip(labels, confusion["counts"])],
                            ["actual \\ predicted"] + list(labels)))
    tags = metrics.get("predicted_tags")
    if tags:
        parts.append("<h3>Predicted tags</h3>")
        parts.append(_table(sorted(tags.items(), key=lambda item: -item[1]), ["tag", "words"]))
    return parts


def render_training_report(history: List[dict], metrics: Optional[dict], warnings: List[str], settings: dict,
                           prior_loss: Optional[float] = None) -> str:
    """The whole page as a string."""
    title = "bertprep training report (%s)" % settings.get("task", "")
    parts = head(title)
    status = '<span class="status bad">%d warning(s)</span>' % len(warnings) if warnings else \
        '<span class="status ok">no collapse detected</span>'
    finished = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    parts.append("<p>Written %s UTC &middot; %s</p>" % (finished, status))
    for warning in warnings:
        parts.append('<p class="note"><b>Warning:</b> %s</p>' % _escape(warning))
    if history:
        first, last = history[0], history[-1]
        parts.append("<p>Loss %.4f at step %d &rarr; %.4f at step %d, %.1f s of training.</p>" % (
            first["loss"], first["step"], last["loss"], last["step"], float(last.get("elapsed_seconds", 0.0))))
        figures = []
        loss_points = [(entry["step"], entry["loss"]) for entry in history]
        figures.append(figure("loss", "Training loss", "Mean loss over each logged interval; the dashed line is "
                               "the loss of predicting the label distribution, which a model that learned "
                               "anything goes below.",
                               plots.curves({"loss": loss_points}, "Training loss", "step", "loss",
                                            level=prior_loss, level_label="label distribution" if prior_loss else "")))
        figures.append(figure("learning-rate", "Learning rate", "The rate of each interval's last step.",
                               plots.curves({"learning rate": [(e["step"], e["learning_rate"]) for e in history]},
                                            "Learning rate", "step", "learning rate")))
        speeds = [(e["step"], e["examples_per_second"]) for e in history if "examples_per_second" in e]
        if speeds:
            figures.append(figure("speed", "Examples per second", "Training examples per second in each interval "
                                   "(the first includes building the training step).",
                                   plots.curves({"examples/s": speeds}, "Examples per second", "step", "examples/s")))
        parts.append("<h2>Training</h2><div class=\"plots\">%s</div>" % "".join(figures))
    if metrics:
        parts.append("<h2>Evaluation</h2>")
        parts.extend(_metric_tables(metrics))
    parts.append("<h2>Settings</h2>")
    parts.append(_table([(name, json_cell(value)) for name, value in settings.items()], ["setting", "value"]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_training_report(directory: str, history: List[dict], metrics: Optional[dict], warnings: List[str],
                          settings: dict, prior_loss: Optional[float] = None) -> str:
    """Write `directory`/report.html (replacing it whole); its path."""
    page = render_training_report(history, metrics, warnings, settings, prior_loss)
    return fs.write_bytes(fs.join(directory, TRAINING_REPORT), page.encode("utf-8"))
