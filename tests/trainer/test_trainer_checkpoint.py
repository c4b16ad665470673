"""Checkpoint import: original TF1 variable names, directories, Hugging Face names, error messages."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import random_features, tiny_config  # noqa: E402

tf = pytest.importorskip("tensorflow")

from bertprep.errors import BertprepError  # noqa: E402
from bertprep.trainer import checkpoint_import  # noqa: E402
from bertprep.trainer.heads import build_task_model  # noqa: E402


def original_weights(config, num_labels=3, seed=0):
    """Random weights under google-research/bert's variable names (classifier from run_classifier.py)."""
    rng = np.random.default_rng(seed)
    hidden, inner = config.hidden_size, config.intermediate_size

    def normal(*shape):
        return rng.normal(0.0, 0.5, size=shape).astype(np.float32)

    weights = {
        "bert/embeddings/word_embeddings": normal(config.vocab_size, hidden),
        "bert/embeddings/token_type_embeddings": normal(config.type_vocab_size, hidden),
        "bert/embeddings/position_embeddings": normal(config.max_position_embeddings, hidden),
        "bert/embeddings/LayerNorm/gamma": 1.0 + normal(hidden) * 0.1,
        "bert/embeddings/LayerNorm/beta": normal(hidden) * 0.1,
        "bert/pooler/dense/kernel": normal(hidden, hidden),
        "bert/pooler/dense/bias": normal(hidden),
        "output_weights": normal(num_labels, hidden),
        "output_bias": normal(num_labels),
    }
    for layer in range(config.num_hidden_layers):
        base = f"bert/encoder/layer_{layer}"
        for part in ("query", "key", "value"):
            weights[f"{base}/attention/self/{part}/kernel"] = normal(hidden, hidden) * 0.3
            weights[f"{base}/attention/self/{part}/bias"] = normal(hidden) * 0.1
        weights[f"{base}/attention/output/dense/kernel"] = normal(hidden, hidden) * 0.3
        weights[f"{base}/attention/output/dense/bias"] = normal(hidden) * 0.1
        weights[f"{base}/intermediate/dense/kernel"] = normal(hidden, inner) * 0.3
        weights[f"{base}/intermediate/dense/bias"] = normal(inner) * 0.1
        weights[f"{base}/output/dense/kernel"] = normal(inner, hidden) * 0.3
        weights[f"{base}/output/dense/bias"] = normal(hidden) * 0.1
        for norm in ("attention/output/LayerNorm", "output/LayerNorm"):
            weights[f"{base}/{norm}/gamma"] = 1.0 + normal(hidden) * 0.1
            weights[f"{base}/{norm}/beta"] = normal(hidden) * 0.1
    return weights


def save_tf1_checkpoint(weights, prefix, extra_optimizer_state=True):
    """Write a checkpoint the way the original run_classifier.py did: tf.compat.v1 Saver over named variables."""
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.Variable(value, name=name) for name, value in weights.items()]
        if extra_optimizer_state:
            for name, value in list(weights.items())[:3]:
                variables.append(tf.compat.v1.Variable(np.zeros_like(value), name=name + "/adam_m"))
                variables.append(tf.compat.v1.Variable(np.zeros_like(value), name=name + "/adam_v"))
            variables.append(tf.compat.v1.Variable(np.int64(1000), name="global_step"))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, prefix)


def set_directly(model, weights):
    """The same weights assigned layer by layer (independent of checkpoint_import's name table)."""
    encoder = model.encoder
    emb = encoder.embeddings
    emb.word_embeddings.assign(weights["bert/embeddings/word_embeddings"])
    emb.token_type_embeddings.assign(weights["bert/embeddings/token_type_embeddings"])
    emb.position_embeddings.assign(weights["bert/embeddings/position_embeddings"])
    emb.layer_norm.set_weights([weights["bert/embeddings/LayerNorm/gamma"], weights["bert/embeddings/LayerNorm/beta"]])
    for index, block in enumerate(encoder.blocks):
        base = f"bert/encoder/layer_{index}"
        for name in ("query", "key", "value"):
            getattr(block.attention, name).set_weights(
                [weights[f"{base}/attention/self/{name}/kernel"], weights[f"{base}/attention/self/{name}/bias"]])
        block.attention.output_dense.set_weights(
            [weights[f"{base}/attention/output/dense/kernel"], weights[f"{base}/attention/output/dense/bias"]])
        block.attention.layer_norm.set_weights(
            [weights[f"{base}/attention/output/LayerNorm/gamma"], weights[f"{base}/attention/output/LayerNorm/beta"]])
        block.intermediate.set_weights(
            [weights[f"{base}/intermediate/dense/kernel"], weights[f"{base}/intermediate/dense/bias"]])
        block.output_dense.set_weights([weights[f"{base}/output/dense/kernel"], weights[f"{base}/output/dense/bias"]])
        block.layer_norm.set_weights(
            [weights[f"{base}/output/LayerNorm/gamma"], weights[f"{base}/output/LayerNorm/beta"]])
    encoder.pooler.set_weights([weights["bert/pooler/dense/kernel"], weights["bert/pooler/dense/bias"]])
    model.classifier.set_weights([weights["output_weights"].T, weights["output_bias"]])


def outputs_of(model, features):
    encoded = model.encode(features)
    return (np.asarray(encoded["sequence_output"]), np.asarray(encoded["pooled_output"]),
            np.asarray(model(features)["logits"]))


def test_tf1_checkpoint_loads_like_weights_set_directly(tmp_path):
    config = tiny_config()
    weights = original_weights(config)
    save_tf1_checkpoint(weights, str(tmp_path / "bert_model.ckpt"))
    features = random_features(3, 16, config.vocab_size)

    imported = build_task_model("classifier", config, num_labels=3)
    report = checkpoint_import.load_pretrained(imported, str(tmp_path))  # a directory: its latest checkpoint
    direct = build_task_model("classifier", config, num_labels=3)
    set_directly(direct, weights)

    assert report.missing == [] and report.unused == []  # adam_m/adam_v/global_step are not "unused"
    assert len(report.loaded) == len(weights)
    for ours, theirs in zip(outputs_of(imported, features), outputs_of(direct, features)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    fresh = build_task_model("classifier", config, num_labels=3)
    assert not np.allclose(outputs_of(fresh, features)[1], outputs_of(direct, features)[1], atol=1e-3)


def test_pretraining_checkpoint_into_classifier_lists_missing_and_unused(tmp_path):
    config = tiny_config()
    weights = original_weights(config)
    del weights["output_weights"], weights["output_bias"]
    weights["cls/predictions/output_bias"] = np.zeros(config.vocab_size, np.float32)
    weights["cls/seq_relationship/output_weights"] = np.ones((2, config.hidden_size), np.float32)
    weights["cls/seq_relationship/output_bias"] = np.zeros(2, np.float32)
    prefix = save_tf1_checkpoint(weights, str(tmp_path / "model.ckpt-20"))
    classifier = build_task_model("classifier", tiny_config(), num_labels=2)
    report = checkpoint_import.load_google_checkpoint(classifier, prefix)
    assert report.missing == ["output_weights", "output_bias"]
    assert report.unused == ["cls/predictions/output_bias", "cls/seq_relationship/output_bias",
                             "cls/seq_relationship/output_weights"]
    assert "output_weights" in report.summary() and "cls/predictions/output_bias" in report.summary()

    pretraining = build_task_model("pretraining", tiny_config())
    report = checkpoint_import.load_google_checkpoint(pretraining, prefix)
    # seq_relationship/output_weights is [2, hidden] in the original and is transposed into our kernel.
    np.testing.assert_array_equal(pretraining.next_sentence.kernel.numpy(), np.ones((config.hidden_size, 2)))
    assert "cls/predictions/transform/dense/kernel" in report.missing


def test_directory_whose_checkpoint_file_names_another_machine(tmp_path):
    config = tiny_config()
    weights = original_weights(config)
    save_tf1_checkpoint(weights, str(tmp_path / "bert_model.ckpt"), extra_optimizer_state=False)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/home/someone/chinese_L-12/bert_model.ckpt"\n')
    assert checkpoint_import.resolve_tf_checkpoint(str(tmp_path)) == str(tmp_path / "bert_model.ckpt")
    assert checkpoint_import.resolve_tf_checkpoint(str(tmp_path / "bert_model.ckpt.index")) == \
        str(tmp_path / "bert_model.ckpt")


def test_errors_name_the_path_and_shapes(tmp_path):
    with pytest.raises(BertprepError, match="no checkpoint in this directory"):
        checkpoint_import.resolve_tf_checkpoint(str(tmp_path))
    with pytest.raises(BertprepError, match="bert_model.ckpt.index"):
        checkpoint_import.resolve_tf_checkpoint(str(tmp_path / "bert_model.ckpt"))
    weights = original_weights(tiny_config())
    prefix = save_tf1_checkpoint(weights, str(tmp_path / "bert_model.ckpt"), extra_optimizer_state=False)
    wider = build_task_model("classifier", tiny_config(vocab_size=120), num_labels=3)
    with pytest.raises(BertprepError, match=r"word_embeddings has shape \(100, 32\) but the model expects \(120, 32\)"):
        checkpoint_import.load_google_checkpoint(wider, prefix)


def test_hugging_face_names_round_trip(tmp_path):
    from safetensors.numpy import save_file

    config = tiny_config()
    source = build_task_model("classifier", config, num_labels=3)
    set_directly(source, original_weights(config))
    tensors = {}
    for name, (variable, transpose) in checkpoint_import.variable_map(source, "hf").items():
        value = variable.numpy()
        value = np.ascontiguousarray(value.T if transpose else value)  # safetensors writes the raw buffer
        tensors[("bert." + name) if not name.startswith("classifier") else name] = value
    # torch Linear layout: [out, in]
    assert tensors["bert.encoder.layer.0.intermediate.dense.weight"].shape == (config.intermediate_size,
                                                                               config.hidden_size)
    tensors["bert.embeddings.position_ids"] = np.arange(config.max_position_embeddings)[None]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    target = build_task_model("classifier", config, num_labels=3)
    report = checkpoint_import.load_pretrained(target, str(tmp_path))
    assert report.missing == [] and report.unused == []
    features = random_features(2, 12, config.vocab_size)
    for ours, theirs in zip(outputs_of(target, features), outputs_of(source, features)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
