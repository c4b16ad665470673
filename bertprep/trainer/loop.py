"""The training loop: a custom loop under tf.distribute, several steps per tf.function call.

Checkpoints (model + optimizer, step = optimizer iterations) are written every
`save_checkpoints_steps` to `<output>/checkpoints`; a rerun with the same output resumes from the
latest one and skips the records already consumed, so it continues where the stopped run was.

What a run leaves beside the checkpoints, so that it can be followed and judged:
- `train_log.jsonl`: every `log_every` steps the mean loss, the learning rate and examples/s;
- `tensorboard/{train,eval}`: the same as TensorBoard scalars, and the evaluation metrics;
- `eval_results.json`: the evaluation metrics, with `warnings` when the model collapsed (collapse.py);
- `report.html`: loss and learning-rate curves and the metrics (bertprep/report/training.py).
"""
import contextlib
import dataclasses
import io
import json
import sys
import time
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.trainer import cluster
from bertprep.trainer import data as data_lib
from bertprep.trainer.config import OPTIMIZERS, BertConfig  # noqa: F401  (OPTIMIZERS: the train command's choices)

STRATEGIES = ("one_device", "mirrored", "multi_worker_mirrored", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass
class TrainConfig:
    task: str
    data: str
    bert_config: str
    output: str
    init_checkpoint: Optional[str] = None
    eval_data: Optional[str] = None
    do_train: bool = True
    train_batch_size: int = 32
    eval_batch_size: int = 32
    learning_rate: float = 5e-5
    num_train_steps: int = 0
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    weight_decay: float = 0.01
    optimizer: str = "adamw"  # one of OPTIMIZERS
    steps_per_loop: int = 100  # most steps per tf.function call (also bounded by log_every)
    log_every: int = 10
    save_checkpoints_steps: int = 1000
    keep_checkpoints: int = 5
    strategy: str = "one_device"
    tpu: Optional[str] = None
    precision: str = "auto"
    seed: int = 12345
    max_seq_length: Optional[int] = None
    max_predictions_per_seq: Optional[int] = None
    num_labels: Optional[int] = None
    classifier_dropout: float = 0.1
    next_sentence: bool = True
    max_steps_this_run: Optional[int] = None  # stop early (tests, preemptible jobs); the schedule is unchanged
    jit_compile: bool = False  # XLA-compile each replica's training and evaluation step (what a TPU does)
    verbose: bool = True


# One MirroredStrategy and one MultiWorkerMirroredStrategy per process: a second one would number its
# collectives from the same keys as the first, and TensorFlow then matches a reduction of the first run's
# gradients with one of the second's ("Shape mismatch in the collective instance"); MWMS can be set up once.
_REPLICATED = {}


def create_strategy(name: str, tpu: Optional[str] = None):
    import tensorflow as tf

    if name == "one_device":
        device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        if name not in _REPLICATED:
            _REPLICATED[name] = tf.distribute.MirroredStrategy()
        return _REPLICATED[name]
    if name == "multi_worker_mirrored":
        if name not in _REPLICATED:
            cluster.ensure_tf_config()  # Vertex AI's CLUSTER_SPEC becomes TF_CONFIG when that is missing
            _REPLICATED[name] = tf.distribute.MultiWorkerMirroredStrategy()
        return _REPLICATED[name]
    # Not run here (no TPU is lent to CI): the resolver needs a TPU; the steps it runs are the XLA-compiled
    # ones that tests/trainer/test_trainer_xla.py compiles on CPU.
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise BertprepError(f"unknown --strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def resolve_precision(precision: str, strategy_name: str) -> str:
    """auto: mixed_bfloat16 on TPU, mixed_float16 on GPU, float32 on CPU."""
    if precision != "auto":
        if precision not in PRECISIONS:
            raise BertprepError(f"unknown --precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        return precision
    if strategy_name == "tpu":
        return "mixed_bfloat16"
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"


def _log(config, message):
    if config.verbose:
        print(message, flush=True)


def _warn(message):
    """Warnings reach the terminal even when not verbose: a collapsed model must never pass silently."""
    import sys

    print(f"bertprep: warning: {message}", file=sys.stderr, flush=True)


def describe_device(strategy_name: str, strategy) -> str:
    """One line naming what the training runs on."""
    import tensorflow as tf

    if strategy_name == "tpu":
        return f"training runs on TPU ({strategy.num_replicas_in_sync} cores)"
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return f"training runs on {len(gpus)} GPU(s) ({strategy.num_replicas_in_sync} replica(s))"
    return "training runs on CPU (no GPU or TPU found)"


def prepare(config: TrainConfig):
    """Read the BERT config and dataset info and check they agree (before any TF work)."""
    bert_config = BertConfig.from_json_file(config.bert_config)
    vocab_fingerprint = _checkpoint_vocab_fingerprint(config.init_checkpoint)
    infos = {}
    if config.do_train:
        infos["train"] = data_lib.read_dataset_info(config.data)
        kinds = data_lib.TASK_KINDS[config.task][:1]
        data_lib.check_compatible(infos["train"], config.task, bert_config, config.max_seq_length,
                                  config.max_predictions_per_seq, config.num_labels, vocab_fingerprint, kinds)
    if config.eval_data:
        infos["eval"] = data_lib.read_dataset_info(config.eval_data)
        kinds = data_lib.TASK_KINDS[config.task][-1:] if config.task == "squad" else None
        data_lib.check_compatible(infos["eval"], config.task, bert_config, config.max_seq_length,
                                  config.max_predictions_per_seq, config.num_labels, vocab_fingerprint, kinds)
    if not infos:
        raise BertprepError("nothing to do: give training data (--data) or --eval-data")
    if len(infos) == 2:
        data_lib.check_same_meaning(f"the training data {infos['train'].path}", data_lib.data_meaning(infos["train"]),
                                    f"the evaluation data {infos['eval'].path}", data_lib.data_meaning(infos["eval"]))
    _check_init_checkpoint_meaning(config, infos.get("train") or infos["eval"])
    return bert_config, infos


def _check_init_checkpoint_meaning(config, info):
    """A bertprep train or export output as the initial checkpoint (its model.json) must mean by each id what
    the data does: the vocabulary always, the labels when it was trained for this very task."""
    if not config.init_checkpoint:
        return
    directory = config.init_checkpoint if fs.is_dir(config.init_checkpoint) else fs.dirname(config.init_checkpoint)
    description = read_model_description(directory)
    if not description:
        return
    fields = ["vocab_fingerprint"]
    if description.get("task") == config.task and config.task in ("classifier", "tagging"):
        fields += ["labels", "multi_label", "regression"]
    data_lib.check_same_meaning(f"the initial checkpoint {directory} ({MODEL_FILE})", description,
                                f"the data {info.path}", data_lib.data_meaning(info), fields)


def _checkpoint_vocab_fingerprint(init_checkpoint):
    """Fingerprint of vocab.txt beside the initial checkpoint, if there is one."""
    if not init_checkpoint:
        return None
    directory = init_checkpoint if fs.is_dir(init_checkpoint) else fs.dirname(init_checkpoint)
    path = fs.join(directory, "vocab.txt")
    if not fs.exists(path):
        return None
    from bertprep.transforms.tokenization.vocabulary import Vocabulary

    return Vocabulary.from_file(path, require=()).fingerprint


def _model_options(config, infos):
    info = infos.get("train") or infos["eval"]
    num_labels = config.num_labels or info.num_labels
    if config.task in ("classifier", "tagging") and not num_labels:
        raise BertprepError(f"{info.path}: info.json names no labels; pass --num-labels")
    return {"num_labels": num_labels or 2, "multi_label": info.multi_label, "regression": info.regression,
            "labels": info.labels, "vocab_fingerprint": info.vocab_fingerprint, "max_seq_length": info.max_seq_length}


def train(config: TrainConfig, prepared=None) -> dict:
    """Train (and/or evaluate); returns a summary with the loss history, final metrics and warnings.
    `prepared`: what `prepare(config)` returned, when the caller (a job's plan) has it already."""
    bert_config, infos = prepared or prepare(config)
    if config.optimizer not in OPTIMIZERS:
        raise BertprepError(f"unknown --optimizer {config.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    if config.log_every < 1:
        raise BertprepError(f"--log-every must be at least 1, got {config.log_every}")
    from bertprep.trainer.quiet import import_tensorflow

    tf = import_tensorflow()
    import keras

    from bertprep.trainer import checkpoint_import, collapse, optimization
    from bertprep.trainer.heads import build_task_model

    strategy = create_strategy(config.strategy, config.tpu)
    chief = cluster.is_chief(strategy)
    if chief:
        fs.makedirs(config.output)
    device = describe_device(config.strategy, strategy)
    _log(config, device)
    precision = resolve_precision(config.precision, config.strategy)
    options = _model_options(config, infos)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    summary = {"precision": precision, "replicas": strategy.num_replicas_in_sync, "optimizer": config.optimizer,
               "losses": [], "warnings": [], "chief": chief}
    scratch = None if chief else cluster.scratch_directory(strategy)
    try:
        total_steps = _total_steps(config, infos.get("train"))
        with strategy.scope():
            model = build_task_model(config.task, bert_config, num_labels=options["num_labels"],
                                     use_next_sentence=config.next_sentence,
                                     classifier_dropout=config.classifier_dropout, seed=config.seed)
            optimizer = optimization.create_optimizer(
                model, config.learning_rate, max(total_steps, 1), int(total_steps * config.warmup_proportion),
                config.weight_decay, loss_scale=precision == "mixed_float16", optimizer=config.optimizer)
            optimizer.build(model.trainable_variables)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        checkpoints = fs.join(config.output, "checkpoints")
        manager = tf.train.CheckpointManager(checkpoint, scratch or checkpoints, max_to_keep=config.keep_checkpoints,
                                             checkpoint_name="ckpt")
        if chief:
            bert_config.to_json_file(fs.join(config.output, "bert_config.json"))
            write_model_description(config.output, config.task, options, config.next_sentence)
        latest = tf.train.latest_checkpoint(checkpoints)  # every worker resumes from the chief's checkpoint
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            _log(config, f"resumed from {latest} at step {int(optimizer.iterations.numpy())}")
            summary["resumed_from_step"] = int(optimizer.iterations.numpy())
        elif config.init_checkpoint:
            report = checkpoint_import.load_pretrained(model, config.init_checkpoint)
            _log(config, report.summary())
            summary["import"] = {"loaded": len(report.loaded), "missing": report.missing, "unused": report.unused}
        counter = collapse.LabelCounter(config.task, options["num_labels"], options["multi_label"],
                                        options["regression"])
        with cluster.peer_failures_named(config.strategy):
            if config.do_train:
                _train_loop(config, strategy, model, optimizer, manager, infos["train"], total_steps, options,
                            summary, counter, chief)
            step = int(optimizer.iterations.numpy())
            if config.eval_data:
                summary["eval"] = evaluate(config, strategy, model, infos["eval"], options)
                summary["eval"]["step"] = step
        summary["step"] = step
        if not chief:  # the chief alone writes the log, the metrics, TensorBoard and the report
            return summary
        history = read_train_log(config.output) if config.do_train else []
        # The loss check needs the whole run: a run stopped early (--max-steps-this-run) may not have
        # reached below the prior yet.
        finished = config.do_train and step >= total_steps
        summary["prior_loss"] = counter.prior_loss() if finished else None
        summary["warnings"] = collapse.collapse_warnings(config.task, history if finished else [],
                                                         summary["prior_loss"], summary.get("eval"))
        for warning in summary["warnings"]:
            _warn(warning)
        if config.eval_data:
            summary["eval"]["warnings"] = summary["warnings"]
            fs.write_bytes(fs.join(config.output, EVAL_RESULTS), json.dumps(
                summary["eval"], indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8"))
            _write_scalars(fs.join(config.output, "tensorboard", "eval"), summary["eval"], step)
        _write_report(config, summary, history, total_steps, precision, device)
        return summary
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        if scratch:
            cluster.remove_scratch(scratch)


EVAL_RESULTS = "eval_results.json"
TRAIN_LOG = "train_log.jsonl"


def read_train_log(output) -> list:
    """The entries of `output`/train_log.jsonl (a resumed run appends to it)."""
    path = fs.join(output, TRAIN_LOG)
    if not fs.exists(path):
        return []
    entries, broken = [], []
    text = fs.read_bytes(path).decode("utf-8", errors="replace")
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:  # a killed run's half-written line (a resume appends after it)
            broken.append(number)
    if broken:
        print("bertprep: warning: %s: %d unreadable line(s) (%s) left out of the training curves"
              % (path, len(broken), ", ".join(map(str, broken[:5]))), file=sys.stderr)
    return entries


def _write_report(config, summary, history, total_steps, precision, device):
    """report.html beside the checkpoints; a drawing failure costs the page, never the trained model."""
    from bertprep.report.training import write_training_report

    settings = {"task": config.task, "optimizer": config.optimizer, "learning_rate": config.learning_rate,
                "train_batch_size": config.train_batch_size, "total_steps": total_steps,
                "warmup_proportion": config.warmup_proportion, "weight_decay": config.weight_decay,
                "seed": config.seed, "precision": precision, "device": device, "data": config.data,
                "eval_data": config.eval_data, "init_checkpoint": config.init_checkpoint}
    try:
        path = write_training_report(config.output, history, summary.get("eval"), summary.get("warnings") or [],
                                     settings, summary.get("prior_loss"))
    except Exception as error:  # noqa: BLE001 - the report is a view; training already succeeded
        _warn(f"report.html could not be written ({type(error).__name__}: {error})")
        return
    summary["report"] = path


MODEL_FILE = "model.json"


def write_model_description(directory, task, options, next_sentence=True):
    """model.json: what `export` and `embed` need to rebuild the model that a checkpoint holds, and what its
    ids mean (labels, the data's vocabulary and length), which `predict` and later fine-tuning check."""
    description = {"task": task, "num_labels": options["num_labels"], "use_next_sentence": bool(next_sentence),
                   "multi_label": options["multi_label"], "regression": options["regression"],
                   "labels": options["labels"]}
    for field in ("vocab_fingerprint", "max_seq_length"):
        if options.get(field) is not None:
            description[field] = options[field]
    fs.write_bytes(fs.join(directory, MODEL_FILE), json.dumps(description, indent=2, sort_keys=True).encode("utf-8"))


def read_model_description(directory) -> Optional[dict]:
    path = fs.join(directory, MODEL_FILE)
    if not fs.exists(path):
        return None
    return json.loads(fs.read_text(path))


def _total_steps(config, info):
    if info is None:
        return 0
    if config.num_train_steps:
        return int(config.num_train_steps)
    if not info.num_records:
        raise BertprepError(f"{info.path}: info.json has no record count; pass --num-train-steps")
    return max(1, int(info.num_records * config.num_train_epochs / config.train_batch_size))


def _scalar(name, value, step):
    """A TensorBoard scalar without needing the `tensorboard` package (it is only needed to view them)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=metadata)


def _write_scalars(directory, values, step):
    import tensorflow as tf

    writer = tf.summary.create_file_writer(directory)
    with writer.as_default():
        for name, value in values.items():
            if isinstance(value, (int, float)):
                _scalar(name, value, step)
    writer.flush()


def _train_loop(config, strategy, model, optimizer, manager, info, total_steps, options, summary, counter, chief):
    import tensorflow as tf

    from bertprep.trainer import optimization, tasks

    replicas = strategy.num_replicas_in_sync
    if config.train_batch_size % replicas:
        raise BertprepError(f"--train-batch-size {config.train_batch_size} is not a multiple of the "
                            f"{replicas} replicas")
    start_step = int(optimizer.iterations.numpy())
    schedule = optimization.create_schedule(config.optimizer, config.learning_rate, max(total_steps, 1),
                                            int(total_steps * config.warmup_proportion))

    def dataset_fn(input_context):
        # Every pipeline reads the same stream and skips what the global batches already consumed.
        return data_lib.make_training_dataset(info, config.train_batch_size, config.task, seed=config.seed,
                                              skip_records=start_step * config.train_batch_size,
                                              input_context=input_context)

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    loss_scaling = hasattr(optimizer, "scale_loss") and optimizer.__class__.__name__ == "LossScaleOptimizer"
    multi_label, regression = options["multi_label"], options["regression"]

    def gradients_fn(features, normalizers):
        """This replica's share of the global batch's loss, and its gradients (summed across replicas by
        the optimizer, then clipped: optimization.py)."""
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            loss = tasks.compute_loss(config.task, outputs, features, multi_label, regression, normalizers)
            scaled = optimizer.scale_loss(loss) if loss_scaling else loss
        return loss, tape.gradient(scaled, model.trainable_variables)

    if config.jit_compile:
        gradients_fn = tf.function(gradients_fn, jit_compile=True)

    def step_fn(features, normalizers):
        loss, gradients = gradients_fn(features, normalizers)
        # Heads that ignore the pooler (SQuAD, tagging) leave it without a gradient: skip, don't warn.
        pairs = [(g, v) for g, v in zip(gradients, model.trainable_variables) if g is not None]
        optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        counts, examples = tasks.label_counts(config.task, features, options["num_labels"], multi_label, regression)
        return loss, counts, examples

    @tf.function
    def train_steps(iterator, steps):
        total = tf.constant(0.0)
        counts = tf.zeros((options["num_labels"] if counter.enabled else 1,), tf.float32)
        examples = tf.constant(0.0)
        for _ in tf.range(steps):
            features, normalizers = next(iterator)
            loss, batch_counts, batch_examples = strategy.run(step_fn, args=(features, normalizers))
            total += strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
            counts += strategy.reduce(tf.distribute.ReduceOp.SUM, batch_counts, axis=None)
            examples += strategy.reduce(tf.distribute.ReduceOp.SUM, batch_examples, axis=None)
        return total / tf.cast(steps, tf.float32), counts, examples

    writer = tf.summary.create_file_writer(fs.join(config.output, "tensorboard", "train")) if chief \
        else tf.summary.create_noop_writer()
    end_step = total_steps if config.max_steps_this_run is None else \
        min(total_steps, start_step + config.max_steps_this_run)
    step = start_step
    log_path = fs.join(config.output, TRAIN_LOG)
    if chief and start_step == 0 and fs.exists(log_path):
        fs.delete([log_path])  # a fresh run (no checkpoint to resume): an old log would mix two runs
    _log(config, f"training {config.task} from step {step} to {end_step} of {total_steps} "
                 f"(batch {config.train_batch_size}, {replicas} replica(s), optimizer {config.optimizer})")
    started_training = time.time()
    while step < end_step:
        next_save = (step // config.save_checkpoints_steps + 1) * config.save_checkpoints_steps
        next_log = (step // config.log_every + 1) * config.log_every
        steps = min(config.steps_per_loop, end_step - step, next_save - step, next_log - step)
        started = time.time()
        loss, counts, examples = train_steps(iterator, tf.constant(steps))
        loss = float(loss.numpy())
        if counter.enabled:
            counter.add(counts.numpy(), float(examples.numpy()))
        elapsed = time.time() - started
        step = int(optimizer.iterations.numpy())
        learning_rate = float(schedule(step - 1))  # the rate the chunk's last step used
        speed = steps * config.train_batch_size / max(elapsed, 1e-9)
        entry = {"step": step, "loss": loss, "learning_rate": learning_rate, "examples_per_second": speed,
                 "elapsed_seconds": round(time.time() - started_training, 3)}
        summary["losses"].append(entry)
        if chief:
            fs.append_bytes(log_path, (json.dumps(entry) + "\n").encode("utf-8"))
        with writer.as_default():
            _scalar("loss", loss, step)
            _scalar("learning_rate", learning_rate, step)
            _scalar("examples_per_second", speed, step)
        if step % config.log_every == 0 or step >= end_step:
            _log(config, f"step {step}: loss {loss:.4f}, learning rate {learning_rate:.3g}, {speed:.1f} examples/s")
        if step % config.save_checkpoints_steps == 0 or step >= end_step:
            path = manager.save(checkpoint_number=step)
            _log(config, f"saved {path}")
    writer.flush()
    trained_steps = step - start_step
    summary["train_seconds"] = time.time() - started_training
    if trained_steps:
        summary["examples_per_second"] = trained_steps * config.train_batch_size / max(summary["train_seconds"], 1e-9)


def evaluate(config, strategy, model, info, options) -> dict:
    """Metrics over one pass of the evaluation data (SQuAD: logits written for `squad-predict`).

    Every replica evaluates its rows of each global batch (the last one padded to the full size, the
    padding rows marked not real); the small per-row outputs of all replicas are gathered to every worker,
    and the padding rows dropped, so each record counts once whatever the replica count.
    """
    import numpy as np
    import tensorflow as tf

    from bertprep.trainer import tasks

    replicas = strategy.num_replicas_in_sync
    if config.eval_batch_size % replicas:
        raise BertprepError(f"--eval-batch-size {config.eval_batch_size} is not a multiple of the "
                            f"{replicas} replicas")
    dataset = strategy.distribute_datasets_from_function(
        lambda context: data_lib.make_eval_dataset(info, config.eval_batch_size, input_context=context))

    def replica_fn(features):
        outputs = model(features, training=False)
        result = tasks.eval_outputs(config.task, outputs, features, options["multi_label"], options["regression"])
        return {**result, data_lib.ROW_IS_REAL: features[data_lib.ROW_IS_REAL]}

    if config.jit_compile:
        replica_fn = tf.function(replica_fn, jit_compile=True)

    @tf.function
    def eval_step(features):
        per_replica = strategy.run(replica_fn, args=(features,))
        return {name: strategy.gather(value, axis=0) for name, value in per_replica.items()}

    batches = []
    for features in dataset:
        gathered = {name: np.asarray(value) for name, value in eval_step(features).items()}
        real = gathered.pop(data_lib.ROW_IS_REAL).astype(bool)
        batches.append({name: value[real] for name, value in gathered.items()})
    if config.task == "squad":
        return _write_squad_logits(config, batches, write=cluster.is_chief(strategy))
    return tasks.summarize(config.task, batches, labels=options["labels"], multi_label=options["multi_label"],
                           regression=options["regression"], num_labels=options["num_labels"])


class _Discard:
    """A text sink for a worker that is not the chief: it computes the logits with the others, writes none."""

    def write(self, text: str) -> int:
        return len(text)


def _write_squad_logits(config, batches, write=True) -> dict:
    """One JSON line per feature: unique_id, start_logits, end_logits over the real tokens' window."""
    path = fs.join(config.output, "squad_logits.jsonl")
    count = 0
    with (fs.open_text_write(path) if write else contextlib.nullcontext(_Discard())) as handle:
        for batch in batches:
            for unique_id, start, end in zip(batch["unique_id"], batch["start_logits"], batch["end_logits"]):
                handle.write(json.dumps({"unique_id": int(unique_id),
                                         "start_logits": [round(float(x), 6) for x in start],
                                         "end_logits": [round(float(x), 6) for x in end]}) + "\n")
                count += 1
    _log(config, f"wrote {count} feature logits to {path}; run `bertprep squad-predict` with the side file for EM/F1")
    return {"features": count, "logits_file": path}
