"""The `pretraining` job end to end: same bytes with 1 or 2 workers, tf.data parsing with the schema's spec,
dead letters and accounting, gzip, confusion/FASPell inputs, option errors, and the record encoder."""
import dataclasses
import glob
import gzip
import json
import os
import random

import pytest

from bertprep import cli, schemas
from bertprep.errors import BertprepError
from bertprep.io import tfrecord
from bertprep.options.pretraining import PretrainingOptions
from bertprep.transforms.pretraining.masking import MaskedInstance
from bertprep.transforms.pretraining.records import PretrainingEncoder
from oracles import features_of

SLICE_DOCUMENTS = 300


@pytest.fixture(scope="module")
def corpus_slice(shared, tmp_path_factory):
    """The first 300 documents of the shared People's Daily corpus."""
    source = shared / "data" / "corpus" / "zh_peopledaily_docs.txt"
    path = tmp_path_factory.mktemp("corpus") / "slice.txt"
    documents = 0
    with open(source, encoding="utf-8") as reader, open(path, "w", encoding="utf-8") as writer:
        for line in reader:
            writer.write(line)
            if not line.strip():
                documents += 1
                if documents == SLICE_DOCUMENTS:
                    break
    return str(path)


def run_job(*args):
    return cli.main(["pretraining", *args])


def shard_bytes(directory):
    return {os.path.basename(path): open(path, "rb").read()
            for path in sorted(glob.glob(os.path.join(directory, "pretraining-*")))}


def test_same_bytes_with_one_or_two_workers(corpus_slice, zh_vocab, tmp_path):
    outputs = {}
    for workers in (1, 2):
        out = str(tmp_path / ("w%d" % workers))
        assert run_job("--input", corpus_slice, "--vocab", zh_vocab, "--output", out, "--dupe-factor", "2",
                       "--workers", str(workers)) == 0
        outputs[workers] = out
    one, two = shard_bytes(outputs[1]), shard_bytes(outputs[2])
    assert len(one) > 1 and one == two
    info = json.load(open(os.path.join(outputs[1], "info.json")))
    assert info["counts"]["read"] == SLICE_DOCUMENTS == info["counts"]["used"]
    assert info["counts"]["records_out"] == sum(shard["records"] for shard in info["shards"]) > 1000
    assert info["config"]["num_shards"] == len(one)
    stats = info["stats"]
    assert set(stats["masked_position_kinds"]) >= {"mask", "keep", "random"}
    assert sum(stats["sequence_length_histogram"].values()) == info["counts"]["records_out"]
    assert 110 < stats["mean_sequence_length"] <= 128
    assert stats["unk_rate"]["tokens"] > 0
    from bertprep.commands.inspect import inspect_directory

    assert inspect_directory(outputs[1])["records"] == info["counts"]["records_out"]
    # info.json is the same whatever the worker count (timings live in report.json, not here)
    info_two = json.load(open(os.path.join(outputs[2], "info.json")))
    for item in (info, info_two):
        item["config"].pop("output")
        item["config"].pop("workers")
    assert info == info_two and "build_time" not in stats
    for out in outputs.values():
        report = json.load(open(os.path.join(out, "report.json")))
        timing = report["timing"]
        window = timing["build_window"]
        shown = report["summary"]["timing"]
        assert shown["records_out_per_build_cpu_second"] == pytest.approx(
            info["counts"]["records_out"] / timing["build_time"]["cpu_seconds"], rel=1e-3)
        assert 0 < shown["build_span_seconds"] <= shown["elapsed_seconds"]
        assert timing["build_time"]["cpu_seconds"] > 0
        assert timing["started_at"] <= window["first_started_at"] < window["last_finished_at"] <= timing["finished_at"]


def test_same_bytes_from_another_directory(corpus_slice, zh_vocab, tmp_path):
    """A document's draws depend on its file's name relative to the input pattern, not on the full path:
    the same files under two directories (read by a glob, with 1 and 2 workers) give the same bytes."""
    lines = open(corpus_slice, encoding="utf-8").read().split("\n\n")
    halves = ["\n\n".join(lines[:150]) + "\n\n", "\n\n".join(lines[150:])]
    outputs = []
    for directory, workers in ((tmp_path / "first" / "corpus", 1), (tmp_path / "second", 2)):
        for number, text in enumerate(halves):
            (directory / ("part-%d" % number)).mkdir(parents=True)
            (directory / ("part-%d" % number) / "docs.txt").write_text(text, encoding="utf-8")
        out = str(tmp_path / ("out-%d" % workers))
        assert run_job("--input", str(directory / "part-*" / "docs.txt"), "--vocab", zh_vocab, "--output", out,
                       "--dupe-factor", "1", "--workers", str(workers)) == 0
        outputs.append(shard_bytes(out))
    assert len(outputs[0]) > 1 and outputs[0] == outputs[1]
    # a single file: its base name
    single = []
    for directory in ("one", "two"):
        (tmp_path / directory).mkdir()
        path = tmp_path / directory / "slice.txt"
        path.write_bytes(open(corpus_slice, "rb").read())
        out = str(tmp_path / ("single-" + directory))
        assert run_job("--input", str(path), "--vocab", zh_vocab, "--output", out, "--dupe-factor", "1",
                       "--num-shards", "3") == 0
        single.append(shard_bytes(out))
    assert len(single[0]) == 3 and single[0] == single[1]


def test_features_parse_with_the_schema_spec_in_tf_data(corpus_slice, zh_vocab, tmp_path):
    import tensorflow as tf

    out = str(tmp_path / "out")
    assert run_job("--input", corpus_slice, "--vocab", zh_vocab, "--output", out, "--dupe-factor", "1",
                   "--whole-word-mask", "--max-seq-length", "64", "--max-predictions-per-seq", "10") == 0
    schema = schemas.for_kind("pretraining", {"max_seq_length": 64, "max_predictions_per_seq": 10})
    files = sorted(glob.glob(os.path.join(out, "pretraining-*.tfrecord")))
    dataset = tf.data.TFRecordDataset(files).batch(32).map(lambda x: tf.io.parse_example(x, schema.tf_feature_spec()))
    batch = next(iter(dataset))
    assert batch["input_ids"].shape == (32, 64) and batch["masked_lm_weights"].dtype == tf.float32
    first = schema.decode(next(iter(tfrecord.read_file(files[0])))[1])
    assert batch["input_ids"][0].numpy().tolist() == first["input_ids"].tolist()
    mask = batch["input_mask"].numpy()
    ids = batch["input_ids"].numpy()
    assert ((ids != 0) == (mask == 1)).all()  # padding is zeros exactly where the mask is 0
    assert (ids[:, 0] == 101).all()  # [CLS]


def test_dead_letters_accounting_and_gzip(zh_vocab, tmp_path):
    source = tmp_path / "docs.txt"
    lines = ["第一篇文章的第一句。", "第一篇的第二句。", "", "\x07\x07", "", "第三篇只有一句。", "",
             "第四篇。", "还有一句。", ""]
    source.write_bytes(("\n".join(lines)).encode("utf-8") + b"\n\xff\xfe broken\n")
    out = str(tmp_path / "out")
    assert run_job("--input", str(source), "--vocab", zh_vocab, "--output", out, "--dupe-factor", "3",
                   "--compression", "gzip", "--seed", "7") == 0
    info = json.load(open(os.path.join(out, "info.json")))
    counts = info["counts"]
    assert counts["read"] == counts["used"] + counts["dead_lettered"] == 5
    assert info["dead_letters_by_reason"] == {"no tokens": 1, "undecodable": 1}
    letters = [json.loads(line) for line in open(glob.glob(os.path.join(out, "dead_letters", "*.jsonl"))[0])]
    assert {letter["line"] for letter in letters} == {4, 11}
    shards = sorted(glob.glob(os.path.join(out, "pretraining-*.tfrecord.gz")))
    assert shards and not glob.glob(os.path.join(out, "pretraining-*.tfrecord"))
    records = 0
    for path in shards:
        with gzip.open(path) as handle:
            records += sum(1 for _ in tfrecord.iter_records(handle, path))
    assert records == counts["records_out"]
    from bertprep.commands.inspect import inspect_directory

    assert inspect_directory(out)["records"] == counts["records_out"] >= 3 * 3


def test_confusion_masking_and_faspell_pairs_through_the_job(shared, corpus_slice, zh_vocab, tmp_path):
    import pickle

    wrong = tmp_path / "pairs.tsv"
    with open(shared / "data" / "csc" / "sighan15_train.tsv", encoding="utf-8") as handle:
        wrong.write_text("".join(line for _, line in zip(range(60), handle)), encoding="utf-8")
    small = tmp_path / "docs.txt"
    small.write_text("".join(open(corpus_slice, encoding="utf-8").readlines()[:400]), encoding="utf-8")
    sav = tmp_path / "mask_probability.sav"
    with open(sav, "wb") as handle:
        pickle.dump({"的": 0.5, "是": 0.9, "在": 0.3}, handle)
    out = str(tmp_path / "out")
    assert run_job("--input", str(small), "--vocab", zh_vocab, "--output", out, "--dupe-factor", "2",
                   "--confusion-sets", str(shared / "data" / "csc" / "confusion_ocr_asr.txt"),
                   "--mask-probability", str(sav), "--wrong-input", str(wrong), "--workers", "1") == 0
    info = json.load(open(os.path.join(out, "info.json")))
    kinds = info["stats"]["masked_position_kinds"]
    assert kinds["real_error"] > 0 and kinds["phonetic"] > 0 and kinds["mask"] == 0
    counts = info["counts"]
    assert counts["read"] == counts["used"] + counts["dead_lettered"]
    assert counts["read"] >= 60


@pytest.mark.parametrize("options", [
    ["--whole-word-mask", "--segmenter", "jieba", "--next-sentence", "sop", "--max-ngram", "3"],
    ["--packing", "full_sentences", "--whole-word-mask"],
    ["--next-sentence", "none", "--input-format", "text"],
])
def test_other_modes_run_and_validate(options, corpus_slice, zh_vocab, tmp_path):
    small = tmp_path / "docs.txt"
    small.write_text("".join(open(corpus_slice, encoding="utf-8").readlines()[:300]), encoding="utf-8")
    out = str(tmp_path / "out")
    assert run_job("--input", str(small), "--vocab", zh_vocab, "--output", out, "--dupe-factor", "1",
                   *options) == 0
    from bertprep.commands.inspect import inspect_directory

    summary = inspect_directory(out, examples=3)
    assert summary["records"] > 0
    info = json.load(open(os.path.join(out, "info.json")))
    # info.json's config: every option, with the values the job resolved (packed sequences have no pair task)
    config = info["config"]
    assert set(config) == {field.name for field in dataclasses.fields(PretrainingOptions)}
    assert config["next_sentence"] == ("sop" if "sop" in options else "none")
    assert config["num_shards"] == len(info["shards"]) >= 1
    labels = info["stats"]["next_sentence_labels"]
    if "sop" in options:
        assert labels["1"] > 0 and labels["0"] > 0
    else:
        assert labels["1"] == 0


def test_bad_options_are_one_line_errors(corpus_slice, zh_vocab, tmp_path, capsys):
    assert run_job("--input", corpus_slice, "--vocab", zh_vocab, "--output", str(tmp_path / "o"),
                   "--masked-lm-prob", "1.5") == 2
    assert "--masked-lm-prob" in capsys.readouterr().err
    assert run_job("--input", corpus_slice, "--vocab", str(tmp_path / "missing.txt"), "--output",
                   str(tmp_path / "o")) == 2
    assert "missing.txt" in capsys.readouterr().err
    assert run_job("--input", corpus_slice, "--vocab", zh_vocab, "--output", str(tmp_path / "o"),
                   "--mask-probability", str(tmp_path / "nowhere.sav")) == 2
    assert "nowhere.sav" in capsys.readouterr().err


def test_a_missing_numba_is_said_in_one_line(corpus_slice, zh_vocab, tmp_path, capsys, monkeypatch):
    """Without numba the job takes the plain-Python path (the same bytes) and says so, once."""
    import importlib.util

    from bertprep.transforms.pretraining import records as pretraining_records

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(pretraining_records.importlib.util, "find_spec",
                        lambda name, *args: None if name == "numba" else find_spec(name, *args))
    small = tmp_path / "docs.txt"
    small.write_text("".join(open(corpus_slice, encoding="utf-8").readlines()[:200]), encoding="utf-8")
    assert run_job("--input", str(small), "--vocab", zh_vocab, "--output", str(tmp_path / "o"), "--dupe-factor",
                   "1") == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "numba" in line]
    assert notes == ["bertprep: note: numba is not installed, so pretraining runs its plain-Python path: the same "
                     "bytes, several times slower (pip install numba)"]
    # options the kernel does not cover run in Python anyway: nothing to say
    assert run_job("--input", str(small), "--vocab", zh_vocab, "--output", str(tmp_path / "w"), "--dupe-factor",
                   "1", "--whole-word-mask") == 0
    assert "numba" not in capsys.readouterr().err


def test_encoder_equals_the_schema_encoder():
    rng = random.Random(5)
    for max_seq_length, max_predictions in ((128, 20), (16, 3), (512, 80)):
        schema = schemas.for_kind("pretraining", {"max_seq_length": max_seq_length,
                                                  "max_predictions_per_seq": max_predictions})
        encoder = PretrainingEncoder(max_seq_length, max_predictions)
        for _ in range(200):
            length = rng.randint(3, max_seq_length)
            tokens = [rng.choice([rng.randint(0, 127), rng.randint(0, 30000), rng.randint(0, 200000)])
                      for _ in range(length)]
            len_a = rng.randint(1, length - 2)
            count = rng.randint(0, min(max_predictions, length))
            positions = sorted(rng.sample(range(length), count))
            masked = MaskedInstance([rng.randint(0, 70000) for _ in tokens], positions,
                                    [rng.randint(0, 70000) for _ in positions], [0] * count)
            label = rng.randint(0, 1)
            expected = schema.encode(features_of(tokens, len_a, label, masked, max_seq_length, max_predictions))
            assert encoder.encode(tokens, len_a, label, masked) == expected


def test_document_spans_read_back_as_the_shared_reader_reads(tmp_path):
    """Local runs shuffle byte ranges instead of text; re-reading a range gives the reader's document."""
    from bertprep.io import formats
    from bertprep.io.formats import documents

    path = tmp_path / "docs.txt"
    path.write_bytes("\ufeff第一句。\r\n第二句。\r\n\r\n\n".encode("utf-8") + b"\xff bad line\n" +
                     "第三句。\n".encode("utf-8") + b"ok \xfe\n" + "  \n第四句。\n最后一句".encode("utf-8"))
    expected = list(formats.iter_documents(str(path)))
    spans = list(documents.iter_document_spans(str(path)))
    assert [type(item) for item in spans] == [type(item) for item in expected]
    handles = {}
    for span, reference in zip(spans, expected):
        if isinstance(reference, formats.DeadLetter):
            assert (span.line, span.reason) == (reference.line, reference.reason)
            continue
        assert span.key == reference.key
        assert documents.read_span(handles, span.source, span.value[1], span.value[2]) == reference.value
    for handle in handles.values():
        handle.close()


def test_merged_stats_do_not_depend_on_combine_order():
    """Beam combines partial stats in any order and grouping; info.json must come out the same."""
    from bertprep.transforms.pretraining.records import PretrainingStats, merge_stats

    rng = random.Random(11)
    parts = []
    for _ in range(9):
        stats = PretrainingStats(128)
        for _ in range(rng.randint(1, 40)):
            length = rng.randint(10, 128)
            stats.add_counts(length, rng.randint(1, length - 3), rng.randint(0, 1), 3, rng.randint(0, 2),
                             [rng.randint(0, 2) for _ in range(rng.randint(1, 19))])
        parts.append(stats.to_dict())
    flat = merge_stats(parts)
    shuffled = list(parts)
    rng.shuffle(shuffled)
    nested = merge_stats([merge_stats(shuffled[:4]), merge_stats(shuffled[4:7]), merge_stats(shuffled[7:])])
    assert nested == flat
    assert flat["instances"] == sum(part["instances"] for part in parts)
    real = sum(int(k) * n for k, n in flat["sequence_length_histogram"].items())
    assert flat["mean_sequence_length"] == real / flat["instances"]


@pytest.mark.parametrize("values, message", [
    ({"max_seq_length": 4}, "--max-seq-length must be at least 5, got 4"),
    ({"max_predictions_per_seq": 0}, "--max-predictions-per-seq must be at least 1"),
    ({"masked_lm_prob": 0.0}, "--masked-lm-prob must be in (0, 1], got 0"),
    ({"short_seq_prob": 1.5}, "--short-seq-prob must be in [0, 1], got 1.5"),
    ({"dupe_factor": 0}, "--dupe-factor must be at least 1"),
    ({"max_ngram": 0}, "--max-ngram must be at least 1"),
    ({"segmenter": "jieba"}, "--segmenter only matters with --whole-word-mask"),
    ({"confusion_sets": "sets.txt", "whole_word_mask": True}, "--confusion-sets masks single characters"),
    ({"confusion_sets": "sets.txt", "confusion_mix": "same_pinyin=0.5,typo=0.5"}, "--confusion-mix: unknown kind"),
    ({"num_shards": -1}, "--num-shards must be 0"),
    ({"workers": 0}, "--workers must be at least 1"),
])
def test_options_are_checked_once_when_made(values, message):
    """The checks live in PretrainingOptions: a bad value is one line naming its option, before any I/O."""
    with pytest.raises(BertprepError) as raised:
        PretrainingOptions(input="docs.txt", output="out", vocab="vocab.txt", **values)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_resolved_options_hold_the_bucket_count_and_the_pair_task(tmp_path):
    from bertprep.pipelines import pretraining

    documents, pairs = tmp_path / "docs.txt", tmp_path / "pairs.tsv"
    documents.write_text("第一句。\n第二句。\n\n" * 20000, encoding="utf-8")
    pairs.write_text("我再家\t我在家\n" * 5000, encoding="utf-8")
    options = PretrainingOptions(input=str(documents), output="out", vocab="vocab.txt", packing="full_sentences",
                                 wrong_input=str(pairs))
    resolved = pretraining.resolve_options(options)
    size = os.path.getsize(documents) + os.path.getsize(pairs)
    assert resolved.num_shards == pretraining.num_buckets(size) > 1
    assert (resolved.next_sentence, options.next_sentence, options.num_shards) == ("none", "nsp", 0)
    assert dataclasses.replace(resolved, num_shards=0, next_sentence="nsp") == options  # nothing else changes
    documents.unlink()  # resolved options are not resolved again: the input is not even listed
    assert pretraining.resolve_options(resolved) is resolved
    given = PretrainingOptions(input=str(documents), output="out", num_shards=3, next_sentence="sop")
    assert pretraining.resolve_options(given) is given



def test_the_job_commands_load_no_beam_until_they_run():
    """`bertprep pretraining --help` (and mask-probs') builds its parser from the options class alone."""
    import subprocess
    import sys

    code = ("import sys; from bertprep import cli; "
            "cli.build_parser([__import__('bertprep.commands.' + name, fromlist=['run']) "
            "for name in ('pretraining', 'mask_probs')]); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'apache_beam' "
            "or name in ('bertprep.pipelines.pretraining', 'bertprep.pipelines.mask_probs')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=dict(os.environ, PYTHONPATH=os.getcwd())).stdout.strip()
    assert loaded == "[]"
