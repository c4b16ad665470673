"""`bertprep train` and `bertprep export` options: typed classes, so both are jobs of a jobs file like the data
jobs (the registry lists them; the service checks a job's `args` against them and turns them into a command
line). Neither imports TensorFlow: the service and `--help` read them."""
import dataclasses
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.options.fields import JobOptions, flag_option, switch_option, value_option

# The choices the trainer knows (bertprep/trainer/loop.py and config.py, checked equal by the tests).
TASKS = ("pretraining", "classifier", "squad", "tagging")
OPTIMIZERS = ("adamw", "adam_bert")
STRATEGIES = ("one_device", "mirrored", "multi_worker_mirrored", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")

JOB_GROUP = "train options"
TRAINING = "training"
CHECKS = "model and data checks"
HARDWARE = "hardware"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainOptions(JobOptions):
    """train BERT (pretraining, classifier, squad, tagging) on bertprep TFRecords"""

    task: Optional[str] = value_option(required=True, choices=TASKS, group=JOB_GROUP, help="what to train")
    data: Optional[str] = value_option(group=JOB_GROUP, help="training data: a bertprep output directory")
    eval_data: Optional[str] = value_option(group=JOB_GROUP,
                                            help="evaluation data directory (squad: written with --split eval)")
    bert_config: Optional[str] = value_option(required=True, group=JOB_GROUP,
                                              help="bert_config.json (Google) or config.json (Hugging Face)")
    init_checkpoint: Optional[str] = value_option(
        group=JOB_GROUP, help="initial weights: Google checkpoint (prefix or directory), Hugging Face directory, or "
        "a bertprep train/export output")
    output: Optional[str] = value_option(required=True, group=JOB_GROUP,
                                         help="directory for checkpoints, TensorBoard logs and results")
    train_batch_size: int = value_option(32, type=int, group=TRAINING, help="global batch size (all replicas)")
    eval_batch_size: int = value_option(32, type=int, group=TRAINING,
                                        help="evaluation batch size (global: all replicas)")
    learning_rate: float = value_option(5e-5, type=float, group=TRAINING, help="peak learning rate")
    optimizer: str = value_option(
        "adamw", choices=OPTIMIZERS, group=TRAINING,
        help="adamw: AdamW with bias correction, warm-up then linear decay to 0 (current fine-tuning recipes); "
        "adam_bert: BERT's original optimizer (no bias correction), to reproduce the original scripts")
    num_train_steps: int = value_option(0, type=int, group=TRAINING,
                                        help="training steps; 0 derives them from --num-train-epochs and the record "
                                        "count in info.json")
    num_train_epochs: float = value_option(3.0, type=float, group=TRAINING,
                                           help="epochs when --num-train-steps is 0")
    warmup_proportion: float = value_option(0.1, type=float, group=TRAINING,
                                            help="share of steps with linear warm-up")
    weight_decay: float = value_option(0.01, type=float, group=TRAINING,
                                       help="AdamW weight decay (not on LayerNorm/bias)")
    steps_per_loop: int = value_option(100, type=int, group=TRAINING,
                                       help="most training steps per tf.function call")
    log_every: int = value_option(10, type=int, group=TRAINING,
                                  help="log loss, learning rate and examples/s every N steps (terminal, "
                                  "train_log.jsonl, TensorBoard)")
    save_checkpoints_steps: int = value_option(1000, type=int, group=TRAINING, help="checkpoint every N steps")
    keep_checkpoints: int = value_option(5, type=int, group=TRAINING, help="checkpoints kept")
    seed: int = value_option(12345, type=int, group=TRAINING, help="shuffle seed")
    do_train: bool = switch_option(True, group=TRAINING,
                                   help="train (--no-do-train with --eval-data only evaluates)")
    fail_on_collapse: bool = flag_option(group=TRAINING,
                                         help="exit with an error (status 3) when the collapse checks warn; outputs "
                                         "are kept, the completion marker is not written")
    max_seq_length: Optional[int] = value_option(type=int, group=CHECKS,
                                                 help="expected sequence length (checked against the data)")
    max_predictions_per_seq: Optional[int] = value_option(type=int, group=CHECKS,
                                                          help="expected masked positions (pretraining)")
    num_labels: Optional[int] = value_option(type=int, group=CHECKS,
                                             help="number of labels; when omitted, taken from the data's info.json")
    classifier_dropout: float = value_option(0.1, type=float, group=CHECKS,
                                             help="dropout before the classifier layer")
    next_sentence: bool = switch_option(True, group=CHECKS,
                                        help="pretraining with the NSP/SOP head (--no-next-sentence for MLM only)")
    strategy: str = value_option("one_device", choices=STRATEGIES, group=HARDWARE,
                                 help="tf.distribute strategy (multi_worker_mirrored: the cluster from TF_CONFIG, "
                                 "or Vertex AI's CLUSTER_SPEC)")
    tpu: Optional[str] = value_option(group=HARDWARE, help="TPU name or grpc:// address (with --strategy tpu)")
    precision: str = value_option("auto", choices=PRECISIONS, group=HARDWARE,
                                  help="auto: mixed_bfloat16 on TPU, mixed_float16 on GPU, float32 on CPU")
    jit_compile: bool = flag_option(group=HARDWARE,
                                    help="XLA-compile each replica's training and evaluation step (static shapes: "
                                    "training drops the last partial batch, evaluation pads it with rows that are "
                                    "not counted); TPUs always do")

    def __post_init__(self):
        super().__post_init__()
        if self.do_train and not self.data:
            raise BertprepError("--data is required unless --no-do-train")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExportOptions(JobOptions):
    """write a weights-only checkpoint and a SavedModel from a training checkpoint"""

    checkpoint: Optional[str] = value_option(
        required=True, group=JOB_GROUP.replace("train", "export"),
        help="a `bertprep train` output directory, its checkpoints/ directory or one checkpoint prefix (ckpt-N); "
        "a Google checkpoint works too")
    output: Optional[str] = value_option(required=True, group="export options", help="export directory")
    bert_config: Optional[str] = value_option(group="export options",
                                              help="BERT config; when omitted, bert_config.json beside the checkpoint")
    vocab: Optional[str] = value_option(group="export options",
                                        help="vocab.txt to copy into the export; when omitted, one beside the "
                                        "checkpoint")
    saved_model: bool = switch_option(True, group="export options",
                                      help="also write a SavedModel with a serving signature")
    google_format: bool = flag_option(group="export options",
                                      help="also write bert_model.ckpt with the original TF1 variable names")
    overwrite: bool = flag_option(group="export options", help="replace an existing export")
