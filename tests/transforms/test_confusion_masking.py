"""Confusion-aware masking: loading mask-probs outputs, candidate kinds, the replacement mix, FASPell pairs."""
import collections
import pickle
import random

import pytest

from bertprep.errors import BertprepError
from bertprep.io.formats import mask_probs_tables
from bertprep.transforms.csc import confusion_masking as C
from bertprep.transforms.pretraining import masking as M

CHARS = "的是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"
CLS, SEP, MASK_ID = 0, 1, 2


def vocab():
    tokens = {"[CLS]": CLS, "[SEP]": SEP, "[MASK]": MASK_ID}
    for char in CHARS + "事是市试视式师诗施时实识史使始士世仕于与雨语鱼玉四间":
        tokens.setdefault(char, len(tokens))
    return tokens


def write_mask_probs_dir(directory):
    """A directory laid out as `bertprep mask-probs` writes it, through that job's own table writer."""
    sets = [
        {"char": "是", "candidate": "事", "score": 0.9, "source": "phonetic", "rank": 1},
        {"char": "是", "candidate": "市", "score": 0.8, "source": "phonetic", "rank": 2},
        {"char": "是", "candidate": "四", "score": 0.6, "source": "phonetic", "rank": 3},
        {"char": "是", "candidate": "士", "score": 0.5, "source": "glyph", "rank": 4},
        {"char": "时", "candidate": "实", "score": 0.7, "source": "phonetic", "rank": 1},
        {"char": "于", "candidate": "与", "score": 0.7, "source": "observed", "rank": 1},
    ]
    probabilities = [{"char": "是", "faspell_probability": 0.9, "smoothed_probability": 0.5},
                     {"char": "时", "faspell_probability": 0.2, "smoothed_probability": 0.1}]
    for name, rows in (("confusion_sets", sets), ("mask_probability", probabilities)):
        columns = [column for column, _ in mask_probs_tables.TABLE_COLUMNS[name]]
        full = [{column: row.get(column) for column in columns} for row in rows]
        for file_name, data in mask_probs_tables.table_bytes(name, full).items():
            (directory / file_name).write_bytes(data)
    with open(directory / "mask_probability.sav", "wb") as handle:
        pickle.dump({"是": 0.9, "时": 0.2}, handle)
    return directory


def test_parse_mix():
    assert C.parse_mix(None) == C.DEFAULT_MIX
    mix = C.parse_mix("same_pinyin=3,glyph=1")
    assert mix["same_pinyin"] == 0.75 and mix["glyph"] == 0.25 and mix["random"] == 0
    with pytest.raises(BertprepError, match="unknown kind"):
        C.parse_mix("sound=1")


def test_load_tables_from_a_mask_probs_directory(tmp_path):
    directory = write_mask_probs_dir(tmp_path)
    assert mask_probs_tables.read_mask_probability(str(directory)) == {"是": 0.5, "时": 0.1}
    assert mask_probs_tables.read_mask_probability(str(directory), "faspell_probability") == {"是": 0.9, "时": 0.2}
    assert mask_probs_tables.read_mask_probability(str(directory / "mask_probability.sav")) == {"是": 0.9, "时": 0.2}
    sets = C.load_confusion_sets(str(directory))
    assert [row["candidate"] for row in sets["是"]] == ["事", "市", "四", "士"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BertprepError, match="no mask_probability.parquet"):
        mask_probs_tables.read_mask_probability(str(empty))
    with pytest.raises(BertprepError, match="file not found"):
        mask_probs_tables.read_mask_probability(str(tmp_path / "nowhere.sav"))


def test_published_confusion_set_file(tmp_path, shared):
    sets = C.load_confusion_sets(str(shared / "data" / "csc" / "confusion_ocr_asr.txt"))
    assert len(sets) > 4000
    assert all(row["source"] == "observed" for row in sets["是"])
    bad = tmp_path / "bad.txt"
    bad.write_text("no separator here\n", encoding="utf-8")
    with pytest.raises(BertprepError, match="line 1"):
        C.load_confusion_sets(str(bad))


def test_candidates_are_classified_by_sound_and_shape(tmp_path):
    table = C.ConfusionTable(C.load_confusion_sets(str(write_mask_probs_dir(tmp_path))), vocab())
    v = vocab()
    kinds = table.by_id[v["是"]]
    assert set(kinds["same_pinyin"]) == {v["事"], v["市"]}  # shì, tone ignored as mask-probs does
    assert kinds["similar_pinyin"] == [v["四"]]  # sì: s/sh is a fuzzy initial
    assert kinds["glyph"] == [v["士"]]
    assert table.by_id[v["于"]] == {"same_pinyin": [v["与"]]} or v["与"] in table.by_id[v["于"]].get(
        "similar_pinyin", [])


def make_confusion_masker(tmp_path, mix=None, weights=None):
    v = vocab()
    table = C.ConfusionTable(C.load_confusion_sets(str(write_mask_probs_dir(tmp_path))), v)
    random_ids = [i for t, i in v.items() if not t.startswith("[")]
    options = M.MaskingOptions(masked_lm_prob=0.3, max_predictions_per_seq=20)
    return C.ConfusionMasker(options, MASK_ID, (CLS, SEP), len(v), random_ids, table, C.parse_mix(mix), weights,
                             0.01), table, v


def test_only_characters_with_candidates_are_predicted(tmp_path):
    masker, table, v = make_confusion_masker(tmp_path)
    rng = random.Random(1)
    sentence = [v[c] for c in "我是中国人是时间于是他说是"] * 3  # 是 (every kind) more often than 时 and 于
    tokens = [CLS] + sentence + [SEP]
    kinds = {label: collections.Counter() for label in (v["是"], v["时"], v["于"])}
    for _ in range(400):
        masked = masker.mask(tokens, None, rng)
        assert masked.positions == sorted(masked.positions)
        assert len(masked.positions) <= M.num_to_predict(len(tokens), masker.options)
        for position, label, kind in zip(masked.positions, masked.labels, masked.kinds):
            assert label in table.by_id and label == tokens[position]
            out = masked.tokens[position]
            if kind == M.PHONETIC:
                candidates = table.by_id[label]
                assert out in candidates.get("same_pinyin", []) + candidates.get("similar_pinyin", [])
            elif kind == M.GLYPH:
                assert out in table.by_id[label]["glyph"]
            elif kind == M.KEEP:
                assert out == label
            kinds[label][M.KIND_NAMES[kind]] += 1
    # The mix as given over all predictions (0.3 + 0.3 phonetic, 0.15 glyph, 0.1 random, 0.15 kept): kinds a
    # character lacks go to the characters that have them (是 has every kind).
    overall = sum(kinds.values(), collections.Counter())
    total = sum(overall.values())
    for name, share in (("phonetic", 0.6), ("glyph", 0.15), ("random", 0.1), ("keep", 0.15)):
        assert abs(overall[name] / total - share) < 0.03, name
    # 时 has only a same-pinyin candidate: never a glyph or a [MASK]
    assert kinds[v["时"]]["glyph"] == 0 and kinds[v["时"]]["mask"] == 0


def test_mask_probability_weights_selection(tmp_path):
    v = vocab()
    masker, _, _ = make_confusion_masker(tmp_path, weights={v["是"]: 1.0, v["时"]: 0.001, v["于"]: 0.001})
    rng = random.Random(2)
    tokens = [CLS] + [v[c] for c in "是时于" * 10] + [SEP]
    picked = collections.Counter()
    for _ in range(200):
        picked.update(masker.mask(tokens, None, rng).labels)
    assert picked[v["是"]] > 5 * (picked[v["时"]] + picked[v["于"]]) / 2


def test_faspell_pair_predicts_every_error_and_probable_characters():
    wrong = [10, 11, 12, 13, 14, 15]
    correct = [10, 21, 12, 13, 24, 15]
    probabilities = {12: 1.0, 13: 0.0}
    tokens, masked = C.faspell_instance(wrong, correct, probabilities, 16, 5, CLS, SEP, random.Random(3))
    assert tokens == [CLS] + wrong + [SEP]
    assert masked.tokens == tokens  # the input is the wrong sentence, unmasked
    assert masked.positions == [2, 3, 5]
    assert masked.labels == [21, 12, 24]
    assert masked.kinds == [M.REAL_ERROR, M.KEEP, M.REAL_ERROR]
    with pytest.raises(ValueError):
        C.faspell_instance([1, 2], [1], {}, 16, 5, CLS, SEP, random.Random(0))
