"""One reader of confusion files (bertprep.io.formats.confusion_sets) behind `mask-probs --confusion-file` and
`pretraining --confusion-sets`: every layout reads the same through both, PLOME's three files included, and a
bad line is a dead letter (mask-probs) or an error naming the file and line (pretraining)."""
import json
import os

import pytest

from bertprep import cli
from bertprep.errors import BertprepError
from bertprep.io.records import DeadLetter
from bertprep.pipelines import mask_probs
from bertprep.transforms.csc import confusion_masking

# One set written in every layout a user may hold: key 在 with 再载, key 的 with 地得.
LAYOUTS = {
    "colon": "在:再载\n的:地得\n",
    "tab": "中文字\t同音\n在\t再载\n的\t地\t得\n",       # a header, runs in several fields
    "comma": "在,再,载\n的,地得\n",                        # one character an item, or one run
    "space": "在 再 载\n的 地得\n",
}
EXPECTED = {"在": ("再", "载"), "的": ("地", "得")}


def vocab_of(chars):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(chars))
    return {token: index for index, token in enumerate(tokens)}


def mask_probs_sets(path, layout="auto"):
    """What the mask-probs job keeps of a --confusion-file (its reading step, as its DoFn runs it)."""
    sets, dead = {}, []
    for item in mask_probs.read_confusion_file((layout, str(path), "external:" + path.name)):
        if isinstance(item, DeadLetter):
            dead.append(item)
        else:
            sets.setdefault(item[1], {}).update(dict.fromkeys(item[2]))  # united in order, as ExternalSets does
    return {char: tuple(candidates) for char, candidates in sets.items()}, dead


def pretraining_sets(spec, vocab, plome=False):
    """What the pretraining job's masker gets from --confusion-sets: {char: {kind: candidates}}."""
    table = confusion_masking.load_confusion_table(spec, vocab, plome)
    chars = {index: token for token, index in vocab.items()}
    return {chars[char_id]: {kind: tuple(chars[i] for i in ids) for kind, ids in kinds.items()}
            for char_id, kinds in table.by_id.items()}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_reads_the_same_through_both_commands(tmp_path, layout):
    path = tmp_path / ("sets_%s.txt" % layout)
    path.write_text(LAYOUTS[layout], encoding="utf-8")
    assert mask_probs_sets(path) == (EXPECTED, [])
    vocab = vocab_of("在再载的地得")
    by_kind = pretraining_sets(str(path), vocab)
    assert {char: tuple(sorted(c for cs in kinds.values() for c in cs)) for char, kinds in by_kind.items()} == {
        char: tuple(sorted(candidates)) for char, candidates in EXPECTED.items()}
    # 再 is zài like 在: sorted by sound into same_pinyin; 地/得 are de/dì: 得 same syllable as 的
    assert "再" in by_kind["在"]["same_pinyin"]
    # The same file given with its kind: every candidate is of that kind, none classified.
    assert pretraining_sets("glyph=" + str(path), vocab) == {char: {"glyph": candidates}
                                                             for char, candidates in EXPECTED.items()}


def test_groups_layout_maps_every_member_to_its_group(tmp_path):
    path = tmp_path / "stroke.txt"
    path.write_text("乂,义,叉,\n义,又\n", encoding="utf-8")  # a trailing comma, as in PLOME's file
    sets, dead = mask_probs_sets(path, "groups")
    assert dead == [] and sets == {"乂": ("义", "叉"), "义": ("乂", "叉", "又"), "叉": ("乂", "义"), "又": ("义",)}
    vocab = vocab_of("乂义叉又")
    united = pretraining_sets("glyph:groups=" + str(path), vocab)
    assert united["义"] == {"glyph": ("乂", "叉", "又")}
    # PLOME reads a glyph file as groups, keeps a key's last group and the key itself as a replacement.
    plome = pretraining_sets("glyph=" + str(path), vocab, plome=True)
    assert {char: set(kinds["glyph"]) for char, kinds in plome.items()} == {
        "乂": {"乂", "义", "叉"}, "义": {"义", "又"}, "叉": {"乂", "义", "叉"}, "又": {"义", "又"}}


def _plome_loader_sizes(path, vocab, groups):
    """Keys with candidates as PLOME's mask.py loads its files (written here from its description: a pinyin
    line is key<TAB>space-separated values, both in the vocabulary; a stroke line a comma group whose
    vocabulary members each map to the whole group)."""
    keys = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if groups:
                members = [c for c in line.strip().split(",") if c in vocab]
                if len(line.strip().split(",")) >= 2 and members:
                    keys.update(members)
                continue
            fields = line.strip().split("\t")
            if len(fields) == 2 and len(fields[0]) == 1 and fields[0] in vocab and any(
                    c in vocab for c in fields[1].split()):
                keys.add(fields[0])
    return keys


def test_plomes_three_files_read_through_both_commands(shared, zh_vocab):
    plome = shared / "data" / "csc" / "plome"
    vocab = {line.rstrip("\n"): index for index, line in enumerate(open(zh_vocab, encoding="utf-8"))}
    spec = "same_pinyin={0}/same_pinyin.txt,similar_pinyin={0}/simi_pinyin.txt,glyph={0}/same_stroke.txt".format(
        plome)
    table = pretraining_sets(spec, vocab, plome=True)
    for kind, name, groups in (("same_pinyin", "same_pinyin.txt", False), ("similar_pinyin", "simi_pinyin.txt", False),
                               ("glyph", "same_stroke.txt", True)):
        expected = _plome_loader_sizes(plome / name, vocab, groups)
        assert {char for char, kinds in table.items() if kind in kinds} == expected, kind
        sets, dead = mask_probs_sets(plome / name, "groups" if groups else "auto")
        assert dead == [] and len(sets) >= len(expected) > 3000



def test_plomes_same_pinyin_layout_is_classified_when_given_without_a_kind(shared, zh_vocab, tmp_path):
    # The layout `pretraining --confusion-sets` refused before ("line 1: expected char:candidates"); its
    # first 200 lines (classifying every candidate by sound takes a while).
    head = tmp_path / "same_pinyin.txt"
    with open(shared / "data" / "csc" / "plome" / "same_pinyin.txt", encoding="utf-8") as handle:
        head.write_text("".join(next(handle) for _ in range(200)), encoding="utf-8")
    vocab = {line.rstrip("\n"): index for index, line in enumerate(open(zh_vocab, encoding="utf-8"))}
    classified = pretraining_sets(str(head), vocab)
    assert len(classified) > 150
    assert sum("same_pinyin" in kinds for kinds in classified.values()) > 0.9 * len(classified)


def test_a_bad_line_is_a_dead_letter_in_mask_probs_and_an_error_in_pretraining(tmp_path):
    path = tmp_path / "wang.txt"
    path.write_text("在:再载\n他们:门\n的:地\n", encoding="utf-8")
    sets, dead = mask_probs_sets(path)
    assert sets == {"在": ("再", "载"), "的": ("地",)}
    assert [(letter.source, letter.line) for letter in dead] == [(str(path), 2)]
    assert "the key '他们' is 2 characters" in dead[0].reason
    with pytest.raises(BertprepError, match=r"wang.txt line 2: bad confusion-set line: the key '他们'"):
        confusion_masking.load_confusion_table(str(path), vocab_of("在再载的地"))
    with pytest.raises(BertprepError, match="--confusion-sets: 'glyph' is not KIND=PATH"):
        confusion_masking.parse_confusion_sets("same_pinyin=%s,glyph" % path)


def test_pretraining_takes_plomes_same_pinyin_file(shared, zh_vocab, tmp_path):
    corpus = tmp_path / "docs.txt"
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        corpus.write_text("".join(next(handle) for _ in range(60)), encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["pretraining", "--input", str(corpus), "--vocab", zh_vocab, "--output", str(out),
                     "--workers", "1", "--dupe-factor", "1", "--confusion-sets",
                     str(shared / "data" / "csc" / "plome" / "same_pinyin.txt")]) == 0
    with open(os.path.join(out, "info.json"), encoding="utf-8") as handle:
        kinds = json.load(handle)["stats"]["masked_position_kinds"]
    assert kinds["phonetic"] > 0 and kinds["mask"] == 0
