"""The model's maths, config parsing, and the JAX backend (the optimizers: test_trainer_optimizer.py)."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import random_features, tiny_config  # noqa: E402

from bertprep.errors import BertprepError  # noqa: E402
from bertprep.trainer.config import GELU_ERF, GELU_TANH, BertConfig  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_config_reads_google_and_hugging_face_activations(tmp_path):
    google = {"vocab_size": 21128, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
              "intermediate_size": 3072, "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2,
              "initializer_range": 0.02, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
              "directionality": "bidi", "pooler_fc_size": 768}
    (tmp_path / "bert_config.json").write_text(json.dumps(google))
    config = BertConfig.from_json_file(tmp_path / "bert_config.json")
    assert config.hidden_act == GELU_TANH and config.layer_norm_eps == 1e-12 and config.vocab_size == 21128
    hf = dict(google, model_type="bert", layer_norm_eps=1e-7, architectures=["BertModel"])
    (tmp_path / "config.json").write_text(json.dumps(hf))
    config = BertConfig.from_json_file(tmp_path / "config.json")
    assert config.hidden_act == GELU_ERF and config.layer_norm_eps == 1e-7
    # Our own saved configs keep the unambiguous name.
    config.to_json_file(tmp_path / "ours.json")
    assert BertConfig.from_json_file(tmp_path / "ours.json") == config
    (tmp_path / "bad.json").write_text(json.dumps(dict(hf, model_type="roberta")))
    with pytest.raises(BertprepError, match="bad.json: model_type 'roberta' is not a BERT model"):
        BertConfig.from_json_file(tmp_path / "bad.json")
    with pytest.raises(BertprepError, match="not a multiple of num_attention_heads"):
        BertConfig(vocab_size=10, hidden_size=30, num_attention_heads=4)
    with pytest.raises(BertprepError, match="missing.json: BERT config file not found"):
        BertConfig.from_json_file(tmp_path / "missing.json")


def test_gelu_is_the_tanh_approximation_and_erf_form():
    from bertprep.trainer.model import gelu_erf, gelu_tanh

    x = np.linspace(-5, 5, 41).astype("float32")
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    erf_form = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(np.asarray(gelu_tanh(x)), tanh_form, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gelu_erf(x)), erf_form, rtol=1e-5, atol=1e-6)
    assert np.abs(tanh_form - erf_form).max() > 1e-4  # they are different functions


def test_padding_does_not_change_real_positions_and_layer_norm_epsilon():
    from bertprep.trainer.model import build_encoder

    config = tiny_config()
    encoder = build_encoder(config, seed=7)
    features = random_features(2, 16, config.vocab_size)
    changed = dict(features, input_ids=features["input_ids"].copy())
    changed["input_ids"][:, 12:] = 5  # positions 12.. are padding (input_mask 0)
    first = encoder(features["input_ids"], features["input_mask"], features["segment_ids"])
    second = encoder(changed["input_ids"], changed["input_mask"], changed["segment_ids"])
    np.testing.assert_allclose(np.asarray(first["sequence_output"])[:, :12],
                               np.asarray(second["sequence_output"])[:, :12], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(first["pooled_output"]), np.asarray(second["pooled_output"]), atol=1e-6)
    assert len(first["encoder_outputs"]) == config.num_hidden_layers
    assert encoder.embeddings.layer_norm.epsilon == 1e-12
    # Same seed, same weights; another seed, other weights.
    again = build_encoder(config, seed=7)
    other = build_encoder(config, seed=8)
    np.testing.assert_array_equal(np.asarray(again.blocks[1].attention.query.kernel),
                                  np.asarray(encoder.blocks[1].attention.query.kernel))
    assert not np.allclose(np.asarray(other.blocks[1].attention.query.kernel),
                           np.asarray(encoder.blocks[1].attention.query.kernel))
    assert not np.allclose(np.asarray(encoder.blocks[0].attention.query.kernel),
                           np.asarray(encoder.blocks[0].attention.key.kernel))


JAX_SCRIPT = r"""
import json, sys
import numpy as np
import keras
sys.path.insert(0, sys.argv[1])
from bertprep.trainer.config import BertConfig
from bertprep.trainer.heads import build_task_model
arrays = np.load(sys.argv[2])
config = BertConfig(**json.loads(sys.argv[3]))
model = build_task_model("pretraining", config)
for variable, index in zip(model.weights, range(len(model.weights))):
    variable.assign(arrays["w%d" % index])
features = {name[2:]: arrays[name] for name in arrays.files if name.startswith("f_")}
outputs = model(features)
encoded = model.encode(features)
np.savez(sys.argv[4], masked_lm_logits=np.asarray(outputs["masked_lm_logits"]),
         next_sentence_logits=np.asarray(outputs["next_sentence_logits"]),
         pooled_output=np.asarray(encoded["pooled_output"]))
print("backend", keras.backend.backend(), "tensorflow" in sys.modules)
"""


def test_same_model_code_runs_on_jax_with_the_same_outputs(tmp_path):
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    from bertprep.trainer.heads import build_task_model

    config = tiny_config()
    model = build_task_model("pretraining", config, seed=3)
    features = dict(random_features(2, 16, config.vocab_size), masked_lm_positions=np.array([[1, 4], [2, 9]], "int32"))
    arrays = {"w%d" % index: np.asarray(variable) for index, variable in enumerate(model.weights)}
    arrays.update({"f_" + name: value for name, value in features.items()})
    np.savez(tmp_path / "in.npz", **arrays)
    (tmp_path / "run.py").write_text(JAX_SCRIPT)
    result = subprocess.run([sys.executable, str(tmp_path / "run.py"), ROOT, str(tmp_path / "in.npz"),
                             json.dumps(config.to_dict()), str(tmp_path / "out.npz")],
                            env=dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "backend jax False" in result.stdout  # JAX backend, TensorFlow never imported
    jax_outputs = np.load(tmp_path / "out.npz")
    tf_outputs = model(features)
    np.testing.assert_allclose(jax_outputs["masked_lm_logits"], np.asarray(tf_outputs["masked_lm_logits"]),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(jax_outputs["next_sentence_logits"], np.asarray(tf_outputs["next_sentence_logits"]),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(jax_outputs["pooled_output"], np.asarray(model.encode(features)["pooled_output"]),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch,count", [(2, 2), (3, 2), (2, 3)])
def test_gather_positions_picks_each_rows_own_positions(batch, count):
    from bertprep.trainer.heads import gather_positions

    sequence = np.arange(batch * 5 * 3, dtype="float32").reshape(batch, 5, 3)
    positions = np.array([[(row + 2 * k) % 5 for k in range(count)] for row in range(batch)], "int32")
    expected = np.stack([sequence[row, positions[row]] for row in range(batch)])
    np.testing.assert_array_equal(np.asarray(gather_positions(sequence, positions)), expected)
