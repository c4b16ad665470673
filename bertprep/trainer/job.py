"""`train` and `export` as jobs: typed options, a plan made once before any TensorFlow work, and a run that
writes the completion marker last — what the service needs to publish a run (LATEST moves only when the
marker is there), as it does for the data jobs.

The registry (bertprep/pipelines/registry.py) names `plan_*` and `run_*` here: the in-process shape of the
job contract, `plan(options)` then `run(options, plan)`, that the commands and the service's runs share.
A run that fails publishes nothing: a collapsed model under --fail-on-collapse (exit status 3), an
evaluation that cannot run or evaluates no example, any error — the marker is not written.
"""
import dataclasses
import json

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.options.train import ExportOptions, TrainOptions

COMPLETE_MARKER = "_COMPLETE"  # the name every bertprep output uses (io/output.py)
COLLAPSE_EXIT_STATUS = 3  # distinct from 2 (a user error) so that the scheduler can tell them apart


@dataclasses.dataclass(frozen=True)
class TrainPlan:
    """What a training run derives from its options before TensorFlow starts: the trainer's config, the
    BERT config and the checked data sets (trainer.loop.prepare)."""

    config: object
    prepared: tuple


def train_config(options: TrainOptions):
    from bertprep.trainer.loop import TrainConfig

    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{name: value for name, value in dataclasses.asdict(options).items() if name in fields})


def plan_training(options: TrainOptions) -> TrainPlan:
    from bertprep.trainer.loop import prepare

    config = train_config(options)
    return TrainPlan(config=config, prepared=prepare(config))


def _write_marker(directory: str, summary: dict) -> None:
    """`_COMPLETE`, written last and atomically (a temporary name renamed into place)."""
    fs.write_bytes(fs.join(directory, COMPLETE_MARKER),
                   json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def _withdraw_marker(directory: str) -> None:
    """A rerun into the same output (a resume) is not complete until it finishes again."""
    marker = fs.join(directory, COMPLETE_MARKER)
    if fs.exists(marker):
        fs.delete([marker])


def run_training(options: TrainOptions, plan: TrainPlan, log=print) -> int:
    """Train; the exit status (0: published, 3: collapsed under --fail-on-collapse)."""
    import sys

    from bertprep.trainer.loop import train

    _withdraw_marker(options.output)
    summary = train(plan.config, prepared=plan.prepared)
    losses = summary.get("losses") or []
    if losses:
        first, last = losses[0], losses[-1]
        log("trained to step %d: loss %.4f (step %d) → %.4f (step %d)"
            % (summary["step"], first["loss"], first["step"], last["loss"], last["step"]))
    evaluation = summary.get("eval")
    if evaluation is not None:
        headline = {name: value for name, value in evaluation.items() if isinstance(value, (int, float, str))}
        log("evaluation: " + json.dumps(headline, sort_keys=True, ensure_ascii=False))
        examples = evaluation.get("examples", evaluation.get("features"))
        if not examples:
            raise BertprepError(f"{options.eval_data}: the evaluation read no example; nothing was evaluated")
    log("output: %s" % options.output)
    if summary.get("warnings") and options.fail_on_collapse:
        print("bertprep: error: training collapsed (--fail-on-collapse): %s" % summary["warnings"][0],
              file=sys.stderr)
        return COLLAPSE_EXIT_STATUS
    if summary.get("chief", True):
        _write_marker(options.output, {"job": "train", "task": options.task, "step": summary["step"],
                                       "final_loss": losses[-1]["loss"] if losses else None,
                                       "eval": {name: value for name, value in (evaluation or {}).items()
                                                if isinstance(value, (int, float, str))},
                                       "warnings": summary.get("warnings") or []})
    return 0


def plan_export(options: ExportOptions) -> None:
    """Export needs nothing resolved ahead of its run (its checks read the checkpoint, in the run)."""
    return None


def run_export(options: ExportOptions, plan=None, log=print) -> int:
    from bertprep.trainer.export import export, human_size

    _withdraw_marker(options.output)
    result = export(options.checkpoint, options.output, bert_config_path=options.bert_config, vocab=options.vocab,
                    saved_model=options.saved_model, google_format=options.google_format,
                    overwrite=options.overwrite, log=log)
    log("exported to %s (%s → %s)" % (options.output, human_size(result["old_bytes"]),
                                       human_size(result["new_bytes"])))
    _write_marker(options.output, {"job": "export", "checkpoint": options.checkpoint,
                                   "bytes": result["new_bytes"]})
    return 0
