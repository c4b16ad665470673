"""Alignment of wrong sentences against correct ones: substitutions vs insertions/deletions."""
import random

import pytest

from bertprep.transforms.csc.alignment import AlignmentError, align, align_checked
from oracles import substitution_pairs


def _levenshtein(a: str, b: str) -> int:
    """Plain dynamic-programming edit distance, independent of rapidfuzz."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_missing_character_is_one_deletion_not_substitutions():
    alignment = align(correct="我今天去了学校", wrong="我今天去学校")
    assert alignment.substitutions == []
    assert alignment.deletions == ["了"]
    assert alignment.insertions == []
    assert "".join(alignment.unchanged) == "我今天去学校"
    assert alignment.edit_count == 1


def test_extra_character_is_one_insertion():
    alignment = align(correct="我今天去学校", wrong="我今天去了学校")
    assert alignment.substitutions == []
    assert alignment.insertions == ["了"]
    assert alignment.deletions == []


def test_equal_length_pairs_align_position_by_position():
    alignment = align(correct="他在家里看书", wrong="他再家里看树")
    assert substitution_pairs(alignment) == [("在", "再"), ("书", "树")]
    assert [s.position for s in alignment.substitutions] == [1, 5]
    assert alignment.equal_length
    assert alignment.deletions == [] and alignment.insertions == []


def test_substitution_and_deletion_in_one_pair():
    alignment = align(correct="他在家里", wrong="他再家")
    assert substitution_pairs(alignment) == [("在", "再")]
    assert alignment.deletions == ["里"]
    assert sorted(alignment.unchanged) == sorted("他家")


def test_every_correct_character_is_accounted_for_and_the_edit_count_is_minimal():
    rng = random.Random(7)
    alphabet = "的地得在再是事时"
    for _ in range(300):
        correct = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
        wrong = list(correct)
        for _ in range(rng.randint(0, 3)):
            op = rng.choice("sid")
            position = rng.randrange(len(wrong) + 1)
            if op == "s" and position < len(wrong):
                wrong[position] = rng.choice(alphabet)
            elif op == "i":
                wrong.insert(position, rng.choice(alphabet))
            elif op == "d" and position < len(wrong) and len(wrong) > 1:
                del wrong[position]
        wrong = "".join(wrong)
        alignment = align(correct, wrong)
        assert len(alignment.unchanged) + len(alignment.substitutions) + len(alignment.deletions) == len(correct)
        assert len(alignment.unchanged) + len(alignment.substitutions) + len(alignment.insertions) == len(wrong)
        if len(correct) != len(wrong):
            assert alignment.edit_count == _levenshtein(correct, wrong)
        for sub in alignment.substitutions:
            assert correct[sub.position] == sub.correct and sub.correct != sub.wrong


def test_edit_rate_threshold_and_empty_pairs_are_refused_with_a_reason():
    with pytest.raises(AlignmentError, match="^edit rate over threshold: 0.750 > 0.5"):
        align_checked("今天天气", "明大天汽", max_edit_rate=0.5)
    assert align_checked("今天天气", "今大天汽", max_edit_rate=0.5).edit_count == 2
    with pytest.raises(AlignmentError, match="^empty pair"):
        align_checked("", "")
    with pytest.raises(AlignmentError, match="the wrong sentence is empty"):
        align_checked("今天", "")
