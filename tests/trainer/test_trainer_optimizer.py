"""The two optimizer recipes against updates computed by hand: AdamW (bias-corrected, the default) and
BERT's original AdamWeightDecayOptimizer (no bias correction); their learning-rate schedules."""
import math
import os
import sys
import types

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import tiny_config  # noqa: E402

keras = pytest.importorskip("keras")

from bertprep.trainer.heads import build_task_model  # noqa: E402
from bertprep.trainer.optimization import (WarmupLinearDecay, create_optimizer, create_schedule,  # noqa: E402
                                           is_decay_exempt)


def test_schedules_warm_up_then_decay_to_zero():
    # AdamW's recipe (Hugging Face's linear schedule): from the peak at the end of warm-up down to 0.
    schedule = create_schedule("adamw", 1e-4, total_steps=100, warmup_steps=10)
    rates = [float(np.asarray(schedule(step))) for step in (0, 5, 10, 55, 100, 120)]
    np.testing.assert_allclose(rates, [0.0, 5e-5, 1e-4, 5e-5, 0.0, 0.0], atol=1e-12)
    # The original: the decay line runs from the peak at step 0, so warm-up ends below the peak.
    original = create_schedule("adam_bert", 1e-4, total_steps=100, warmup_steps=10)
    rates = [float(np.asarray(original(step))) for step in (0, 5, 10, 50, 100, 120)]
    np.testing.assert_allclose(rates, [0.0, 5e-5, 9e-5, 5e-5, 0.0, 0.0], atol=1e-12)
    assert float(np.asarray(WarmupLinearDecay(1e-4, 100)(0))) == pytest.approx(1e-4)  # no warm-up


def _variables():
    kernel = keras.Variable(np.array([[0.5, -1.0], [2.0, 0.25]], "float32"), name="kernel")
    bias = keras.Variable(np.array([0.3, -0.3], "float32"), name="bias")
    return kernel, bias


def _hand_computed_run(bias_correction, epsilon, rates, steps=4, weight_decay=0.01):
    """Parameters after each step, computed from the textbook formulas with numpy; plus the gradients used."""
    kernel, bias = _variables()
    params = {"kernel": kernel.numpy().astype("float64"), "bias": bias.numpy().astype("float64")}
    moments = {name: (np.zeros_like(value), np.zeros_like(value)) for name, value in params.items()}
    rng = np.random.default_rng(0)
    gradients, expected = [], []
    for step in range(1, steps + 1):
        # Large enough that the global norm exceeds 1 on the first step (clipping is exercised).
        grads = {name: rng.normal(0, 0.8 if step == 1 else 0.2, size=value.shape) for name, value in params.items()}
        gradients.append(grads)
        norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
        scale = min(1.0, 1.0 / norm)  # clip_by_global_norm(1.0)
        learning_rate = rates[step - 1]
        for name in params:
            g = grads[name] * scale
            m, v = moments[name]
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            if bias_correction:
                update = (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + epsilon)
            else:
                update = m / (np.sqrt(v) + epsilon)
            if name == "kernel":  # biases and LayerNorm are not decayed; decay is decoupled from Adam
                params[name] = params[name] - learning_rate * weight_decay * params[name]
            params[name] = params[name] - learning_rate * update
            moments[name] = (m, v)
        expected.append({name: value.copy() for name, value in params.items()})
    return gradients, expected


@pytest.mark.parametrize("recipe", ["adamw", "adam_bert"])
def test_optimizer_steps_match_hand_computed_updates(recipe):
    total, warmup = 20, 2
    schedule = create_schedule(recipe, 0.1, total, warmup)
    rates = [float(np.asarray(schedule(step))) for step in range(4)]  # step t uses the rate at t − 1
    bias_correction = recipe == "adamw"
    gradients, expected = _hand_computed_run(bias_correction, 1e-8 if bias_correction else 1e-6, rates)
    kernel, bias = _variables()
    model = types.SimpleNamespace(trainable_variables=[kernel, bias])
    optimizer = create_optimizer(model, learning_rate=0.1, total_steps=total, warmup_steps=warmup,
                                 weight_decay=0.01, optimizer=recipe)
    optimizer.build(model.trainable_variables)
    for grads, after in zip(gradients, expected):
        optimizer.apply([grads["kernel"].astype("float32"), grads["bias"].astype("float32")], [kernel, bias])
        np.testing.assert_allclose(kernel.numpy(), after["kernel"], rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(bias.numpy(), after["bias"], rtol=2e-5, atol=1e-6)


def test_bias_correction_is_what_separates_the_recipes():
    """The uncorrected step is (1 − β1^t)/√(1 − β2^t) times the corrected one: 3.16× at step 1."""
    rates = [0.1, 0.1]
    _, corrected = _hand_computed_run(True, 1e-12, rates, steps=1, weight_decay=0.0)
    _, uncorrected = _hand_computed_run(False, 1e-12, rates, steps=1, weight_decay=0.0)
    kernel, _ = _variables()
    start = kernel.numpy()
    ratio = np.abs(uncorrected[0]["kernel"] - start) / np.abs(corrected[0]["kernel"] - start)
    np.testing.assert_allclose(ratio, 0.1 / math.sqrt(0.001), rtol=1e-4)
    # And the optimizers themselves: the first step of each, same gradient and rate, no warm-up.
    steps = {}
    for recipe in ("adamw", "adam_bert"):
        kernel, bias = _variables()
        optimizer = create_optimizer(types.SimpleNamespace(trainable_variables=[kernel, bias]), 0.01, 1000, 0,
                                     weight_decay=0.0, optimizer=recipe)
        optimizer.apply([np.full((2, 2), 0.1, "float32"), np.full((2,), 0.1, "float32")], [kernel, bias])
        steps[recipe] = np.abs(kernel.numpy() - start)
    np.testing.assert_allclose(steps["adamw"], 0.01, rtol=1e-4)  # the corrected first step is lr·sign(g)
    np.testing.assert_allclose(steps["adam_bert"] / steps["adamw"], 0.1 / math.sqrt(0.001), rtol=1e-3)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        create_schedule("sgd", 1e-4, 10, 1)


def test_recipe_decays_only_kernels_and_embeddings_and_initialises_the_classifier_like_the_original():
    config = tiny_config(hidden_size=256, num_attention_heads=4, intermediate_size=64)
    model = build_task_model("classifier", config, num_labels=64, classifier_dropout=0.1, seed=7)
    leaves = {(v.path.rsplit("/", 1)[-1], is_decay_exempt(v)) for v in model.trainable_variables}
    decayed = {leaf for leaf, exempt in leaves if not exempt}
    exempt = {leaf for leaf, exempt in leaves if exempt}
    assert decayed == {"kernel", "word_embeddings", "token_type_embeddings", "position_embeddings"}
    assert exempt == {"bias", "gamma", "beta"}  # biases and LayerNorm scale/offset, as Hugging Face's no_decay
    # Classifier: truncated normal with stddev 0.02 (nothing beyond 2 stddev; the truncated spread is 0.88 × 0.02).
    kernel = np.asarray(model.classifier.kernel)
    assert np.abs(kernel).max() <= 0.04 + 1e-7
    assert kernel.std() == pytest.approx(0.02 * 0.8796, rel=0.05)
    assert not np.asarray(model.classifier.bias).any()
    # Dropout on the classifier's input, only while training.
    assert model.dropout.rate == pytest.approx(0.1)
    pooled = np.ones((4, 256), "float32")
    assert np.allclose(np.asarray(model.dropout(pooled, training=False)), 1.0)
    dropped = np.asarray(model.dropout(pooled, training=True))
    assert 0.03 < (dropped == 0).mean() < 0.2 and np.allclose(dropped[dropped > 0], 1 / 0.9)
