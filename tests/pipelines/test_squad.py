"""squad: run_squad.py parity on the goldens (transforms and Beam + side file), CJK words, bad answers."""
import json

import pytest

from bertprep.io import formats
from bertprep.io.formats.squad import iter_squad_file
from bertprep.transforms.finetune import squad_examples as se
from bertprep.transforms.finetune import squad_features as sf
from bertprep.transforms.tokenization.tokenizer import load_tokenizer
from test_classifier_helpers import assert_accounting, dead_letters, read_jsonl, read_output, run_cli

GOLDEN_SETTINGS = ("--max-seq-length", 128, "--doc-stride", 32, "--max-query-length", 24,
                   "--version-2-with-negative")


@pytest.fixture(scope="module")
def en_tokenizer(en_vocab):
    return load_tokenizer(vocab=en_vocab, lower=True)


def _golden(shared, split):
    return read_jsonl(shared / "golden" / ("squad_v2_%s_128_32_24.jsonl" % split))


def _int_keys(mapping):
    return {int(key): value for key, value in mapping.items()}


def _reference_numbering(path, tokenizer, is_training):
    """Features of every question in file order, numbered as convert_examples_to_features does."""
    features = []
    unique_id = 1000000000
    for example_index, record in enumerate(item for item in iter_squad_file(path)):
        example = se.make_example(record.value, is_training, True)
        for feature in sf.convert_example(example, tokenizer, 128, 32, 24, is_training)[0]:
            feature.update(unique_id=unique_id, example_index=example_index, qas_id=example.qas_id)
            features.append(feature)
            unique_id += 1
    return features


@pytest.mark.parametrize("split", ["train", "eval"])
def test_transform_matches_every_golden_record(shared, en_tokenizer, split):
    golden = _golden(shared, split)
    made = _reference_numbering(str(shared / "data" / "squad" / "vi_squad_v2_train_sub.json"), en_tokenizer,
                                split == "train")
    assert len(made) == len(golden) == 626
    for feature, row in zip(made, golden):
        for name in ("unique_id", "example_index", "qas_id", "doc_span_index", "tokens", "input_ids", "input_mask",
                     "segment_ids"):
            assert feature[name] == row[name], (row["unique_id"], name)
        assert feature["token_to_orig_map"] == _int_keys(row["token_to_orig_map"])
        assert feature["token_is_max_context"] == _int_keys(row["token_is_max_context"])
        if split == "train":
            assert (feature["start_position"], feature["end_position"]) == (row["start_position"], row["end_position"])
            assert bool(feature["is_impossible"]) == row["is_impossible"]


def test_beam_train_records_match_golden_with_two_workers(shared, en_vocab, tmp_path):
    out = tmp_path / "train"
    run_cli("squad", "--input", shared / "data" / "squad" / "vi_squad_v2_train_sub.json", "--vocab", en_vocab,
            "--output", out, "--workers", 2, "--num-shards", 3, *GOLDEN_SETTINGS)
    info, records = read_output(out)
    golden = {row["unique_id"]: row for row in _golden(shared, "train")}
    assert info["kind"] == "squad_train" and len(records) == len(golden)
    for record in records:
        row = golden[int(record["unique_id"])]
        assert record["input_ids"].tolist() == row["input_ids"]
        assert record["input_mask"].tolist() == row["input_mask"]
        assert record["segment_ids"].tolist() == row["segment_ids"]
        assert int(record["start_positions"]) == row["start_position"]
        assert int(record["end_positions"]) == row["end_position"]
        assert int(record["is_impossible"]) == int(row["is_impossible"])
    assert info["counts"]["written"] == 388 and info["counts"]["features"] == 626
    assert info["stats"]["answers"] == {"kept": 388, "dropped": {}}
    assert info["stats"]["kept_questions"] == {"answer": 160, "impossible": 228}
    assert_accounting(info)


def test_beam_eval_records_and_side_file_match_golden(shared, en_vocab, tmp_path):
    out = tmp_path / "eval"
    run_cli("squad", "--split", "eval", "--input", shared / "data" / "squad" / "vi_squad_v2_train_sub.json",
            "--vocab", en_vocab, "--output", out, "--num-shards", 2, *GOLDEN_SETTINGS)
    info, records = read_output(out)
    golden = {row["unique_id"]: row for row in _golden(shared, "eval")}
    assert info["kind"] == "squad_eval" and {int(r["unique_id"]) for r in records} == set(golden)
    for record in records:
        row = golden[int(record["unique_id"])]
        assert record["input_ids"].tolist() == row["input_ids"]
        assert record["input_mask"].tolist() == row["input_mask"]
        assert record["segment_ids"].tolist() == row["segment_ids"]
    side = [row for name in info["side_files"]["features"] for row in read_jsonl(out / name)]
    assert len(side) == len(golden)
    for row in side:
        gold = golden[row["unique_id"]]
        for name in ("example_index", "qas_id", "doc_span_index", "tokens", "token_to_orig_map",
                     "token_is_max_context"):
            assert row[name] == gold[name], (row["unique_id"], name)
    examples = [row for name in info["side_files"]["examples"] for row in read_jsonl(out / name)]
    assert sorted(row["example_index"] for row in examples) == list(range(388))
    for row in examples:  # the words can be cut back out of the context
        assert [row["context"][a:b] for a, b in row["word_spans"]] == row["doc_tokens"]

    # SQuAD 2.0 post-processing on these side files: logits favouring [CLS] predict "" everywhere.
    logits = tmp_path / "logits.jsonl"
    with open(logits, "w") as handle:
        for row in side:
            start = [5.0] + [1.0 if str(i) in row["token_to_orig_map"] else 0.0 for i in range(1, 128)]
            handle.write(json.dumps({"unique_id": row["unique_id"], "start_logits": start, "end_logits": start}) + "\n")
    run_cli("squad-predict", "--eval-output", out, "--logits", logits, "--output", tmp_path / "pred")
    scores = json.load(open(tmp_path / "pred" / "eval.json"))
    null_odds = json.load(open(tmp_path / "pred" / "null_odds.json"))
    assert scores["metric"] == "squad" and scores["predicted"] == 388
    assert scores["no_ans_total"] == 228 and scores["no_ans_exact"] == 100.0 and scores["has_ans_exact"] == 0.0
    assert len(null_odds) == 388 and all(value == 8.0 for value in null_odds.values())


def test_cjk_characters_are_words_in_text_without_spaces():
    words, char_to_word, spans = se.split_words("基于《跑跑》，由Nexon 开发。", True)
    assert words == ["基", "于", "《", "跑", "跑", "》，", "由", "Nexon", "开", "发", "。"]
    assert char_to_word[14] == 8 and spans[7] == (8, 13)
    mixed = "Lịch sơ ( 太初 , x"
    assert se.split_words(mixed, se.split_cjk_for(mixed, "auto"))[0][3] == "太初"
    assert se.written_without_spaces("中国的首都是北京。")
    assert not se.written_without_spaces("Thủ tướng 太初 Ấn Độ sắp")


def _record(context, question="问题？", answers=(), impossible=False):
    qa = {"id": "q1", "question": question, "answers": [{"text": t, "answer_start": s} for t, s in answers]}
    if impossible:
        qa["is_impossible"] = True
    return {"context": context, "qa": qa, "position": [0, 0, 0], "title": ""}


def test_answer_is_located_from_answer_start_not_the_first_occurrence(zh_vocab):
    tokenizer = load_tokenizer(vocab=zh_vocab)
    context = "北京是首都。我爱北京。"
    example = se.make_example(_record(context, answers=[("北京", 8)]), True, False)
    assert (example.start_position, example.end_position) == (8, 9)
    features, _ = sf.convert_example(example, tokenizer, 64, 32, 16, True)
    feature = features[0]
    assert feature["tokens"][feature["start_position"]:feature["end_position"] + 1] == ["北", "京"]
    assert feature["token_to_orig_map"][feature["start_position"]] == 8
    with pytest.raises(se.AnswerError, match="answer mismatch"):
        se.make_example(_record(context, answers=[("北京", 3)]), True, False)
    with pytest.raises(se.AnswerError, match="answer count"):
        se.make_example(_record(context, answers=[("北京", 0), ("北京", 8)]), True, False)
    with pytest.raises(se.AnswerError, match="empty text"):
        se.make_example(_record(context, question=" ", answers=[("北京", 0)]), True, False)
    impossible = se.make_example(_record(context, impossible=True), True, True)
    assert impossible.is_impossible and impossible.start_position == -1


def test_unusable_answers_are_dead_lettered_or_kept_as_the_reference(en_vocab):
    tokenizer = load_tokenizer(vocab=en_vocab)
    example = se.make_example(_record("The Japanese electronics industry.", answers=[("Japan", 4)]), True, False)
    with pytest.raises(se.AnswerError, match="not token-aligned"):
        sf.convert_example(example, tokenizer, 32, 8, 8, True)
    feature = sf.convert_example(example, tokenizer, 32, 8, 8, True, unusable_answers="keep")[0][0]
    assert feature["tokens"][feature["start_position"]] == "japanese"  # the whole word, as the reference
    words = ["w%d" % i for i in range(40)]
    example = se.make_example(_record(" ".join(words), answers=[(" ".join(words[:30]), 0)]), True, False)
    with pytest.raises(se.AnswerError, match="answer in no window"):
        sf.convert_example(example, tokenizer, 24, 8, 4, True)


def test_windows_and_max_context():
    assert sf.doc_windows(10, 4, 3) == [(0, 4), (3, 4), (6, 4)]
    assert sf.doc_windows(3, 4, 3) == [(0, 3)]
    best = sf.max_context_windows([(0, 4), (3, 4), (6, 4)], 10)
    # piece 3: window 0 gives min(3, 0), window 1 gives min(0, 3); ties go to the first window
    assert best[3] == 0 and best[4] == 1 and best[9] == 2


def test_bad_json_and_mismatched_answers_are_dead_lettered(zh_vocab, tmp_path):
    good = {"data": [{"title": "t", "paragraphs": [{"context": "北京是首都。", "qas": [
        {"id": "a", "question": "首都是哪里？", "answers": [{"text": "北京", "answer_start": 0}]},
        {"id": "b", "question": "首都是哪里？", "answers": [{"text": "上海", "answer_start": 0}]},
        {"id": "c", "question": "", "answers": [{"text": "北京", "answer_start": 0}]}]}]}]}
    (tmp_path / "a.json").write_text(json.dumps(good, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    out = tmp_path / "out"
    run_cli("squad", "--input", str(tmp_path / "*.json"), "--vocab", zh_vocab, "--output", out,
            "--max-seq-length", 32, "--max-query-length", 8,
            "--max-dead-letter-rate", 1)  # 3 of 4 questions are bad on purpose; the default gate is 0.5
    info, records = read_output(out)
    assert len(records) == 1 and int(records[0]["unique_id"]) == 1000000000
    assert info["dead_letters_by_reason"] == {"answer mismatch": 1, "bad SQuAD JSON": 1, "empty text": 1}
    assert info["counts"]["read"] == 4 and info["stats"]["answers"]["kept"] == 1
    assert {row["line"] for row in dead_letters(out) if row["source"].endswith("a.json")} == {2, 3}
    assert_accounting(info)


def test_reader_numbers_questions_in_file_order(shared):
    items = list(iter_squad_file(str(shared / "data" / "squad" / "vi_squad_v2_train_sub.json")))
    assert all(isinstance(item, formats.Record) for item in items) and len(items) == 388
    assert [item.line for item in items] == list(range(1, 389))
    positions = [tuple(item.value["position"]) for item in items]
    assert positions == sorted(positions)


@pytest.mark.parametrize("settings, message", [
    ({"doc_stride": 0}, "--doc-stride must be positive"),
    ({"max_seq_length": 27, "max_query_length": 24}, r"--max-seq-length \(27\) must be greater than"),
])
def test_options_are_validated_when_made(settings, message):
    from bertprep.errors import BertprepError
    from bertprep.options.squad import SquadOptions

    with pytest.raises(BertprepError, match=message):
        SquadOptions(input="squad.json", output="out", **settings)


def test_side_files_and_kind_follow_the_split_and_are_recorded_decided():
    from bertprep.options.squad import SquadOptions

    train = SquadOptions(input="squad.json", output="out")
    evaluation = SquadOptions(input="squad.json", output="out", split="eval")
    assert (train.kind, train.writes_side_files, train.to_config()["side_file"]) == ("squad_train", False, False)
    assert (evaluation.kind, evaluation.writes_side_files) == ("squad_eval", True)
    forced = SquadOptions(input="squad.json", output="out", side_file=True)
    assert forced.writes_side_files and forced.to_config()["side_file"] is True
    assert train.changed_options() == ["--input squad.json"]  # the decided side_file is no user's option


def test_squad_predict_reads_the_runs_options_with_the_class_defaults():
    from bertprep.options.squad import options_of_run

    recorded = options_of_run({"config": {"version_2_with_negative": True, "lower": False, "columns": {}}})
    assert recorded.version_2_with_negative and recorded.lower is False and recorded.strip_accents is None
    assert options_of_run({}).lower is True
