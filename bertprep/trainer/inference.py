"""Load any supported model for inference and turn token ids into sentence or token vectors.

`--model` may be a Hugging Face BERT directory (config.json + model.safetensors/pytorch_model.bin),
a Google checkpoint directory or prefix (bert_config.json beside it), or a `bertprep train` /
`bertprep export` output. Pooling follows bert-as-service: `mean` averages the last layer over
real tokens only ([CLS] and [SEP] included, padding excluded), `second-to-last-mean` the layer
before it, `cls` takes the last layer's vector at [CLS].
"""
import os

import numpy as np

from bertprep.errors import BertprepError
from bertprep.trainer import checkpoint_import
from bertprep.trainer.config import BertConfig

POOLINGS = ("cls", "mean", "second-to-last-mean")


def find_bert_config(path) -> str:
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    for candidate in (directory, os.path.dirname(directory)):
        for name in ("bert_config.json", "config.json"):
            if candidate and os.path.exists(os.path.join(candidate, name)):
                return os.path.join(candidate, name)
    raise BertprepError(f"{path}: no bert_config.json or config.json beside the model")


def find_vocab(path):
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    for candidate in (directory, os.path.dirname(directory)):
        if candidate and os.path.exists(os.path.join(candidate, "vocab.txt")):
            return os.path.join(candidate, "vocab.txt")
    return None


def load_encoder(path, bert_config_path=None):
    """(BertEncoder with weights, BertConfig, ImportReport) from any supported model path."""
    from bertprep.trainer.model import build_encoder

    path = os.fspath(path)
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise BertprepError(f"{path}: model not found")
    config = BertConfig.from_json_file(bert_config_path or find_bert_config(path))
    encoder = build_encoder(config)
    report = checkpoint_import.load_pretrained(encoder, path)
    return encoder, config, report


def pool(outputs, input_mask, pooling):
    """Sentence vectors [batch, hidden] from encoder outputs (keras.ops; works on any backend)."""
    from keras import ops

    if pooling == "cls":
        return outputs["sequence_output"][:, 0, :]
    if pooling == "mean":
        hidden = outputs["sequence_output"]
    elif pooling == "second-to-last-mean":
        layers = outputs["encoder_outputs"]
        hidden = layers[-2] if len(layers) > 1 else layers[-1]
    else:
        raise BertprepError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
    mask = ops.expand_dims(ops.cast(input_mask, hidden.dtype), -1)
    return ops.sum(hidden * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


class Embedder:
    """A loaded encoder with a compiled batch function (built once per worker)."""

    def __init__(self, model_path, pooling="mean", bert_config_path=None):
        if pooling not in POOLINGS:
            raise BertprepError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
        import tensorflow as tf

        self.encoder, self.config, self.report = load_encoder(model_path, bert_config_path)
        self.pooling = pooling
        self.hidden_size = self.config.hidden_size
        encoder = self.encoder

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 3, reduce_retracing=True)
        def run(input_ids, input_mask, segment_ids):
            outputs = encoder(input_ids, input_mask, segment_ids, training=False)
            return pool(outputs, input_mask, pooling), outputs["sequence_output"]

        self._run = run

    def embed(self, input_ids, input_mask, segment_ids=None):
        """(sentence vectors [batch, hidden], token vectors [batch, length, hidden]) as float32 numpy."""
        input_ids = np.asarray(input_ids, np.int32)
        input_mask = np.asarray(input_mask, np.int32)
        segment_ids = np.zeros_like(input_ids) if segment_ids is None else np.asarray(segment_ids, np.int32)
        sentence, tokens = self._run(input_ids, input_mask, segment_ids)
        return np.asarray(sentence, np.float32), np.asarray(tokens, np.float32)
