"""The [UNK] rules of bertprep/publish/data_warnings.py with [UNK] counted apart (issue 30), on hand-made info dicts:
the text's own script warns over 1%; punctuation the vocabulary lacks is a note up to 2% that never fails
--strict and a warning above; --normalize-punctuation's note gives the share left. And the unknown-word
summary that counts the two kinds, the same however Beam splits its input."""
import collections
import random

import pytest

from bertprep.errors import BertprepError
from bertprep.publish import data_warnings
from bertprep.pipelines.unknown_words import _SummaryByKind

MAP = {"“": '"', "”": '"', "—": "-", "…": "⋯", "，": ","}


def summarize(words):
    combine = _SummaryByKind()
    accumulator = combine.create_accumulator()
    for pair in sorted(words.items()):
        accumulator = combine.add_input(accumulator, pair)
    return combine.extract_output(accumulator)


def info_with(unk, tokens, words, applied=False, strict=False, sample=None):
    stats = {"unk_rate": {"unk": unk, "tokens": tokens}, "unknown_words": summarize(collections.Counter(words))}
    if sample:
        stats["unknown_word_sample"] = sample
    return {"kind": "classifier", "config": {"lower": True, "strict": strict, "normalize_punctuation": applied},
            "counts": {"read": 100, "written": 100, "dead_lettered": 0}, "stats": stats,
            "punctuation_map": {"applied": applied, "map": MAP}}


def only(found):
    (item,) = found
    return item


def test_punctuation_under_two_percent_is_a_note_naming_the_characters_and_the_option():
    # People's Daily with the Chinese vocabulary: 0.98% from “ ” — …, 0.014% from rare characters.
    info = info_with(98 + 1, 10000, {"“": 40, "”": 40, "—": 12, "…": 6, "砀": 1}, strict=True)
    assert data_warnings.check(info) == []  # strict does not fail on a note
    note = only(info["data_notes"])
    assert note["code"] == "unk_punctuation"
    assert note["message"] == ("0.98% of tokens are [UNK] (98 of 10,000) from punctuation the vocabulary lacks: "
                               "“ (40), ” (40), — (12), … (6); the vocabulary fits the text's own characters "
                               "(0.010% [UNK]); --normalize-punctuation maps “→\" ”→\" —→- …→⋯, which the "
                               "vocabulary has")
    assert data_warnings.lines(info) == ["note: " + note["message"]]


def test_punctuation_over_two_percent_warns_and_strict_refuses():
    info = info_with(500, 10000, {"，": 80, "“": 10, "”": 10}, strict=True)
    with pytest.raises(BertprepError) as raised:
        data_warnings.check(info)
    message = str(raised.value)
    assert ("5.0% of tokens are [UNK] (500 of 10,000) from punctuation and symbols the vocabulary lacks: "
            "， (80)") in message
    assert "a vocabulary without the text's common punctuation; --normalize-punctuation maps ，→," in message
    unmappable = info_with(300, 10000, {"※": 10})
    warning = only(data_warnings.warnings_for(unmappable))
    assert warning.code == "unk_punctuation" and warning.message.endswith("use a vocabulary that has them")
    assert data_warnings.notes_for(unmappable) == []
    assert data_warnings.warnings_for(info_with(200, 10000, {"※": 10})) == []  # exactly 2% is not above it


def test_the_texts_own_script_over_one_percent_warns_once_for_all_unk():
    info = info_with(2000, 10000, {"在": 30, "是": 20, "“": 50})  # a vocabulary that does not fit the script
    warning = only(data_warnings.warnings_for(info))
    assert warning.code == "unk_rate"
    assert warning.message.startswith("20.0% of tokens are [UNK] (2,000 of 10,000), 10.0% from letters, digits or "
                                      "characters of the text's own script; the most frequent words that became "
                                      "[UNK]: “ (50), 在 (30), 是 (20)")
    assert data_warnings.notes_for(info) == []  # the warning covers the punctuation too
    assert data_warnings.warnings_for(info_with(100, 10000, {"砀": 10})) == []  # exactly 1% is not above it


def test_a_sample_of_sentences_is_said_and_scaled_to_the_whole_run():
    info = info_with(27001, 2725371, {"“": 2079, "”": 2079, "—": 556, "…": 120, "砀": 87},
                     sample={"sentences": 2048, "buckets_capped": 16})
    note = only(data_warnings.notes_for(info))
    assert note.message.startswith("0.97% of tokens are [UNK] (26,524 of 2,725,371) from punctuation the vocabulary "
                                   "lacks: “ (2,079), ” (2,079), — (556), … (120) (counted in a sample of 2,048 "
                                   "sentences); the vocabulary fits the text's own characters (0.018% [UNK])")


def test_with_the_option_applied_the_note_gives_the_share_left():
    info = info_with(14, 100000, {"砀": 14}, applied=True)
    note = only(data_warnings.notes_for(info))
    assert note.code == "normalized_punctuation"
    assert note.message == ("--normalize-punctuation mapped the 5 punctuation and symbol characters the vocabulary "
                            "lacks to equivalents it has (info.json punctuation_map); 0.014% of tokens are [UNK] "
                            "(14 of 100,000)")
    lacking = info_with(50, 10000, {"※": 50}, applied=True)  # still lacking: named, no option suggested
    assert [note.code for note in data_warnings.notes_for(lacking)] == ["normalized_punctuation", "unk_punctuation"]
    assert "--normalize-punctuation maps" not in data_warnings.notes_for(lacking)[1].message


def test_an_older_info_json_without_the_split_counts_everything_as_script():
    info = {"stats": {"unk_rate": {"unk": 150, "tokens": 10000},
                      "unknown_words": {"occurrences": 150, "top": [["“", 100], ["砀", 50]]}}}
    warning = only(data_warnings.warnings_for(info))
    assert warning.code == "unk_rate" and warning.message.startswith("1.5% of tokens are [UNK] (150 of 10,000); ")
    assert data_warnings.notes_for(info) == []
    for odd in ({"punctuation_map": "x"}, {"punctuation_map": {"applied": True, "map": None}},
                {"stats": {"unknown_words": {"punctuation": [], "script": {}}}}):
        assert data_warnings.notes_for(odd) == [] and data_warnings.warnings_for(odd) == []
    odd_top = {"stats": {"unk_rate": {"unk": 500, "tokens": 1000},
                         "unknown_words": {"punctuation": {"occurrences": 5, "top": 3}, "script": {}}}}
    assert only(data_warnings.warnings_for(odd_top)).message.startswith("50.0% of tokens are [UNK] (500 of 1,000) "
                                                                          "from punctuation")


def test_the_summary_by_kind_is_the_same_however_beam_splits_the_input():
    rng = random.Random(30)
    words = collections.Counter({chr(0x4E00 + k): rng.randint(1, 30) for k in range(100)})
    words.update({"“": 40, "—": 7, "Upper": 3, "○○": 2})
    pairs = list(words.items())
    combine = _SummaryByKind()
    expected = None
    for _ in range(10):
        rng.shuffle(pairs)
        cut = rng.randint(1, len(pairs) - 1)
        accumulators = []
        for part in (pairs[:cut], pairs[cut:]):
            accumulator = combine.create_accumulator()
            for pair in part:
                accumulator = combine.add_input(accumulator, pair)
            accumulators.append(accumulator)
        summary = combine.extract_output(combine.merge_accumulators(accumulators))
        expected = expected or summary
        assert summary == expected
    assert expected["punctuation"]["occurrences"] == 49 and expected["punctuation"]["distinct"] == 3
    assert expected["punctuation"]["top"] == [["“", 40], ["—", 7], ["○○", 2]]
    assert expected["script"]["occurrences"] == sum(words.values()) - 49 == expected["occurrences"] - 49
    assert expected["script"]["with_upper_case"] == 3
