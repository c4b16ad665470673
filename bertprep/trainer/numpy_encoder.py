"""The BERT encoder's forward pass in numpy, over a Hugging Face model.safetensors: `embed` without TensorFlow.

Why our own code: importing TensorFlow alone takes ~1 GB of RSS and ~3 CPU s, more than the whole
sentence-transformers run of `embed`'s benchmark; onnxruntime would need an export step (and a converter
we do not ship). A BERT encoder's inference is a dozen array operations per layer, so the pass is written
once here and run on torch's CPU kernels when torch is installed (extra `embed`: fused attention, layer
norm and GELU, the kernels sentence-transformers runs), else on numpy (only numpy and safetensors,
both required; about twice torch's CPU time, measured on 2,000 texts: each element-wise step, GELU's
erf above all, is one more pass over memory).

It covers what `embed` reads from a Hugging Face BERT directory: absolute positions, token type 0,
post-layer-norm blocks, `gelu` (exact, erf), `gelu_new`/`gelu_pytorch_tanh` and `relu`. Anything else
(a Google checkpoint, a `bertprep train` output, pytorch_model.bin only) goes through TensorFlow
(`supports` says which).
"""
import json
import math
import os

import numpy as np

from bertprep.io import fs

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")


def _erf(x):
    """erf in float32 (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: below float32's resolution near 1)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _activation(name):
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))
    if name == "relu":
        return lambda x: np.maximum(x, 0)
    scale = np.float32(math.sqrt(2.0 / math.pi))
    return lambda x: 0.5 * x * (1.0 + np.tanh(scale * (x + np.float32(0.044715) * x * x * x)))


def _layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


def supports(path) -> bool:
    """Whether `path` is a Hugging Face BERT directory this module can run (else: TensorFlow)."""
    path = os.fspath(path)
    if not (fs.is_dir(path) and fs.exists(fs.join(path, "model.safetensors"))
            and fs.exists(fs.join(path, "config.json"))):
        return False
    config = _read_config(path)
    return (config.get("model_type", "bert") == "bert" and config.get("hidden_act", "gelu") in ACTIVATIONS
            and config.get("position_embedding_type", "absolute") == "absolute")


class NumpyBertEncoder:
    """Weights of one BERT encoder as float32 arrays; `__call__` gives every layer's output for a batch."""

    def __init__(self, directory):
        from bertprep.trainer.checkpoint_import import read_hf_tensors

        config = _read_config(directory)
        tensors, self.source = read_hf_tensors(directory)
        self.heads = int(config["num_attention_heads"])
        self.eps = np.float32(config.get("layer_norm_eps", 1e-12))
        self.activation = _activation(config.get("hidden_act", "gelu"))

        def get(name):
            return np.ascontiguousarray(tensors.pop(name), np.float32)

        def dense(prefix):  # Hugging Face stores [out, in]: transposed once here for x @ W
            return np.ascontiguousarray(get(prefix + ".weight").T), get(prefix + ".bias")

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type0 = get("embeddings.token_type_embeddings.weight")[0]
        self.embedding_norm = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self.layers = []
        for index in range(int(config["num_hidden_layers"])):
            prefix = "encoder.layer.%d." % index
            query, key, value = (dense(prefix + "attention.self." + name) for name in ("query", "key", "value"))
            # Q, K and V in one product: one BLAS call instead of three.
            qkv = (np.ascontiguousarray(np.concatenate([query[0], key[0], value[0]], axis=1)),
                   np.concatenate([query[1], key[1], value[1]]))
            self.layers.append({
                "qkv": qkv, "attention_out": dense(prefix + "attention.output.dense"),
                "attention_norm": (get(prefix + "attention.output.LayerNorm.weight"),
                                   get(prefix + "attention.output.LayerNorm.bias")),
                "intermediate": dense(prefix + "intermediate.dense"), "output": dense(prefix + "output.dense"),
                "output_norm": (get(prefix + "output.LayerNorm.weight"), get(prefix + "output.LayerNorm.bias")),
            })

    def __call__(self, input_ids, input_mask):
        """[layers] of [batch, length, hidden] float32 for int arrays [batch, length] (mask: 1 real, 0 pad)."""
        batch, length = input_ids.shape
        hidden = self.word[input_ids] + self.position[:length] + self.token_type0
        hidden = _layer_norm(hidden, *self.embedding_norm, self.eps)
        size = hidden.shape[-1]
        head_size = size // self.heads
        # Padding keys get a large negative score: exp() of it is 0 after the max is subtracted.
        key_bias = ((1.0 - input_mask.astype(np.float32)) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(head_size))
        outputs = []
        for layer in self.layers:
            flat = hidden.reshape(batch * length, size)
            qkv = flat @ layer["qkv"][0] + layer["qkv"][1]
            qkv = qkv.reshape(batch, length, 3, self.heads, head_size).transpose(2, 0, 3, 1, 4)
            query, key, value = qkv[0], qkv[1], qkv[2]  # [batch, heads, length, head_size]
            scores = (query * scale) @ key.transpose(0, 1, 3, 2) + key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * length, size)
            attended = context @ layer["attention_out"][0] + layer["attention_out"][1]
            flat = _layer_norm(attended + flat, *layer["attention_norm"], self.eps)
            inner = self.activation(flat @ layer["intermediate"][0] + layer["intermediate"][1])
            out = inner @ layer["output"][0] + layer["output"][1]
            flat = _layer_norm(out + flat, *layer["output_norm"], self.eps)
            hidden = flat.reshape(batch, length, size)
            outputs.append(hidden)
        return outputs


def pool(layers, input_mask, pooling):
    """Sentence vectors [batch, hidden] as `inference.pool`, in numpy."""
    if pooling == "cls":
        return layers[-1][:, 0, :]
    hidden = layers[-2] if pooling == "second-to-last-mean" and len(layers) > 1 else layers[-1]
    mask = input_mask.astype(np.float32)[:, :, None]
    if pooling == "max":
        return (hidden + (mask - 1.0) * np.float32(1e9)).max(axis=1)
    return (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), np.float32(1.0))


def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


class TorchBertEncoder:
    """The same forward pass on torch's CPU kernels (fused attention, layer norm, GELU): the weights are the
    NumpyBertEncoder's arrays, shared, not copied. Measured on 2,000 texts (2 cores, loaded), the numpy pass
    took twice torch's CPU time: its element-wise steps (GELU's erf, layer norm) are one pass over memory
    each, where torch fuses them."""

    def __init__(self, directory, threads=None):
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        self._torch = torch
        weights = NumpyBertEncoder(directory)
        self.heads, self.eps = weights.heads, float(weights.eps)
        self.approximate = {"gelu": "none", "relu": None}.get(weights_activation(directory), "tanh")
        tensor = torch.from_numpy
        self.word, self.position = tensor(weights.word), tensor(weights.position)
        self.token_type0 = tensor(weights.token_type0)
        self.embedding_norm = tuple(tensor(array) for array in weights.embedding_norm)
        # torch's linear takes [out, in]: the transposed numpy weights, transposed back (a view).
        self.layers = [{name: tuple(tensor(array).T if array.ndim == 2 else tensor(array) for array in pair)
                        for name, pair in layer.items()} for layer in weights.layers]

    def __call__(self, input_ids, input_mask):
        torch = self._torch
        functional = torch.nn.functional
        with torch.inference_mode():
            ids = torch.from_numpy(np.asarray(input_ids, np.int64))
            batch, length = ids.shape
            size = self.word.shape[1]
            head_size = size // self.heads
            hidden = self.word[ids] + self.position[:length] + self.token_type0
            hidden = functional.layer_norm(hidden, (size,), *self.embedding_norm, self.eps)
            keep = torch.from_numpy(np.asarray(input_mask) != 0)[:, None, None, :]  # True: attend to this key
            outputs = []
            for layer in self.layers:
                qkv = functional.linear(hidden, *layer["qkv"]).view(batch, length, 3, self.heads, head_size)
                query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
                context = functional.scaled_dot_product_attention(query, key, value, attn_mask=keep)
                context = context.transpose(1, 2).reshape(batch, length, size)
                hidden = functional.layer_norm(functional.linear(context, *layer["attention_out"]) + hidden,
                                               (size,), *layer["attention_norm"], self.eps)
                inner = functional.linear(hidden, *layer["intermediate"])
                inner = functional.relu(inner) if self.approximate is None else \
                    functional.gelu(inner, approximate=self.approximate)
                hidden = functional.layer_norm(functional.linear(inner, *layer["output"]) + hidden,
                                               (size,), *layer["output_norm"], self.eps)
                outputs.append(hidden)
            return [output.numpy() for output in outputs]


def weights_activation(directory) -> str:
    return _read_config(directory).get("hidden_act", "gelu")


def _read_config(directory) -> dict:
    """The model's Hugging Face config.json (local or gs://)."""
    return json.loads(fs.read_text(fs.join(os.fspath(directory), "config.json")))
