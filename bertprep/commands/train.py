"""`bertprep train`: fine-tune or pretrain BERT on the TFRecords our jobs write.

Not a Beam job: it runs the Keras trainer (bertprep.trainer.loop) under a tf.distribute strategy.
"""
import argparse
import json

from bertprep.trainer.data import TASK_KINDS
from bertprep.trainer.loop import OPTIMIZERS, PRECISIONS, STRATEGIES, TrainConfig

TASKS = tuple(TASK_KINDS)

COMMAND = "train"
HELP = "train BERT (pretraining, classifier, squad, tagging) on bertprep TFRecords"
DESCRIPTION = """Train BERT on a bertprep output directory (its info.json is checked against the model first).

Rerunning with the same --output resumes from the latest checkpoint there. With --eval-data, metrics are
written to OUTPUT/eval_results.json (for squad: OUTPUT/squad_logits.jsonl for `bertprep squad-predict`).
Every --log-every steps the loss, learning rate and examples/s go to OUTPUT/train_log.jsonl and
TensorBoard (OUTPUT/tensorboard); OUTPUT/report.html shows the curves and the metrics.

A model that predicts one class for every evaluation example, or whose training loss never fell below
the loss of predicting the label distribution, gets a warning (and a "warnings" entry in
eval_results.json); --fail-on-collapse makes that an error exit."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=TASKS, required=True, help="what to train")
    parser.add_argument("--data", help="training data: a bertprep output directory")
    parser.add_argument("--eval-data", help="evaluation data directory (squad: written with --split eval)")
    parser.add_argument("--bert-config", required=True, help="bert_config.json (Google) or config.json (Hugging Face)")
    parser.add_argument("--init-checkpoint", help="initial weights: Google checkpoint (prefix or directory), Hugging "
                        "Face directory, or a bertprep train/export output")
    parser.add_argument("--output", required=True, help="directory for checkpoints, TensorBoard logs and results")
    group = parser.add_argument_group("training")
    group.add_argument("--train-batch-size", type=int, default=32, help="global batch size (all replicas)")
    group.add_argument("--eval-batch-size", type=int, default=32, help="evaluation batch size")
    group.add_argument("--learning-rate", type=float, default=5e-5, help="peak learning rate")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw",
                       help="adamw: AdamW with bias correction, warm-up then linear decay to 0 (current fine-tuning "
                       "recipes); adam_bert: BERT's original optimizer (no bias correction), to reproduce the "
                       "original scripts")
    group.add_argument("--num-train-steps", type=int, default=0, help="training steps; 0 derives them from "
                       "--num-train-epochs and the record count in info.json")
    group.add_argument("--num-train-epochs", type=float, default=3.0, help="epochs when --num-train-steps is 0")
    group.add_argument("--warmup-proportion", type=float, default=0.1, help="share of steps with linear warm-up")
    group.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (not on LayerNorm/bias)")
    group.add_argument("--steps-per-loop", type=int, default=100, help="most training steps per tf.function call")
    group.add_argument("--log-every", type=int, default=10, help="log loss, learning rate and examples/s every N "
                       "steps (terminal, train_log.jsonl, TensorBoard)")
    group.add_argument("--save-checkpoints-steps", type=int, default=1000, help="checkpoint every N steps")
    group.add_argument("--keep-checkpoints", type=int, default=5, help="checkpoints kept")
    group.add_argument("--seed", type=int, default=12345, help="shuffle seed")
    group.add_argument("--do-train", action=argparse.BooleanOptionalAction, default=True,
                       help="train (--no-do-train with --eval-data only evaluates)")
    group.add_argument("--fail-on-collapse", action="store_true",
                       help="exit with an error (status 3) when the collapse checks warn; outputs are kept")
    group = parser.add_argument_group("model and data checks")
    group.add_argument("--max-seq-length", type=int, help="expected sequence length (checked against the data)")
    group.add_argument("--max-predictions-per-seq", type=int, help="expected masked positions (pretraining)")
    group.add_argument("--num-labels", type=int, help="number of labels; when omitted, taken from the data's info.json")
    group.add_argument("--classifier-dropout", type=float, default=0.1, help="dropout before the classifier layer")
    group.add_argument("--next-sentence", action=argparse.BooleanOptionalAction, default=True,
                       help="pretraining with the NSP/SOP head (--no-next-sentence for MLM only)")
    group = parser.add_argument_group("hardware")
    group.add_argument("--strategy", choices=STRATEGIES, default="one_device", help="tf.distribute strategy")
    group.add_argument("--tpu", help="TPU name or grpc:// address (with --strategy tpu)")
    group.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="auto: mixed_bfloat16 on TPU, mixed_float16 on GPU, float32 on CPU")
    group.add_argument("--jit-compile", action="store_true",
                       help="XLA-compile each replica's training and evaluation step (static shapes: training drops "
                       "the last partial batch, evaluation pads it with rows that are not counted); TPUs always do")


def config_from_args(args) -> TrainConfig:
    return TrainConfig(
        task=args.task, data=args.data, eval_data=args.eval_data, bert_config=args.bert_config,
        init_checkpoint=args.init_checkpoint, output=args.output, do_train=args.do_train,
        train_batch_size=args.train_batch_size, eval_batch_size=args.eval_batch_size,
        learning_rate=args.learning_rate, num_train_steps=args.num_train_steps, num_train_epochs=args.num_train_epochs,
        warmup_proportion=args.warmup_proportion, weight_decay=args.weight_decay, optimizer=args.optimizer,
        steps_per_loop=args.steps_per_loop, log_every=args.log_every,
        save_checkpoints_steps=args.save_checkpoints_steps, keep_checkpoints=args.keep_checkpoints,
        strategy=args.strategy, tpu=args.tpu, precision=args.precision, seed=args.seed,
        max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
        num_labels=args.num_labels, classifier_dropout=args.classifier_dropout, next_sentence=args.next_sentence,
        jit_compile=args.jit_compile)


COLLAPSE_EXIT_STATUS = 3  # distinct from 2 (a user error) so that the scheduler can tell them apart


def run(args) -> int:
    import sys

    from bertprep.errors import BertprepError
    from bertprep.trainer.loop import train

    if args.do_train and not args.data:
        raise BertprepError("--data is required unless --no-do-train")
    summary = train(config_from_args(args))
    losses = summary.get("losses") or []
    if losses:
        first, last = losses[0], losses[-1]
        print("trained to step %d: loss %.4f (step %d) → %.4f (step %d)"
              % (summary["step"], first["loss"], first["step"], last["loss"], last["step"]))
    if "eval" in summary:
        headline = {name: value for name, value in summary["eval"].items() if isinstance(value, (int, float, str))}
        print("evaluation: " + json.dumps(headline, sort_keys=True, ensure_ascii=False))
    print("output: %s" % args.output)
    if summary.get("warnings") and args.fail_on_collapse:
        print("bertprep: error: training collapsed (--fail-on-collapse): %s" % summary["warnings"][0], file=sys.stderr)
        return COLLAPSE_EXIT_STATUS
    return 0
