"""`bertprep export`: a training checkpoint → weights without optimizer state, plus a SavedModel.

Written to the output directory:
  model.ckpt.*        the task model's weights only (Adam slots and step counters dropped)
  bert_config.json, model.json, vocab.txt (when known)
  saved_model/        serving signature `serving_default(input_ids, input_mask, segment_ids)` →
                      `sequence_output`, `pooled_output`, `encoder_outputs` [batch, layers, length, hidden]
Optionally `bert_model.ckpt.*` with Google's variable names, for tools that read original checkpoints.
"""

from bertprep.io import fs
from bertprep.errors import BertprepError
from bertprep.trainer import checkpoint_import, loop
from bertprep.trainer.loading import find_beside, load_task_model

WEIGHTS_PREFIX = "model.ckpt"
GOOGLE_PREFIX = "bert_model.ckpt"


def checkpoint_size(prefix) -> int:
    """Bytes in a checkpoint's .index and .data-* files."""
    return sum(fs.size(name) for name in fs.list_files(prefix + ".index") + fs.list_files(prefix + ".data-*"))


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024.0
    return f"{size:.1f} GB"


def export(checkpoint, output, bert_config_path=None, vocab=None, saved_model=True, google_format=False,
           overwrite=False, log=print) -> dict:
    """Write the slim export; returns sizes and paths."""
    import tensorflow as tf

    if fs.exists(fs.join(output, WEIGHTS_PREFIX + ".index")) and not overwrite:
        raise BertprepError(f"{output} already holds an export; pass --overwrite to replace it")
    loaded = load_task_model(checkpoint, bert_config_path)
    model, bert_config, description, prefix = loaded.model, loaded.bert_config, loaded.description, loaded.prefix
    if loaded.import_report is not None:  # an original Google checkpoint: its Adam slots are dropped the same way
        log(loaded.import_report.summary())
    fs.makedirs(output)
    weights = fs.join(output, WEIGHTS_PREFIX)
    tf.train.Checkpoint(model=model).write(weights)
    old_size, new_size = checkpoint_size(prefix), checkpoint_size(weights)
    log(f"checkpoint {prefix}: {human_size(old_size)} → weights only {weights}: {human_size(new_size)}")
    bert_config.to_json_file(fs.join(output, "bert_config.json"))
    loop.write_model_description(output, description["task"], {
        "num_labels": description.get("num_labels"), "multi_label": description.get("multi_label", False),
        "regression": description.get("regression", False), "labels": description.get("labels"),
        "vocab_fingerprint": description.get("vocab_fingerprint"), "max_seq_length": description.get("max_seq_length")},
        description.get("use_next_sentence", True))
    vocab = vocab or find_beside(prefix, fs.dirname(prefix), "vocab.txt")
    if vocab:
        fs.copy(vocab, fs.join(output, "vocab.txt"))
    result = {"old_bytes": old_size, "new_bytes": new_size, "weights": weights}
    if google_format:
        result["google_checkpoint"] = write_google_checkpoint(model, fs.join(output, GOOGLE_PREFIX))
    if saved_model:
        result["saved_model"] = write_saved_model(model.encoder, fs.join(output, "saved_model"))
        log(f"SavedModel with serving signature: {result['saved_model']}")
    return result


def write_google_checkpoint(model, prefix) -> str:
    """Weights under the original TF1 variable names (read by google-research/bert's scripts)."""
    import tensorflow as tf

    mapping = checkpoint_import.variable_map(model, checkpoint_import.GOOGLE)
    names = sorted(mapping)
    tensors = []
    for name in names:
        variable, transpose = mapping[name]
        value = tf.convert_to_tensor(variable.numpy())
        tensors.append(tf.transpose(value) if transpose else value)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
    return prefix


def write_saved_model(encoder, directory) -> str:
    import tensorflow as tf

    class Serving(tf.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                                      tf.TensorSpec([None, None], tf.int32, name="input_mask"),
                                      tf.TensorSpec([None, None], tf.int32, name="segment_ids")])
        def serve(self, input_ids, input_mask, segment_ids):
            outputs = self.encoder(input_ids, input_mask, segment_ids, training=False)
            return {"sequence_output": tf.cast(outputs["sequence_output"], tf.float32),
                    "pooled_output": tf.cast(outputs["pooled_output"], tf.float32),
                    "encoder_outputs": tf.cast(tf.stack(outputs["encoder_outputs"], axis=1), tf.float32)}

    module = Serving(encoder)
    if fs.exists(directory):
        fs.delete_tree(directory)
    tf.saved_model.save(module, directory, signatures={"serving_default": module.serve})
    return directory
