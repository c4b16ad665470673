"""CSC corpus readers: every format, dead letters with reasons, and the shared SIGHAN files."""
import json
import os
import re

import pytest

from bertprep.io.formats import csc as csc_readers
from bertprep.transforms.csc.normalizer import make_normalizer
from bertprep.io.formats.csc import CscDeadLetter, CscPair


def _lines(text: str):
    return [line.encode("utf-8") for line in text.splitlines(keepends=True)]


def _split(items):
    pairs = [i for i in items if isinstance(i, CscPair)]
    dead = [i for i in items if isinstance(i, CscDeadLetter)]
    return pairs, dead


def test_tsv_pairs_and_bad_lines():
    data = _lines("我再家\t我在家\n\n只有一列\n三\t列\t了\n") + [b"\xff\xfe\tbad\n"]
    pairs, dead = _split(list(csc_readers.iter_line_pairs(data, "a.tsv", "tsv")))
    assert [(p.wrong, p.correct, p.line) for p in pairs] == [("我再家", "我在家", 1)]
    assert pairs[0].key == "a.tsv:1"
    assert [(d.line, d.reason.split(":")[0]) for d in dead] == [(3, "bad TSV line"), (4, "bad TSV line"),
                                                                 (5, "undecodable")]


def test_faspell_and_jsonl_lines():
    pairs, dead = _split(list(csc_readers.iter_line_pairs(_lines("1\t我再家\t我在家\nx\t我\t我\n"), "f", "faspell")))
    assert [(p.wrong, p.correct) for p in pairs] == [("我再家", "我在家")]
    assert "not an error count" in dead[0].reason
    text = "\n".join([json.dumps({"source": "我再家", "target": "我在家"}, ensure_ascii=False),
                      json.dumps({"source": "缺目标"}, ensure_ascii=False), "{oops", "[1]"]) + "\n"
    pairs, dead = _split(list(csc_readers.iter_line_pairs(_lines(text), "j", "jsonl")))
    assert [(p.wrong, p.correct) for p in pairs] == [("我再家", "我在家")]
    assert [d.line for d in dead] == [2, 3, 4]
    assert all(d.reason.startswith("bad JSONL line") for d in dead)


def test_parallel_files_pair_by_line_and_report_leftovers():
    correct = _lines("我在家\n他在学校\n\n多出来的一行\n")
    wrong = _lines("我再家\n他再学校\n\n")
    pairs, dead = _split(list(csc_readers.iter_parallel_pairs(correct, wrong, "c.txt", "w.txt")))
    assert [(p.wrong, p.correct, p.key) for p in pairs] == [("我再家", "我在家", "c.txt:1"),
                                                          ("他再学校", "他在学校", "c.txt:2")]
    assert len(dead) == 1 and dead[0].line == 4 and dead[0].reason.startswith("unpaired line")


SGML = """<SENTENCE>
   <TEXT>我再家里看书，他再学校。</TEXT>
    <MISTAKE>
        <LOCATION>2</LOCATION>
        <WRONG>再</WRONG>
        <CORRECTION>在</CORRECTION>
    </MISTAKE>
    <MISTAKE>
        <LOCATION>9</LOCATION>
        <WRONG>再</WRONG>
        <CORRECTION>在</CORRECTION>
    </MISTAKE>
</SENTENCE>
<SENTENCE>
   <TEXT>没有错误的句子。</TEXT>
</SENTENCE>
<SENTENCE>
   <TEXT>位置不对。</TEXT>
    <MISTAKE>
        <LOCATION>1</LOCATION>
        <WRONG>对</WRONG>
        <CORRECTION>队</CORRECTION>
    </MISTAKE>
</SENTENCE>
"""

ESSAY_SGML = """<ESSAY title="t">
<TEXT>
<PASSAGE id="A1">我再家。</PASSAGE>
<PASSAGE id="A2">你好。</PASSAGE>
</TEXT>
<MISTAKE id="A1" location="2">
<WRONG>再</WRONG>
<CORRECTION>在</CORRECTION>
</MISTAKE>
</ESSAY>
"""


def test_sgml_sentences_apply_every_mistake_and_dead_letter_mismatches():
    pairs, dead = _split(list(csc_readers.iter_sgml_pairs(_lines(SGML), "s.sgml")))
    assert [(p.wrong, p.correct, p.line) for p in pairs] == [
        ("我再家里看书，他再学校。", "我在家里看书，他在学校。", 1), ("没有错误的句子。", "没有错误的句子。", 14)]
    assert len(dead) == 1 and dead[0].line == 17
    assert dead[0].reason.startswith("SGML mistake mismatch: LOCATION 1 holds '位'")


def test_sgml_essay_layout():
    pairs, dead = _split(list(csc_readers.iter_sgml_pairs(_lines(ESSAY_SGML), "e.sgml")))
    assert dead == []
    assert [(p.wrong, p.correct) for p in pairs] == [("我再家。", "我在家。"), ("你好。", "你好。")]
    assert len({p.key for p in pairs}) == 2


def test_unterminated_sgml_block_is_a_dead_letter():
    pairs, dead = _split(list(csc_readers.iter_sgml_pairs(_lines("<SENTENCE>\n<TEXT>半句</TEXT>\n"), "u.sgml")))
    assert pairs == [] and dead[0].reason.startswith("bad SGML: unterminated block")


def test_format_detection():
    assert csc_readers.detect_format("x.sgml", None) == "sgml"
    assert csc_readers.detect_format("x.jsonl", None) == "jsonl"
    assert csc_readers.detect_format("x.txt", "3\t错\t对\n") == "faspell"
    assert csc_readers.detect_format("x.txt", "错\t对\n") == "tsv"
    assert csc_readers.detect_format("x.data", "<SENTENCE>\n") == "sgml"
    assert csc_readers.detect_format("x.data", '{"source": "a"}') == "jsonl"


def test_traditional_to_simplified_normalizer_is_off_by_default():
    assert make_normalizer(False)("學校") == "學校"
    assert make_normalizer(True)("我們在學校裡") == "我们在学校里"


# ---- the shared SIGHAN files, checked against an independent parse -----------------------------------

def _brute_force_sgml(path):
    text = open(path, encoding="utf-8").read()
    good, bad = [], 0
    for block in re.findall(r"<SENTENCE>(.*?)</SENTENCE>", text, re.S):
        sentence = re.search(r"<TEXT>(.*?)</TEXT>", block, re.S).group(1).strip()
        fixed = list(sentence)
        ok = True
        for location, wrong, correction in re.findall(
                r"<LOCATION>\s*(\d+)\s*</LOCATION>\s*<WRONG>(.*?)</WRONG>\s*<CORRECTION>(.*?)</CORRECTION>", block, re.S):
            index = int(location) - 1
            if not 0 <= index < len(sentence) or sentence[index] != wrong.strip():
                ok = False
                break
            fixed[index] = correction.strip()
        if ok:
            good.append((sentence, "".join(fixed)))
        else:
            bad += 1
    return good, bad


@pytest.mark.parametrize("name", ["sighan15_train.sgml", "sighan14_train.sgml"])
def test_shared_sgml_files_match_an_independent_parse(name, shared_csc):
    path = os.path.join(shared_csc, name)
    pairs, dead = _split(list(csc_readers.iter_file_pairs(path)))
    expected, bad = _brute_force_sgml(path)
    assert [(p.wrong, p.correct) for p in pairs] == expected
    assert len(dead) == bad
    assert all(d.reason.startswith("SGML mistake mismatch") for d in dead)


def test_shared_tsv_matches_an_independent_parse(shared_csc):
    path = os.path.join(shared_csc, "sighan15_train.tsv")
    pairs, dead = _split(list(csc_readers.iter_file_pairs(path)))
    with open(path, encoding="utf-8") as handle:
        expected = [tuple(field.strip() for field in line.rstrip("\n").split("\t")) for line in handle if line.strip()]
    assert dead == []
    assert [(p.wrong, p.correct) for p in pairs] == expected
    assert len(pairs) == 2338
