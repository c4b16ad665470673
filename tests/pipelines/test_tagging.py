"""tagging: every People's Daily sentence written or dead-lettered, tags read back from first pieces."""
import json

import pytest

from bertprep.transforms.finetune import tagging_features as tf_lib
from bertprep.transforms.finetune.classifier_features import ExampleError
from bertprep.transforms.tokenization.tokenizer import load_tokenizer
from oracles import tags_from_record
from test_classifier_helpers import assert_accounting, dead_letters, read_output, run_cli


@pytest.fixture(scope="module")
def zh_tokenizer(zh_vocab):
    return load_tokenizer(vocab=zh_vocab, lower=True)


def _sentences(path):
    """line of the first token → (tokens, tags), parsed here independently of the job."""
    sentences = {}
    tokens, tags, first = [], [], None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                if tokens:
                    sentences[first] = (tokens, tags)
                tokens, tags, first = [], [], None
                continue
            if first is None:
                first = number
            tokens.append(fields[0])
            tags.append(fields[-1])
    if tokens:
        sentences[first] = (tokens, tags)
    return sentences


def test_peopledaily_every_sentence_written_or_dead_lettered_and_tags_read_back(shared, zh_vocab, tmp_path):
    source = shared / "data" / "ner" / "peopledaily_dev.bio"
    out = tmp_path / "ner"
    run_cli("tagging", "--input", source, "--vocab", zh_vocab, "--output", out, "--max-seq-length", 64,
            "--num-shards", 2)
    info, records = read_output(out)
    sentences = _sentences(source)
    labels = info["labels"]
    assert labels == sorted(labels) and set(labels) == {"B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"}
    assert info["tag_map"] == {tag: index for index, tag in enumerate(labels)}
    written = {}
    for record in records:
        line = int(record["example_id"]) & 0xFFFFFFFF
        assert line not in written
        written[line] = tags_from_record(record["label_ids"], record["label_weights"], labels)
        assert record["input_mask"].sum() == (record["input_ids"] > 0).sum()
    dead = {row["line"]: row["reason"] for row in dead_letters(out)}
    assert set(written) | set(dead) == set(sentences) and not set(written) & set(dead)
    assert dead and all(reason.startswith("too long") for reason in dead.values())
    for line, tags in written.items():
        assert tags == sentences[line][1], line
    assert info["counts"]["read"] == len(sentences) == 4631
    assert info["counts"]["written"] == len(written) and info["counts"]["dead_lettered"] == len(dead)
    assert sum(info["stats"]["tag_distribution"].values()) == sum(len(sentences[l][1]) for l in written)
    assert_accounting(info)


def test_split_long_cuts_at_word_boundaries_and_keeps_every_tag(zh_tokenizer):
    tokens = list("中共中央致中国致公党十一大的贺词各位代表")
    tags = ["B-ORG"] + ["I-ORG"] * 3 + ["O"] * (len(tokens) - 4)
    tag_ids = {"B-ORG": 0, "I-ORG": 1, "O": 2}
    with pytest.raises(ExampleError, match="too long"):
        tf_lib.convert_sentence(tokens, tags, tag_ids, zh_tokenizer, 8, 7)
    records, facts = tf_lib.convert_sentence(tokens, tags, tag_ids, zh_tokenizer, 8, 7, split_long=True)
    assert len(records) == facts["records"] == 4 and all(r["example_id"] == 7 for r in records)
    back = [tag for r in records for tag in tags_from_record(r["label_ids"], r["label_weights"],
                                                                    ["B-ORG", "I-ORG", "O"])]
    assert back == tags


def test_label_on_first_piece_only(en_vocab):
    tokenizer = load_tokenizer(vocab=en_vocab)
    records, _ = tf_lib.convert_sentence(["Johanson", "visited", "Paris"], ["B-PER", "O", "B-LOC"],
                                         {"B-LOC": 0, "B-PER": 1, "O": 2}, tokenizer, 12, 1)
    record = records[0]
    pieces = tokenizer.convert_ids_to_tokens([i for i in record["input_ids"] if i])
    assert pieces[:3] == ["[CLS]", "johan", "##son"]
    assert record["label_weights"][:6] == [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    assert record["label_ids"][:6] == [0, 1, 0, 2, 0, 0]


def test_conll_columns_and_bad_lines():
    assert tf_lib.parse_conll(["EU NNP B-NP B-ORG", "rejects VBZ B-VP O"]) == (["EU", "rejects"], ["B-ORG", "O"])
    with pytest.raises(ExampleError, match="bad line"):
        tf_lib.parse_conll(["中 B-ORG", "共"])
    with pytest.raises(ExampleError, match="length mismatch"):
        tf_lib.parse_json({"tokens": ["a", "b"], "tags": ["O"]})


def test_jsonl_input_with_given_tags_dead_letters_unknown_tags_and_empty_tokens(zh_vocab, tmp_path):
    rows = [{"tokens": ["北", "京"], "tags": ["B-LOC", "I-LOC"]},
            {"tokens": ["上", "海"], "tags": ["B-LOC", "I-XXX"]},
            {"tokens": ["好", "\u200b"], "tags": ["O", "O"]},
            {"tokens": ["a"], "tags": ["O", "O"]},
            {"words": ["a"]}]
    source = tmp_path / "ner.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "out"
    run_cli("tagging", "--input", source, "--labels", "B-LOC,I-LOC,O", "--vocab", zh_vocab, "--output", out,
            "--max-seq-length", 16, "--max-dead-letter-rate", 1)  # 4 of 5 rows are bad on purpose
    info, records = read_output(out)
    assert len(records) == 1 and records[0]["label_ids"].tolist()[:4] == [0, 0, 1, 0]
    assert info["dead_letters_by_reason"] == {"empty token": 1, "length mismatch": 1, "missing column": 1,
                                              "unknown label": 1}
    assert info["tag_map"] == {"B-LOC": 0, "I-LOC": 1, "O": 2}
    assert_accounting(info)


def test_options_validate_and_plan_the_format_and_tags_once(tmp_path):
    from bertprep.errors import BertprepError
    from bertprep.options.tagging import TaggingOptions, plan_for

    with pytest.raises(BertprepError, match="--max-seq-length must be at least 3"):
        TaggingOptions(input="ner.bio", output="out", max_seq_length=2)
    tags = tmp_path / "tags.txt"
    tags.write_text("B-LOC\nO\n", encoding="utf-8")
    options = TaggingOptions(input=str(tmp_path / "ner.jsonl"), output="out", labels=str(tags))
    plan = plan_for(options)
    tags.unlink()  # the plan holds the tags: nothing reads the file again
    assert plan.format == "jsonl"
    config = options.to_config(plan)
    assert config["labels"] == ["B-LOC", "O"] and config["format"] == "jsonl" and "plan" not in config
    conll = TaggingOptions(input="ner.bio", output="out")
    assert conll.to_config(plan_for(conll))["format"] == "conll"
