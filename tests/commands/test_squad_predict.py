"""squad-predict and post-processing: CMRC 2018 round trip with gold logits, text recovery, EM/F1."""
import json

import pytest

from bertprep.transforms.finetune import squad_postprocess as sp
from test_classifier_helpers import dead_letters, read_output, run_cli


@pytest.fixture(scope="module")
def cmrc_runs(shared, zh_vocab, tmp_path_factory):
    """Train records (with their side file) and eval records (Parquet side file) of CMRC 2018 trial."""
    base = tmp_path_factory.mktemp("cmrc")
    source = shared / "data" / "squad" / "cmrc2018_trial.json"
    run_cli("squad", "--input", source, "--vocab", zh_vocab, "--output", base / "train", "--side-file")
    run_cli("squad", "--split", "eval", "--input", source, "--vocab", zh_vocab, "--output", base / "eval",
            "--side-file-format", "parquet")
    return base


def _side_rows(directory, info, table):
    from bertprep.io.formats.squad_side_files import read_rows

    return [row for name in info["side_files"][table] for row in read_rows(str(directory / name))]


def test_every_training_window_with_the_answer_decodes_back_to_it(cmrc_runs):
    directory = cmrc_runs / "train"
    info, records = read_output(directory)
    examples = {row["example_index"]: row for row in _side_rows(directory, info, "examples")}
    features = _side_rows(directory, info, "features")
    positions = {int(r["unique_id"]): (int(r["start_positions"]), int(r["end_positions"])) for r in records}
    gold = json.load(open(info["config"]["input"], encoding="utf-8"))
    answers = {qa["id"]: qa["answers"][0]["text"] for article in gold["data"] for paragraph in article["paragraphs"]
               for qa in paragraph["qas"]}
    decoded = 0
    for feature in features:
        start, end = feature["start_position"], feature["end_position"]
        assert (start, end) == positions[feature["unique_id"]]
        if start == 0:
            continue
        example = examples[feature["example_index"]]
        to_word = {int(k): v for k, v in feature["token_to_orig_map"].items()}
        spans = example["word_spans"]
        original = example["context"][spans[to_word[start]][0]:spans[to_word[end]][1]]
        text = sp.final_text(sp.pieces_to_text(feature["tokens"][start:end + 1]), original)
        assert text.strip() == answers[feature["qas_id"]].strip(), feature["unique_id"]
        decoded += 1
    assert decoded >= info["counts"]["written"]  # every kept question has at least one such window
    assert info["counts"]["read"] == 1002 and info["counts"]["written"] == 991
    assert info["dead_letters_by_reason"] == {"answer in no window": 3, "answer mismatch": 5,
                                              "answer not token-aligned": 1, "empty text": 2}
    assert all(row["reason"] for row in dead_letters(directory))


def test_gold_positions_as_logits_score_100_on_every_kept_question(cmrc_runs, tmp_path):
    train_dir, eval_dir = cmrc_runs / "train", cmrc_runs / "eval"
    train_info, _ = read_output(train_dir)
    gold_windows = {}
    for row in _side_rows(train_dir, train_info, "features"):
        if row["start_position"] > 0:
            gold_windows[(row["qas_id"], row["doc_span_index"])] = (row["start_position"], row["end_position"])
    kept = {qas_id for qas_id, _ in gold_windows}
    assert len(kept) == train_info["counts"]["written"]
    eval_info, _ = read_output(eval_dir)
    length = eval_info["config"]["max_seq_length"]
    logits = tmp_path / "logits.jsonl"
    with open(logits, "w") as handle:
        for row in _side_rows(eval_dir, eval_info, "features"):
            if row["qas_id"] not in kept:
                continue
            start, end = gold_windows.get((row["qas_id"], row["doc_span_index"]), (0, 0))
            start_logits, end_logits = [0.0] * length, [0.0] * length
            start_logits[start] = end_logits[end] = 10.0
            handle.write(json.dumps({"unique_id": row["unique_id"], "start_logits": start_logits,
                                     "end_logits": end_logits}) + "\n")
    out = tmp_path / "predictions"
    run_cli("squad-predict", "--eval-output", eval_dir, "--logits", logits, "--output", out,
            "--max-answer-length", length)
    scores = json.load(open(out / "eval.json"))
    assert scores["metric"] == "cmrc"
    assert scores["predicted"] == len(kept) == 991
    assert scores["exact"] == 100.0 and scores["f1"] == 100.0
    assert scores["not_predicted"] == 1000 - 991 and scores["not_predicted_by_reason"] == {
        "no logits for the question": 9}
    assert scores["dropped_when_made"] == {"empty text": 2}
    predictions = json.load(open(out / "predictions.json"))
    nbest = json.load(open(out / "nbest_predictions.json"))
    assert set(predictions) == set(nbest) == kept
    assert abs(sum(entry["probability"] for entry in nbest["TRIAL_800_QUERY_0"]) - 1.0) < 1e-9
    assert predictions["TRIAL_800_QUERY_0"] == "踢爆"


def test_final_text_keeps_original_case_accents_and_drops_extra_characters():
    assert sp.final_text("steve smith", "Steve Smith's") == "Steve Smith"
    assert sp.final_text("1895", "(1895-1943).") == "1895"
    assert sp.final_text("thu tuong", "Thủ tướng") == "Thủ tướng"
    decomposed = "Thu\u0309 tu\u031bo\u031bn\u0300g"
    assert sp.final_text("thu", decomposed) == "Thu\u0309"  # the reference returns the whole span here
    assert sp.final_text("朱 [UNK] 称 帝", "拥立朱泚称帝") == "朱泚称帝"
    assert sp.final_text("nowhere", "Steve") == "Steve"
    assert sp.pieces_to_text(["[UNK]", "john", "##son", "'", "s"]) == "[UNK] johnson ' s"


def test_official_squad_and_cmrc_scores():
    assert sp.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert sp.squad_exact("the Eiffel Tower", "Eiffel tower.") == 1.0
    assert sp.squad_f1("Eiffel Tower in Paris", "the Eiffel Tower") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert sp.squad_f1("", "") == 1.0 and sp.squad_f1("", "x") == 0.0
    assert sp.cjk_segments("北京大学, Peking University") == ["北", "京", "大", "学", "peking", "university"]
    # longest common run: 北京 (2) of prediction 北京市 (3) and gold 北京大学 (4)
    assert sp.cmrc_f1("北京大学", "北京市") == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    assert sp.cmrc_exact("“北京”", "北京") == 1.0
    scores = sp.evaluate({"a": ["北京"], "b": ["上海"], "c": []}, {"a": "北京", "b": "南京", "c": ""})
    assert scores["metric"] == "cmrc" and scores["has_ans_total"] == 2 and scores["no_ans_exact"] == 100.0
    assert scores["exact"] == pytest.approx(200 / 3)


def _feature(unique_id, tokens, doc_offset=3, doc_span_start=0, max_context=None):
    mapping = {doc_offset + i: doc_span_start + i for i in range(len(tokens) - doc_offset - 1)}
    return {"unique_id": unique_id, "tokens": tokens, "token_to_orig_map": mapping, "doc_span_start": doc_span_start,
            "token_is_max_context": {k: True if max_context is None else max_context(k) for k in mapping}}


def test_null_answer_wins_above_the_threshold_and_long_answers_survive_the_span_rule():
    example = {"context": "a b c d", "word_spans": [(0, 1), (2, 3), (4, 5), (6, 7)]}
    feature = _feature(1000000000, ["[CLS]", "q", "[SEP]", "a", "b", "c", "d", "[SEP]"])
    logits = {1000000000: {"start_logits": [5.0, 0, 0, 0, 4.0, 0, 0, 0], "end_logits": [5.0, 0, 0, 0, 0, 4.0, 0, 0]}}
    text, nbest, diff = sp.predict_example(example, [feature], logits, version_2_with_negative=True)
    assert (text, diff) == ("", 2.0) and nbest[0]["text"] == ""
    text, _, _ = sp.predict_example(example, [feature], logits, version_2_with_negative=True,
                                    null_score_diff_threshold=2.5)
    assert text == "b c"
    # Two windows over words 0-3 and 2-5; word 2's max context is window 0, which lacks word 5.
    example = {"context": "a b c d e f", "word_spans": [(i, i + 1) for i in range(0, 11, 2)]}
    first = _feature(1, ["[CLS]", "q", "[SEP]", "a", "b", "c", "d", "[SEP]"], max_context=lambda k: k < 6)
    second = _feature(2, ["[CLS]", "q", "[SEP]", "c", "d", "e", "f", "[SEP]"], doc_span_start=2,
                      max_context=lambda k: k >= 5)
    zero = [0.0] * 8
    logits = {1: {"start_logits": zero, "end_logits": zero},
              2: {"start_logits": [0, 0, 0, 9.0, 0, 0, 0, 0], "end_logits": [0, 0, 0, 0, 0, 0, 9.0, 0]}}
    assert sp.predict_example(example, [first, second], logits)[0] == "c d e f"
    assert sp.predict_example(example, [first, second], logits, max_context_rule="start")[0] != "c d e f"
