"""Load pretrained weights into our models from Google TF1 checkpoints and Hugging Face files.

Google checkpoints are read tensor by tensor with `tf.train.load_checkpoint` and mapped by their
original variable names (`bert/encoder/layer_3/attention/self/query/kernel`, ...); no TF1 graph is
built. Hugging Face weights come from `model.safetensors` (numpy loader) or `pytorch_model.bin`
(needs torch). Every import reports, by name, the model variables it could not fill (`missing`)
and the stored tensors it did not use (`unused`); Adam slots and step counters are ignored.
"""
import dataclasses
import os
import re

import numpy as np

from bertprep.io import fs
from bertprep.errors import BertprepError

GOOGLE = "google"
HF = "hf"

# Stored tensors that are optimizer state or bookkeeping, never weights.
_GOOGLE_IGNORED = re.compile(r"(^|/)(adam_m|adam_v|Adam(_\d+)?|global_step|good_steps|loss_scale|current_loss_scale)$")
_HF_IGNORED = re.compile(r"(^|\.)(position_ids|decoder\.weight|decoder\.bias)$")


@dataclasses.dataclass
class ImportReport:
    """What an import did: names loaded, model variables left as initialised, stored tensors unused."""

    source: str
    loaded: list
    missing: list
    unused: list

    def summary(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors from {self.source}"]
        if self.missing:
            lines.append(f"missing from the checkpoint (left as initialised): {', '.join(self.missing)}")
        if self.unused:
            lines.append(f"in the checkpoint but unused: {', '.join(self.unused)}")
        return "\n".join(lines)


def _encoder_of(model):
    return getattr(model, "encoder", model)


def variable_map(model, naming: str) -> dict:
    """Map stored name → (model variable, transpose?) for `naming` "google" or "hf".

    `model` is a BertEncoder or one of the task models in heads.py. HF names are given without the
    optional `bert.` prefix (the loader strips it).
    """
    encoder = _encoder_of(model)
    names = {}
    google = naming == GOOGLE

    def dense(prefix, layer, transpose_kernel=False):
        if google:
            names[f"{prefix}/kernel"] = (layer.kernel, transpose_kernel)
            names[f"{prefix}/bias"] = (layer.bias, False)
        else:  # torch Linear stores [out, in]
            names[f"{prefix}.weight"] = (layer.kernel, not transpose_kernel)
            names[f"{prefix}.bias"] = (layer.bias, False)

    def layer_norm(prefix, layer):
        if google:
            names[f"{prefix}/gamma"] = (layer.gamma, False)
            names[f"{prefix}/beta"] = (layer.beta, False)
        else:
            names[f"{prefix}.weight"] = (layer.gamma, False)
            names[f"{prefix}.bias"] = (layer.beta, False)

    sep = "/" if google else "."
    root = "bert/" if google else ""
    emb = encoder.embeddings
    suffix = "" if google else ".weight"
    for attr in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        names[f"{root}embeddings{sep}{attr}{suffix}"] = (getattr(emb, attr), False)
    layer_norm(f"{root}embeddings{sep}LayerNorm", emb.layer_norm)
    for index, block in enumerate(encoder.blocks):
        base = f"{root}encoder/layer_{index}" if google else f"encoder.layer.{index}"
        attention = block.attention
        for part in ("query", "key", "value"):
            dense(f"{base}{sep}attention{sep}self{sep}{part}", getattr(attention, part))
        dense(f"{base}{sep}attention{sep}output{sep}dense", attention.output_dense)
        layer_norm(f"{base}{sep}attention{sep}output{sep}LayerNorm", attention.layer_norm)
        dense(f"{base}{sep}intermediate{sep}dense", block.intermediate)
        dense(f"{base}{sep}output{sep}dense", block.output_dense)
        layer_norm(f"{base}{sep}output{sep}LayerNorm", block.layer_norm)
    dense(f"{root}pooler{sep}dense", encoder.pooler)

    task = getattr(model, "task", None)
    if task == "pretraining":
        head = model.masked_lm
        dense(f"cls{sep}predictions{sep}transform{sep}dense", head.transform)
        layer_norm(f"cls{sep}predictions{sep}transform{sep}LayerNorm", head.layer_norm)
        names["cls/predictions/output_bias" if google else "cls.predictions.bias"] = (head.output_bias, False)
        _head_weights(names, google, "cls/seq_relationship", "cls.seq_relationship", model.next_sentence)
    elif task in ("classifier", "tagging"):
        # run_classifier.py names its head `output_weights` [num_labels, hidden] / `output_bias`.
        _head_weights(names, google, "", "classifier", model.classifier)
    elif task == "squad":
        _head_weights(names, google, "cls/squad", "qa_outputs", model.span)
    return names


def _head_weights(names, google, google_scope, hf_prefix, layer):
    """Heads the original code stores as `output_weights` [out, in] + `output_bias`."""
    if google:
        scope = f"{google_scope}/" if google_scope else ""
        names[f"{scope}output_weights"] = (layer.kernel, True)
        names[f"{scope}output_bias"] = (layer.bias, False)
    else:
        names[f"{hf_prefix}.weight"] = (layer.kernel, True)
        names[f"{hf_prefix}.bias"] = (layer.bias, False)


def assign_tensors(model, tensors: dict, naming: str, source: str) -> ImportReport:
    """Assign `tensors` (stored name → numpy array or zero-argument loader) to the model's variables."""
    mapping = variable_map(model, naming)
    ignored = _GOOGLE_IGNORED if naming == GOOGLE else _HF_IGNORED
    loaded, missing = [], []
    for name, (variable, transpose) in mapping.items():
        if name not in tensors:
            missing.append(name)
            continue
        value = tensors[name]
        value = np.asarray(value() if callable(value) else value)
        if transpose:
            value = value.T
        if tuple(value.shape) != tuple(variable.shape):
            raise BertprepError(
                f"{source}: tensor {name} has shape {tuple(value.shape)} but the model expects "
                f"{tuple(variable.shape)} (check the BERT config matches the checkpoint)"
            )
        variable.assign(value.astype(variable.dtype))
        loaded.append(name)
    if not loaded:
        raise BertprepError(
            f"{source}: none of the model's variables were found (expected names like "
            f"{next(iter(mapping))!r}); is this a BERT checkpoint?"
        )
    unused = sorted(name for name in tensors if name not in mapping and not ignored.search(name))
    return ImportReport(source=source, loaded=loaded, missing=missing, unused=unused)


def resolve_tf_checkpoint(path) -> str:
    """A checkpoint prefix from a prefix, an `.index`/`.data-*` file, or a directory (its latest checkpoint)."""
    path = os.fspath(path)
    if fs.is_dir(path):
        import tensorflow as tf

        latest = tf.train.latest_checkpoint(path)
        if latest and fs.exists(latest + ".index"):
            return latest
        if latest:  # the `checkpoint` file often names the machine it was written on
            local = fs.join(path, fs.basename(latest))
            if fs.exists(local + ".index"):
                return local
        indexes = sorted(fs.list_files(fs.join(path, "*.index")))
        if not indexes and fs.is_dir(fs.join(path, "checkpoints")):  # a `bertprep train` output
            return resolve_tf_checkpoint(fs.join(path, "checkpoints"))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        if not indexes:
            raise BertprepError(f"{path}: no checkpoint in this directory (no *.index file)")
        raise BertprepError(
            f"{path}: several checkpoints and no usable `checkpoint` file; pass one prefix, e.g. "
            f"{indexes[-1][: -len('.index')]}"
        )
    if path.endswith(".index"):
        path = path[: -len(".index")]
    path = re.sub(r"\.data-\d+-of-\d+$", "", path)
    if not fs.exists(path + ".index"):
        raise BertprepError(f"{path}: checkpoint not found (no {fs.basename(path)}.index)")
    return path


def is_object_checkpoint(prefix) -> bool:
    """True for checkpoints written by tf.train.Checkpoint (ours), False for name-based TF1 ones."""
    import tensorflow as tf

    return "_CHECKPOINTABLE_OBJECT_GRAPH" in tf.train.load_checkpoint(prefix).get_variable_to_shape_map()


def load_google_checkpoint(model, path) -> ImportReport:
    """Fill `model` from an original BERT checkpoint (prefix or directory), reading tensors by name."""
    import tensorflow as tf

    prefix = resolve_tf_checkpoint(path)
    reader = tf.train.load_checkpoint(prefix)
    tensors = {
        name: (lambda name=name: reader.get_tensor(name))
        for name in reader.get_variable_to_shape_map()
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }
    return assign_tensors(model, tensors, GOOGLE, prefix)


def read_hf_tensors(directory) -> tuple:
    """(name → array, file) from model.safetensors or pytorch_model.bin, names without `bert.`."""
    directory = os.fspath(directory)
    safetensors_path = fs.join(directory, "model.safetensors")
    torch_path = fs.join(directory, "pytorch_model.bin")
    if fs.exists(safetensors_path):
        raw = {}
        if fs.is_remote(safetensors_path):  # safe_open maps a local file; a remote one is read whole
            from safetensors.numpy import load

            raw.update(load(fs.read_bytes(safetensors_path)))
        else:
            from safetensors import safe_open

            with safe_open(safetensors_path, framework="np") as handle:
                for name in handle.keys():
                    raw[name] = handle.get_tensor(name)
        source = safetensors_path
    elif fs.exists(torch_path):
        try:
            import torch
        except ImportError:
            raise BertprepError(
                f"{torch_path}: reading pytorch_model.bin needs torch; install it or convert to model.safetensors"
            ) from None
        state = torch.load(torch_path, map_location="cpu", weights_only=True)
        raw = {name: value.float().numpy() for name, value in state.items()}
        source = torch_path
    else:
        raise BertprepError(f"{directory}: no model.safetensors or pytorch_model.bin")
    tensors = {}
    for name, value in raw.items():
        key = name[len("bert."):] if name.startswith("bert.") else name
        # Old checkpoints call LayerNorm parameters gamma/beta.
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", key)
        key = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)
        tensors[key] = value
    return tensors, source


def load_hf_weights(model, directory) -> ImportReport:
    """Fill `model` from a Hugging Face BERT directory."""
    tensors, source = read_hf_tensors(directory)
    return assign_tensors(model, tensors, HF, source)


def load_object_checkpoint(model, prefix) -> ImportReport:
    """Restore one of our own checkpoints (training or export) into `model`.

    The encoder must match completely; task heads are restored when the checkpoint has the same
    head (a pretraining checkpoint loaded into a classifier leaves the classifier as initialised).
    """
    import tensorflow as tf

    encoder = _encoder_of(model)
    status = tf.train.Checkpoint(model=tf.train.Checkpoint(encoder=encoder)).read(prefix).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError:
        raise BertprepError(f"{prefix}: the checkpoint's encoder does not match the BERT config "
                            f"(some encoder variables were not found)") from None
    missing = []
    if encoder is not model:
        status = tf.train.Checkpoint(model=model).read(prefix).expect_partial()
        try:
            status.assert_existing_objects_matched()
        except AssertionError:
            encoder_ids = {id(v) for v in encoder.weights}
            missing = [v.path for v in model.weights if id(v) not in encoder_ids]
    return ImportReport(source=prefix, loaded=[v.path for v in encoder.weights], missing=missing, unused=[])


def detect_format(path) -> str:
    """"hf", "google" or "bertprep" for a model path (directory or checkpoint prefix)."""
    path = os.fspath(path)
    if fs.is_dir(path) and (
        fs.exists(fs.join(path, "model.safetensors")) or fs.exists(fs.join(path, "pytorch_model.bin"))
    ):
        return HF
    prefix = resolve_tf_checkpoint(path)
    return "bertprep" if is_object_checkpoint(prefix) else GOOGLE


def load_pretrained(model, path) -> ImportReport:
    """Fill `model` from any supported source; the report lists missing and unused names."""
    kind = detect_format(path)
    if kind == HF:
        return load_hf_weights(model, path)
    if kind == GOOGLE:
        return load_google_checkpoint(model, path)
    return load_object_checkpoint(model, resolve_tf_checkpoint(path))
