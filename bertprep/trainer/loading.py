"""Loading a trained task model: a `bertprep train` output, one of its checkpoints, or a `bertprep export`.

`predict` and `export` need the same thing: the model that model.json describes (pretraining when there
is no model.json), built for bert_config.json, with every one of its variables filled from the checkpoint.
A checkpoint that leaves any of them unfilled is refused in one line rather than used half-initialised.
`embed` needs only the encoder, from more formats (Hugging Face, Google), and loads it through
`checkpoint_import.load_pretrained`.
"""
import dataclasses
import os
from typing import Optional

from bertprep.io import fs
from bertprep.errors import BertprepError
from bertprep.trainer import checkpoint_import, loop
from bertprep.trainer.config import BertConfig

# What a checkpoint holds when it has no model.json beside it (a pretraining run, or Google's own).
PRETRAINING_DESCRIPTION = {"task": "pretraining", "use_next_sentence": True, "num_labels": 2}


def require_model(path) -> None:
    """A one-line error when `path` is neither a model directory/file nor a checkpoint prefix."""
    path = os.fspath(path)
    if not fs.exists(path) and not fs.exists(path + ".index"):
        raise BertprepError(f"{path}: model not found")


def find_beside(prefix, start_directory, name) -> Optional[str]:
    """`name` in the directory given, the checkpoint's directory or the training output above it."""
    for directory in (start_directory, fs.dirname(prefix), fs.dirname(fs.dirname(prefix))):
        if directory and fs.exists(fs.join(directory, name)):
            return fs.join(directory, name)
    return None


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A task model with its weights, and what it was built from."""

    model: object  # the Keras task model (trainer.heads)
    bert_config: BertConfig
    description: dict  # model.json's content: task, num_labels, labels, multi_label, regression...
    prefix: str  # the checkpoint prefix read
    import_report: Optional[checkpoint_import.ImportReport] = None  # for a Google checkpoint: what mapped


def load_task_model(directory_or_prefix, bert_config_path=None, task: Optional[str] = None) -> LoadedModel:
    """The task model of a checkpoint, its weights read; with `task`, a model of another task is refused
    (before anything is built)."""
    import tensorflow as tf

    from bertprep.trainer.heads import build_task_model

    directory_or_prefix = os.fspath(directory_or_prefix)
    require_model(directory_or_prefix)
    prefix = checkpoint_import.resolve_tf_checkpoint(directory_or_prefix)
    start = directory_or_prefix if fs.is_dir(directory_or_prefix) else fs.dirname(directory_or_prefix)
    bert_config_path = bert_config_path or find_beside(prefix, start, "bert_config.json")
    if not bert_config_path:
        raise BertprepError(f"{directory_or_prefix}: no bert_config.json beside the checkpoint; pass --bert-config")
    bert_config = BertConfig.from_json_file(bert_config_path)
    model_file = find_beside(prefix, start, loop.MODEL_FILE)
    description = (loop.read_model_description(fs.dirname(model_file)) if model_file else None) or \
        PRETRAINING_DESCRIPTION
    if task is not None and description.get("task") != task:
        raise BertprepError(f"{directory_or_prefix} holds a {description.get('task')!r} model (model.json), "
                            f"not a {task} model")
    model = build_task_model(description["task"], bert_config, num_labels=description.get("num_labels") or 2,
                             use_next_sentence=description.get("use_next_sentence", True))
    report = None
    if checkpoint_import.is_object_checkpoint(prefix):
        status = tf.train.Checkpoint(model=model).read(prefix).expect_partial()
        try:
            status.assert_existing_objects_matched()
        except AssertionError:
            raise BertprepError(f"{prefix}: the checkpoint does not match the {description['task']} model "
                                f"described by model.json and bert_config.json") from None
    else:  # an original Google checkpoint (its variable names mapped onto ours)
        report = checkpoint_import.load_google_checkpoint(model, prefix)
    return LoadedModel(model, bert_config, description, prefix, report)
