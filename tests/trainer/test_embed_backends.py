"""`embed` without TensorFlow: the numpy and torch forward passes over a Hugging Face model.safetensors give the
TensorFlow encoder's vectors (sentence and token), in input order, and never import TensorFlow."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bertprep.trainer import numpy_encoder
from bertprep.trainer.config import BertConfig
from bertprep.trainer.inference import Embedder, resolve_settings

HIDDEN, LAYERS, HEADS, INNER, VOCAB_SIZE, POSITIONS = 32, 2, 4, 64, 50, 40


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory):
    """A tiny random BERT in the Hugging Face layout (config.json, model.safetensors, vocab.txt)."""
    from safetensors.numpy import save_file

    root = tmp_path_factory.mktemp("hf_bert")
    rng = np.random.default_rng(3)

    def normal(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    tensors = {"embeddings.word_embeddings.weight": normal(VOCAB_SIZE, HIDDEN, scale=1.0),
               "embeddings.position_embeddings.weight": normal(POSITIONS, HIDDEN),
               "embeddings.token_type_embeddings.weight": normal(2, HIDDEN),
               "embeddings.LayerNorm.weight": 1 + normal(HIDDEN), "embeddings.LayerNorm.bias": normal(HIDDEN),
               "pooler.dense.weight": normal(HIDDEN, HIDDEN), "pooler.dense.bias": normal(HIDDEN)}
    for layer in range(LAYERS):
        prefix = "encoder.layer.%d." % layer
        for name, (out, inp) in {"attention.self.query": (HIDDEN, HIDDEN), "attention.self.key": (HIDDEN, HIDDEN),
                                 "attention.self.value": (HIDDEN, HIDDEN), "attention.output.dense": (HIDDEN, HIDDEN),
                                 "intermediate.dense": (INNER, HIDDEN), "output.dense": (HIDDEN, INNER)}.items():
            tensors[prefix + name + ".weight"] = normal(out, inp)
            tensors[prefix + name + ".bias"] = normal(out)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[prefix + norm + ".weight"] = 1 + normal(HIDDEN)
            tensors[prefix + norm + ".bias"] = normal(HIDDEN)
    save_file(tensors, str(root / "model.safetensors"))
    (root / "config.json").write_text(json.dumps({
        "model_type": "bert", "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INNER, "vocab_size": VOCAB_SIZE, "max_position_embeddings": POSITIONS,
        "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}))
    (root / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] +
                                              ["w%d" % i for i in range(VOCAB_SIZE - 4)]) + "\n")
    return root


def id_lists():
    rng = np.random.default_rng(7)  # lengths out of order: sorting moves them and each batch pads some
    return [[2] + list(rng.integers(4, VOCAB_SIZE, size=length)) + [3] for length in (9, 1, 30, 4, 17, 0, 11)]


def embed(model, backend, pooling="mean"):
    settings = resolve_settings(str(model), BertConfig.from_json_file(str(model / "config.json")), pooling=pooling)
    embedder = Embedder(str(model), settings, batch_size=3, token_vectors=True, backend=backend)
    assert embedder.backend == backend
    return embedder.embed_ids(id_lists())


def cosines(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_numpy_and_torch_give_tensorflows_vectors(hf_model, pooling):
    pytest.importorskip("tensorflow")
    reference = embed(hf_model, "tensorflow", pooling)
    backends = ["numpy"] + (["torch"] if numpy_encoder.torch_available() else [])
    for backend in backends:
        embedded = embed(hf_model, backend, pooling)
        assert cosines(embedded.sentence, reference.sentence).min() >= 0.9999, backend
        np.testing.assert_allclose(embedded.sentence, reference.sentence, rtol=1e-3, atol=1e-4)
        for ours, theirs, ids in zip(embedded.tokens, reference.tokens, id_lists()):
            assert ours.shape == (len(ids), HIDDEN)
            np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
    assert np.linalg.matrix_rank(reference.sentence) == len(id_lists())  # distinct texts, distinct vectors


def test_a_hugging_face_directory_is_embedded_without_importing_tensorflow(hf_model):
    script = ("import sys; from bertprep.trainer.config import BertConfig; "
              "from bertprep.trainer.inference import Embedder, resolve_settings, use_cores; use_cores(1); "
              "m = sys.argv[1]; s = resolve_settings(m, BertConfig.from_json_file(m + '/config.json')); "
              "e = Embedder(m, s); v = e.embed_ids([[2, 5, 6, 3], [2, 7, 3]]).sentence; "
              "print(e.backend, v.shape, 'tensorflow' in sys.modules)")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", script, str(hf_model)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=repo))
    assert done.returncode == 0, done.stderr[-2000:]
    backend, *rest = done.stdout.split()
    assert backend in ("torch", "numpy")
    assert done.stdout.strip().endswith("(2, 32) False")
