"""classifier: run_classifier.py parity on the goldens, presets, labels, multi-label round trip, bad rows."""
import json

import numpy as np
import pytest

from bertprep.io import tfrecord
from bertprep.options.classifier import ClassifierOptions, plan_for
from bertprep.pipelines import classifier
from bertprep.transforms.finetune import classifier_features as cf
from bertprep.transforms.tokenization.tokenizer import load_tokenizer
from test_classifier_helpers import assert_accounting, dead_letters, read_output, run_cli


def _golden(shared, name):
    with open(shared / "golden" / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def zh_tokenizer(zh_vocab):
    return load_tokenizer(vocab=zh_vocab, lower=True)


@pytest.mark.parametrize("name,max_seq_length", [("classifier_single_zh_128.jsonl", 128),
                                                 ("classifier_pair_zh_48.jsonl", 48)])
def test_transform_matches_every_golden_record(shared, zh_tokenizer, name, max_seq_length):
    rows = _golden(shared, name)
    for index, row in enumerate(rows):
        features, _ = cf.convert_example(row, ["0", "1"], cf.LabelSpec(), zh_tokenizer, max_seq_length, index)
        assert features["input_ids"] == row["input_ids"], index
        assert features["input_mask"] == row["input_mask"], index
        assert features["segment_ids"] == row["segment_ids"], index
        assert features["label_ids"] == row["label_id"], index
        assert features["is_real_example"] == 1 and features["example_id"] == index


def test_pair_truncation_takes_from_the_longer_side_b_on_ties():
    a, b = list("abcdef"), list("xyz")
    cf.truncate_pair(a, b, 6)
    assert (a, b) == (list("abc"), list("xyz"))
    a, b = list("ab"), list("xy")
    cf.truncate_pair(a, b, 3)
    assert (a, b) == (list("ab"), list("x"))
    tokens, segments = cf.assemble(["a"], [], 8)  # an empty B is a single sentence, as the reference
    assert tokens == ["[CLS]", "a", "[SEP]"] and segments == [0, 0, 0]


def test_labels_multi_hot_float_and_errors():
    spec = cf.LabelSpec(multi_label=True, delimiter="|")
    assert spec.encode("b| c", ["a", "b", "c"]) == [0, 1, 1]
    assert spec.encode(["a"], ["a", "b", "c"]) == [1, 0, 0]
    with pytest.raises(cf.ExampleError, match="unknown label: 'z'"):
        spec.encode("a|z", ["a", "b", "c"])
    assert cf.LabelSpec(label_type="float").encode(" 3.5 ", []) == 3.5
    with pytest.raises(cf.ExampleError, match="bad label"):
        cf.LabelSpec(label_type="float").encode("nan", [])
    assert cf.LabelSpec(rename=(("contradictory", "contradiction"),)).encode(
        "contradictory", ["contradiction", "entailment", "neutral"]) == 0
    assert cf.sort_labels(["10", "2", "1"]) == ["1", "2", "10"]
    assert cf.sort_labels(["b", "a", "10"]) == ["10", "a", "b"]


def test_beam_single_preset_matches_golden(shared, zh_vocab, tmp_path):
    out = tmp_path / "single"
    run_cli("classifier", "--input", shared / "data" / "classifier" / "chnsenticorp" / "dev.tsv",
            "--preset", "chnsenticorp", "--vocab", zh_vocab, "--output", out, "--num-shards", 2)
    info, records = read_output(out)
    gold = _golden(shared, "classifier_single_zh_128.jsonl")
    assert len(records) == len(gold) == 1200
    by_line = {int(record["example_id"]): record for record in records}
    for index, row in enumerate(gold):
        record = by_line[index + 2]  # line 1 is the header; file index 0
        assert record["input_ids"].tolist() == row["input_ids"]
        assert record["input_mask"].tolist() == row["input_mask"]
        assert record["segment_ids"].tolist() == row["segment_ids"]
        assert int(record["label_ids"]) == row["label_id"] and int(record["is_real_example"]) == 1
    assert info["labels"] == ["0", "1"] and info["num_labels"] == 2
    assert info["stats"]["label_distribution"] == {"0": 607, "1": 593}
    assert sum(info["stats"]["sequence_length_histogram"].values()) == 1200
    assert info["stats"]["unk_rate"]["tokens"] > 0
    assert_accounting(info)


def test_beam_pairs_from_jsonl_discover_labels_and_match_golden(shared, zh_vocab, tmp_path):
    gold = _golden(shared, "classifier_pair_zh_48.jsonl")
    source = tmp_path / "pairs.jsonl"
    with open(source, "w", encoding="utf-8") as handle:
        for row in gold:
            handle.write(json.dumps({"s1": row["text_a"], "s2": row["text_b"], "y": row["label"]},
                                    ensure_ascii=False) + "\n")
    out = tmp_path / "pairs"
    run_cli("classifier", "--input", source, "--text-a", "s1", "--text-b", "s2", "--label", "y",
            "--max-seq-length", 48, "--vocab", zh_vocab, "--output", out, "--workers", 2, "--num-shards", 3)
    info, records = read_output(out)
    assert info["labels"] == ["0", "1"]  # discovered, sorted
    by_line = {int(record["example_id"]): record for record in records}
    assert len(by_line) == len(gold)
    for index, row in enumerate(gold):
        record = by_line[index + 1]
        assert record["input_ids"].tolist() == row["input_ids"]
        assert record["segment_ids"].tolist() == row["segment_ids"]
        assert record["input_mask"].tolist() == row["input_mask"]
        assert int(record["label_ids"]) == row["label_id"]


def test_multi_label_round_trips_through_the_trainer_parser(zh_vocab, tmp_path):
    import tensorflow as tf

    from bertprep import schemas

    rows = [("今天天气很好", "sunny|warm"), ("下雨了", "rain"), ("又冷又下雨", "cold|rain"), ("热", "warm")]
    source = tmp_path / "multi.csv"
    source.write_text("text,tags\n" + "".join("%s,%s\n" % row for row in rows), encoding="utf-8")
    out = tmp_path / "multi"
    run_cli("classifier", "--input", source, "--text-a", "text", "--label", "tags", "--multi-label",
            "--label-delimiter", "|", "--max-seq-length", 16, "--vocab", zh_vocab, "--output", out)
    info, records = read_output(out)
    labels = ["cold", "rain", "sunny", "warm"]
    assert info["labels"] == labels and info["num_labels"] == 4
    spec = schemas.for_kind("classifier", {"max_seq_length": 16, "multi_label": True, "num_labels": 4})
    assert schemas.RecordSchema.from_json(info["schema"]).features == spec.features
    serialized = [data for shard in info["shards"] for _, data in tfrecord.read_file(str(out / shard["file"]))]
    parsed = tf.io.parse_example(tf.constant(serialized), spec.tf_feature_spec())
    assert parsed["label_ids"].shape == (len(rows), 4)
    expected = {line: [int(name in tags.split("|")) for name in labels] for line, (_, tags) in enumerate(rows, 2)}
    for example_id, hot in zip(parsed["example_id"].numpy(), parsed["label_ids"].numpy()):
        assert hot.tolist() == expected[int(example_id)]


def test_bad_rows_are_dead_lettered_with_reasons_and_counted(zh_vocab, tmp_path):
    source = tmp_path / "bad.tsv"
    source.write_text("label\ttext\n"
                      "pos\t很好\n"
                      "neg\t\n"              # empty text
                      "meh\t一般\n"           # unknown label
                      "pos\n"                 # missing column
                      "neg\t很差\n", encoding="utf-8")
    out = tmp_path / "bad"
    run_cli("classifier", "--input", source, "--text-a", "text", "--label", "label", "--labels", "neg,pos",
            "--vocab", zh_vocab, "--output", out, "--max-seq-length", 16,
            "--max-dead-letter-rate", 0.6)  # 3 of 5 rows are bad on purpose; the default gate is 0.5
    info, records = read_output(out)
    assert sorted(int(r["label_ids"]) for r in records) == [0, 1]
    assert info["counts"]["read"] == 5 and info["counts"]["written"] == 2 and info["counts"]["dead_lettered"] == 3
    assert info["dead_letters_by_reason"] == {"empty text": 1, "missing column": 1, "unknown label": 1}
    reasons = {row["line"]: row["reason"] for row in dead_letters(out)}
    assert reasons[3].startswith("empty text") and "'meh'" in reasons[4] and reasons[5].startswith("missing column")
    assert_accounting(info)


def test_xnli_preset_keeps_one_language_and_renames_labels(zh_vocab, tmp_path):
    header = ["language", "gold_label", "s1bp", "s2bp", "s1p", "s2p", "sentence1", "sentence2", "promptID"]
    rows = [["zh", "contradictory", "", "", "", "", "他来了", "他没来", "1"],
            ["en", "entailment", "", "", "", "", "he came", "he is here", "2"],
            ["zh", "neutral", "", "", "", "", "下雨", "天很冷", "3"]]
    source = tmp_path / "xnli.dev.tsv"
    source.write_text("\n".join("\t".join(row) for row in [header] + rows) + "\n", encoding="utf-8")
    out = tmp_path / "xnli"
    run_cli("classifier", "--input", source, "--preset", "xnli", "--vocab", zh_vocab, "--output", out,
            "--max-seq-length", 16)
    info, records = read_output(out)
    assert info["counts"]["filtered"] == 1 and info["counts"]["written"] == 2
    assert {int(r["example_id"]): int(r["label_ids"]) for r in records} == {2: 0, 4: 2}
    assert all(1 in r["segment_ids"].tolist() for r in records)
    assert_accounting(info)


def test_regression_and_plain_text_pairs(zh_vocab, tmp_path):
    plan = plan_for(ClassifierOptions(input="x.txt", max_seq_length=16, format="auto"))
    assert plan.format == "text" and plan.unlabeled and "label" not in dict(plan.columns)
    assert cf.split_plain_text("我来 ||| 你走") == ("我来", "你走")
    source = tmp_path / "scores.jsonl"
    source.write_text('{"text_a": "好", "label": 4.5}\n{"text_a": "差", "label": "x"}\n', encoding="utf-8")
    out = tmp_path / "regression"
    run_cli("classifier", "--input", source, "--label-type", "float", "--vocab", zh_vocab, "--output", out,
            "--max-seq-length", 8)
    info, records = read_output(out)
    assert len(records) == 1 and np.isclose(float(records[0]["label_ids"]), 4.5)
    assert info["dead_letters_by_reason"] == {"bad label": 1}


def test_help_lists_options_with_defaults(capsys):
    with pytest.raises(SystemExit):
        run_cli("classifier", "--help")
    text = capsys.readouterr().out
    for option in ("--preset", "--text-a", "--text-b", "--multi-label", "--label-type", "--max-seq-length"):
        assert option in text
    assert "default: 128" in text


def test_row_readers_for_parquet_and_headerless_cola(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as parquet

    path = tmp_path / "rows.parquet"
    parquet.write_table(pa.table({"sentence": ["好", "差"], "score": [1, 0]}), str(path))
    plan = plan_for(ClassifierOptions(input=str(path), text_a="sentence", label="1", max_seq_length=8))
    rows = list(_row_reader(plan)(str(path)))
    assert plan.format == "parquet"
    assert [(r.line, r.value) for r in rows] == [(1, {"text_a": "好", "label": 1}), (2, {"text_a": "差", "label": 0})]
    cola = tmp_path / "train.tsv"
    cola.write_text("gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n")
    plan = plan_for(ClassifierOptions(input=str(cola), preset="cola", max_seq_length=8))
    rows = list(_row_reader(plan)(str(cola)))
    assert [r.value for r in rows] == [{"text_a": "Our friends won't buy this analysis.", "label": "1"},
                                       {"text_a": "They drank the pub.", "label": "0"}]
    mnli = tmp_path / "dev_matched.tsv"
    mnli.write_text("\t".join("h%d" % i for i in range(12)) + "\n" + "\t".join(
        ["1", "", "", "", "", "", "", "", "A man.", "A person.", "x", "entailment"]) + "\n")
    plan = plan_for(ClassifierOptions(input=str(mnli), preset="mnli", max_seq_length=8))
    assert [r.value for r in _row_reader(plan)(str(mnli))] == [
        {"text_a": "A man.", "text_b": "A person.", "label": "entailment"}]


def _row_reader(plan):
    return classifier.RowReader(plan.format, dict(plan.columns), plan.header)


def test_labels_option_takes_a_list_or_a_file(tmp_path):
    from bertprep.errors import BertprepError
    from bertprep.options.labels_option import read_labels_option
    from bertprep.pipelines import finetune_steps

    assert read_labels_option("b, a,c") == ["b", "a", "c"]
    path = tmp_path / "labels.txt"
    path.write_text("neutral\nentailment\n\ncontradiction\n", encoding="utf-8")
    assert read_labels_option(str(path)) == ["neutral", "entailment", "contradiction"]
    with pytest.raises(BertprepError, match="repeats a label"):
        read_labels_option("a,b,a")
    assert finetune_steps.example_id(2, 7) == 2 * 2 ** 32 + 7


@pytest.mark.parametrize("settings, message", [
    ({"max_seq_length": 2}, "--max-seq-length must be at least 3"),
    ({"multi_label": True, "label_type": "float"}, "--multi-label and --label-type float"),
])
def test_options_are_validated_when_made(settings, message):
    from bertprep.errors import BertprepError

    with pytest.raises(BertprepError, match=message):
        ClassifierOptions(input="rows.tsv", output="out", **settings)


def test_plan_is_made_once_and_recorded_in_the_old_config_shape(tmp_path, zh_vocab):
    """The labels file is read when the plan is made, never again; info.json's config keeps its keys."""
    labels = tmp_path / "labels.txt"
    labels.write_text("neg\npos\n", encoding="utf-8")
    source = tmp_path / "rows.tsv"
    source.write_text("text_a\tlabel\n好\tpos\n", encoding="utf-8")
    options = ClassifierOptions(input=str(source), output=str(tmp_path / "out"), labels=str(labels),
                                max_seq_length=8, vocab=zh_vocab)
    plan = classifier.plan(options)
    labels.unlink()
    assert plan.num_shards == 1 and plan.rows.labels == ("neg", "pos")
    config = options.to_config(plan.rows)
    option_names = {option.name for option in ClassifierOptions.command_options()}
    assert set(config) == option_names | {"columns", "label_rename"}
    assert config["labels"] == ["neg", "pos"] and config["format"] == "tsv" and config["header"] is True
    assert config["columns"] == {"text_a": "text_a", "label": "label"} and config["unlabeled"] is False


def test_unlabeled_multi_label_needs_labels_in_one_line(zh_vocab, tmp_path, capsys):
    from bertprep.cli import main

    source = tmp_path / "rows.jsonl"
    source.write_text('{"text_a": "好"}\n', encoding="utf-8")
    status = main(["classifier", "--input", str(source), "--vocab", zh_vocab, "--output", str(tmp_path / "out"),
                   "--unlabeled", "--multi-label"])
    error = capsys.readouterr().err
    assert status != 0 and "--unlabeled --multi-label needs --labels" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_registry_build_runs_from_the_options_alone(zh_vocab, tmp_path):
    """What the service does: the registry's build function with options from a jobs file, no command."""
    from bertprep.pipelines import registry
    from bertprep.runtime import job_path

    source = tmp_path / "rows.tsv"
    source.write_text("text_a\tlabel\n好\t1\n差\t0\n", encoding="utf-8")
    job = registry.pipeline("classifier")
    options = job.options_class().from_mapping({"input": str(source), "output": str(tmp_path / "out"),
                                                "vocab": zh_vocab, "max-seq-length": "8"})
    job_path.run(job, options, progress=False, summary=False)
    info, records = read_output(tmp_path / "out")
    assert info["labels"] == ["0", "1"] and len(records) == 2
    assert info["config"]["num_shards"] == 1 and info["config"]["columns"] == {"text_a": "text_a", "label": "label"}
