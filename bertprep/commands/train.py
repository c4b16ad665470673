"""`bertprep train`: fine-tune or pretrain BERT on the TFRecords our jobs write.

Not a Beam job: it runs the Keras trainer (bertprep.trainer.loop) under a tf.distribute strategy, as the
in-process job of bertprep/trainer/job.py (options → plan → run; the service runs it the same way).
"""
from bertprep.options.train import TrainOptions

COMMAND = "train"
HELP = "train BERT (pretraining, classifier, squad, tagging) on bertprep TFRecords"
DESCRIPTION = """Train BERT on a bertprep output directory (its info.json is checked against the model first).

Rerunning with the same --output resumes from the latest checkpoint there. With --eval-data, metrics are
written to OUTPUT/eval_results.json (for squad: OUTPUT/squad_logits.jsonl for `bertprep squad-predict`).
Every --log-every steps the loss, learning rate and examples/s go to OUTPUT/train_log.jsonl and
TensorBoard (OUTPUT/tensorboard); OUTPUT/report.html shows the curves and the metrics.

A model that predicts one class for every evaluation example, or whose training loss never fell below
the loss of predicting the label distribution, gets a warning (and a "warnings" entry in
eval_results.json); --fail-on-collapse makes that an error exit.

OUTPUT/_COMPLETE is written last, only when the run succeeded: a scheduled `train` job publishes (moves its
LATEST) only then. Under multi_worker_mirrored only the chief writes into OUTPUT."""


add_arguments = TrainOptions.add_arguments


def run(args) -> int:
    """The registry's in-process job: plan(options), then run(options, plan), whose value is the exit status."""
    from bertprep.pipelines import registry

    job = registry.pipeline(COMMAND)
    options = job.options_class().from_namespace(args)
    return job.run_function()(options, job.plan_function()(options))
