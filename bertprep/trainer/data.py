"""tf.data input for the trainer: our TFRecord directories, parsed with the spec from `schemas/`.

A dataset directory is what a bertprep job writes: shards, `info.json` (record kind, schema,
config, vocabulary fingerprint, labels) and `_COMPLETE`. Before any training step the dataset is
checked against the model (sequence length, predictions per sequence, label count, vocabulary)
and a mismatch is refused with a one-line message naming both values.
"""
import dataclasses
import json
import os
from typing import List, Optional

from bertprep import schemas
from bertprep.errors import BertprepError
from bertprep.io import fs

INFO_FILE = "info.json"
COMPLETE_MARKER = "_COMPLETE"

# Record kinds each task trains (first) or predicts on.
TASK_KINDS = {
    "pretraining": ("pretraining",),
    "classifier": ("classifier",),
    "squad": ("squad_train", "squad_eval"),
    "tagging": ("tagging",),
}


@dataclasses.dataclass
class DatasetInfo:
    """What the trainer needs from a dataset directory's info.json."""

    path: str
    kind: str
    schema: object
    config: dict
    files: List[str]
    compression: str
    vocab_fingerprint: Optional[str] = None
    vocab_size: Optional[int] = None
    labels: Optional[list] = None
    num_records: Optional[int] = None

    @property
    def max_seq_length(self) -> int:
        return int(self.schema.feature("input_ids").shape[0])

    @property
    def max_predictions_per_seq(self) -> Optional[int]:
        if "masked_lm_positions" not in self.schema.names:
            return None
        return int(self.schema.feature("masked_lm_positions").shape[0])

    @property
    def multi_label(self) -> bool:
        return bool(self.config.get("multi_label"))

    @property
    def regression(self) -> bool:
        return self.kind == "classifier" and "label_ids" in self.schema.names and \
            self.schema.feature("label_ids").dtype == schemas.FLOAT32

    @property
    def num_labels(self) -> Optional[int]:
        if self.regression:
            return 1
        if self.labels:
            return len(self.labels)
        value = self.config.get("num_labels")
        return int(value) if value else None


def _first(mapping: dict, *keys):
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def read_dataset_info(path) -> DatasetInfo:
    """Read and check `path`/info.json; the directory must be a complete bertprep output."""
    path = os.fspath(path)
    info_path = fs.join(path, INFO_FILE)
    if not fs.is_dir(path):
        raise BertprepError(f"{path}: dataset directory not found")
    if not fs.exists(info_path):
        raise BertprepError(f"{path}: no info.json; is this a bertprep output directory?")
    if not fs.exists(fs.join(path, COMPLETE_MARKER)):
        raise BertprepError(f"{path}: no {COMPLETE_MARKER} marker; the job that writes it did not finish")
    try:
        info = json.loads(fs.read_text(info_path))
    except json.JSONDecodeError as exc:
        raise BertprepError(f"{info_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    config = dict(info.get("config") or {})
    if isinstance(info.get("schema"), dict):
        schema = schemas.RecordSchema.from_json(info["schema"])
        config = {**dict(schema.config), **config}
        kind = schema.kind
    else:
        kind = info.get("kind")
        if not kind:
            raise BertprepError(f"{info_path}: no record kind ('kind' or 'schema')")
        schema = schemas.for_kind(kind, config)
    prefix = info.get("shard_prefix") or kind
    shard_names = [shard["file"] for shard in info.get("shards", []) if shard.get("records", 1)]
    if shard_names:
        files = [fs.join(path, name) for name in shard_names]
    else:
        files = sorted(fs.list_files(fs.join(path, f"{prefix}-*.tfrecord")) +
                       fs.list_files(fs.join(path, f"{prefix}-*.tfrecord.gz")))
    if not files:
        raise BertprepError(f"{path}: no {prefix}-*.tfrecord shards")
    missing = [name for name in files if not fs.exists(name)]
    if missing:
        raise BertprepError(f"{path}: shard {fs.basename(missing[0])} listed in info.json is missing")
    compression = "gzip" if files[0].endswith(".gz") else "none"
    counts = info.get("counts") or {}
    fingerprint = _first(info, "vocab_fingerprint") or config.get("vocab_fingerprint")
    return DatasetInfo(
        path=path, kind=kind, schema=schema, config=config, files=files, compression=compression,
        vocab_fingerprint=fingerprint,
        vocab_size=_first(info, "vocab_size") or config.get("vocab_size") or _vocab_size_from(config, fingerprint),
        labels=_first(info, "labels", "label_list", "tags", "tag_list") or config.get("labels"),
        num_records=_first(counts, "records_out", "written"),
    )


def _vocab_size_from(config, fingerprint):
    """The size of the vocabulary the job read (config["vocab"]), if that file is here and unchanged."""
    vocab = config.get("vocab")
    if not vocab or not fingerprint or fs.is_remote(str(vocab)) or not fs.exists(vocab):
        return None
    from bertprep.transforms.tokenization.vocabulary import Vocabulary

    try:
        vocabulary = Vocabulary.from_file(vocab, require=())
    except BertprepError:
        return None
    return len(vocabulary) if vocabulary.fingerprint == fingerprint else None


def check_compatible(info: DatasetInfo, task: str, bert_config, max_seq_length=None, max_predictions_per_seq=None,
                     num_labels=None, vocab_fingerprint=None, kinds=None) -> None:
    """Refuse a model/data mismatch before training, naming both values."""
    allowed = kinds or TASK_KINDS[task]
    if info.kind not in allowed:
        raise BertprepError(f"{info.path} holds {info.kind!r} records but --task {task} needs {' or '.join(allowed)}")
    seq = info.max_seq_length
    if max_seq_length is not None and int(max_seq_length) != seq:
        raise BertprepError(f"--max-seq-length {max_seq_length} but {info.path} was written with max_seq_length {seq}")
    if seq > bert_config.max_position_embeddings:
        raise BertprepError(f"{info.path} has max_seq_length {seq} but the model's max_position_embeddings is "
                            f"{bert_config.max_position_embeddings}")
    predictions = info.max_predictions_per_seq
    if max_predictions_per_seq is not None and predictions is not None and int(max_predictions_per_seq) != predictions:
        raise BertprepError(f"--max-predictions-per-seq {max_predictions_per_seq} but {info.path} was written with "
                            f"max_predictions_per_seq {predictions}")
    if num_labels is not None and info.num_labels is not None and int(num_labels) != info.num_labels:
        raise BertprepError(f"--num-labels {num_labels} but {info.path} has {info.num_labels} labels")
    if info.vocab_size is not None and int(info.vocab_size) != bert_config.vocab_size:
        raise BertprepError(f"{info.path} was made with a vocabulary of {info.vocab_size} entries but the model's "
                            f"vocab_size is {bert_config.vocab_size}")
    if vocab_fingerprint and info.vocab_fingerprint and vocab_fingerprint != info.vocab_fingerprint:
        raise BertprepError(f"{info.path} was made with vocabulary {info.vocab_fingerprint[:12]} but the model's "
                            f"vocab.txt is {vocab_fingerprint[:12]}")


# What gives an id its meaning. Two data sets (or a model and a data set) that disagree on one of these
# would train or evaluate without an error and mean other things by the same ids (a label written with
# `--labels 1,0` read as the class a model trained with `--labels 0,1` calls 1).
MEANING_FIELDS = ("task", "labels", "vocab_fingerprint", "vocab_size", "max_seq_length", "max_predictions_per_seq",
                  "multi_label", "regression")
_TASK_OF_KIND = {kind: task for task, kinds in TASK_KINDS.items() for kind in kinds}


def data_meaning(info: DatasetInfo) -> dict:
    """The MEANING_FIELDS of a data set (None where it does not say)."""
    return {"task": _TASK_OF_KIND.get(info.kind, info.kind),
            "labels": [str(label) for label in info.labels] if info.labels else None,
            "vocab_fingerprint": info.vocab_fingerprint, "vocab_size": info.vocab_size,
            "max_seq_length": info.max_seq_length, "max_predictions_per_seq": info.max_predictions_per_seq,
            "multi_label": info.multi_label, "regression": info.regression}


def _shown(field, value) -> str:
    if field == "labels":
        return ",".join(value)
    if field == "vocab_fingerprint":
        return str(value)[:12]
    return str(value)


def check_same_meaning(first_name: str, first: dict, second_name: str, second: dict, fields=MEANING_FIELDS) -> None:
    """Refuse, in one line naming both values, the first of `fields` on which the two disagree (a field
    that either does not state is not compared)."""
    for field in fields:
        mine, theirs = first.get(field), second.get(field)
        if mine is None or theirs is None:
            continue
        if field == "labels":
            mine, theirs = [str(label) for label in mine], [str(label) for label in theirs]
        if mine != theirs:
            what = "label order" if field == "labels" and sorted(mine) == sorted(theirs) else field.replace("_", " ")
            raise BertprepError(f"{second_name} has {what} {_shown(field, theirs)} but {first_name} has "
                                f"{_shown(field, mine)}; they must agree, or the same ids mean other things")


def parse_fn(schema):
    """Parse a batch of serialized Examples into int32/float32 tensors (TPUs want int32)."""
    import tensorflow as tf

    spec = schema.tf_feature_spec()

    def parse(serialized):
        features = tf.io.parse_example(serialized, spec)
        return {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
                for name, value in features.items()}

    return parse


def make_dataset(info: DatasetInfo, batch_size: int, training: bool, seed: int = 12345, skip_records: int = 0,
                 input_context=None, shuffle_buffer: int = 10000, drop_remainder: Optional[bool] = None):
    """Batched feature dicts. Training: repeated, shuffled with `seed` (deterministic, so a resumed run
    that skips `skip_records` sees what the interrupted one would have seen next)."""
    import tensorflow as tf

    files = list(info.files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        files = files[input_context.input_pipeline_id::input_context.num_input_pipelines]
        if not files:
            raise BertprepError(f"{info.path}: fewer shards ({len(info.files)}) than input pipelines "
                                f"({input_context.num_input_pipelines})")
    compression = "GZIP" if info.compression == "gzip" else ""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if training:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.interleave(
        lambda name: tf.data.TFRecordDataset(name, compression_type=compression),
        cycle_length=min(len(files), 8), block_length=1, deterministic=True,
        num_parallel_calls=tf.data.AUTOTUNE)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if skip_records:
            dataset = dataset.skip(skip_records)
    if drop_remainder is None:
        drop_remainder = training
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(parse_fn(info.schema), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


# Replicated training and evaluation share one record stream out by data, not by file: every input
# pipeline (worker) reads the same seeded stream, cuts it into global batches, and keeps its replicas'
# rows of each. The global batch of every step is then the very batch a single device trains on, which
# makes the multi-replica maths checkable against one device (tests/trainer/test_trainer_equivalence.py), lets a
# data set with fewer shards than workers train, and leaves no example to two replicas. The price is that
# each worker reads (and discards most of) the whole stream; for the record sizes here that is cheap next
# to the model's steps. (Sharding by file would read less but give every replica other examples per step.)
ROW_IS_REAL = "row_is_real"  # evaluation: 1 for a record, 0 for a row padding the last global batch


def _record_stream(info: DatasetInfo, training: bool, seed: int, shuffle_buffer: int):
    """Serialized records: training repeats epoch after epoch, each reshuffled (files and records) with
    `seed`, so an epoch holds every record once and a resumed run can skip to where it stopped."""
    import tensorflow as tf

    compression = "GZIP" if info.compression == "gzip" else ""
    dataset = tf.data.Dataset.from_tensor_slices(list(info.files))
    if training:
        dataset = dataset.shuffle(len(info.files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        lambda name: tf.data.TFRecordDataset(name, compression_type=compression),
        cycle_length=min(len(info.files), 8), block_length=1, deterministic=True,
        num_parallel_calls=tf.data.AUTOTUNE)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    return dataset


def _replica_rows(global_batch: int, input_context):
    """(first row, local replicas, rows per replica) of this input pipeline's share of a global batch."""
    pipelines = input_context.num_input_pipelines if input_context else 1
    replicas = input_context.num_replicas_in_sync if input_context else 1
    if global_batch % replicas:
        raise BertprepError(f"batch size {global_batch} is not a multiple of the {replicas} replicas")
    per_replica = global_batch // replicas
    local = replicas // pipelines
    pipeline = input_context.input_pipeline_id if input_context else 0
    return pipeline * local * per_replica, local, per_replica


def _split_for_replicas(global_batch: int, input_context):
    """A map from a global batch (features, normalizers) to this pipeline's rows, leading axis one per
    local replica, to be unbatched: distribute_datasets_from_function hands consecutive elements to
    consecutive local replicas. Normalizers are scalars of the global batch, given to every replica."""
    import tensorflow as tf

    first, local, per_replica = _replica_rows(global_batch, input_context)

    def split(features, normalizers):
        mine = {name: tf.reshape(value[first:first + local * per_replica],
                                 [local, per_replica] + value.shape.as_list()[1:])
                for name, value in features.items()}
        return mine, {name: tf.fill([local], value) for name, value in normalizers.items()}

    return split


def make_training_dataset(info: DatasetInfo, global_batch: int, task: str, seed: int = 12345, skip_records: int = 0,
                          input_context=None, shuffle_buffer: int = 10000):
    """Per-replica training batches (features, loss normalizers) cut from the seeded global stream.

    The last partial global batch is dropped (static shapes, what XLA and TPUs need); the normalizers
    (trainer/tasks.py) are the global batch's, so each replica's loss is its share of the global mean.
    """
    import tensorflow as tf

    from bertprep.trainer import tasks

    dataset = _record_stream(info, True, seed, shuffle_buffer)
    if skip_records:
        dataset = dataset.skip(skip_records)
    dataset = dataset.batch(global_batch, drop_remainder=True)
    dataset = dataset.map(parse_fn(info.schema), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda features: (features, tasks.loss_normalizers(task, features)))
    dataset = dataset.map(_split_for_replicas(global_batch, input_context)).unbatch()
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_eval_dataset(info: DatasetInfo, global_batch: int, input_context=None):
    """Per-replica evaluation batches of static shape: the last global batch is padded with rows whose
    ROW_IS_REAL is 0, which the metrics leave out, so every record counts exactly once."""
    import tensorflow as tf

    def pad(features):
        rows = tf.shape(features["input_ids"])[0]
        padded = {name: tf.pad(value, [[0, global_batch - rows]] + [[0, 0]] * (len(value.shape) - 1))
                  for name, value in features.items()}
        padded = {name: tf.ensure_shape(value, [global_batch] + features[name].shape.as_list()[1:])
                  for name, value in padded.items()}
        padded[ROW_IS_REAL] = tf.cast(tf.range(global_batch) < rows, tf.int32)
        return padded, {"rows": tf.cast(rows, tf.float32)}

    dataset = _record_stream(info, False, 0, 0).batch(global_batch)
    dataset = dataset.map(parse_fn(info.schema)).map(pad)
    dataset = dataset.map(_split_for_replicas(global_batch, input_context)).unbatch()
    return dataset.map(lambda features, _: features).prefetch(tf.data.AUTOTUNE)
