"""Character alignment of a wrong sentence against its correct sentence.

Spelling-correction corpora are mostly equal-length pairs (one character replaced by another),
which align position by position. Some pairs also drop or add characters; for those a true
minimum-edit alignment (rapidfuzz's Levenshtein opcodes) is used, so that a missing character
shows up as one deletion instead of a run of bogus substitutions after it. Only 1:1 substitutions
count as confusions; insertions and deletions are counted apart.
"""
from dataclasses import dataclass, field
from typing import List

from rapidfuzz.distance import Levenshtein

# Default: a pair where more than this share of the correct sentence was edited is not a
# spelling-error pair (mis-aligned lines, a different sentence) and goes to the dead letters.
DEFAULT_MAX_EDIT_RATE = 0.5


@dataclass(frozen=True)
class Substitution:
    """The correct character at `position` (0-based, in the correct sentence) was written `wrong`."""

    position: int
    correct: str
    wrong: str


@dataclass
class Alignment:
    """What happened to every character of the correct sentence.

    `unchanged` lists the correct-side characters written as themselves (one entry per position);
    `deletions` the correct-side characters missing from the wrong sentence; `insertions` the
    wrong-side characters with no counterpart in the correct sentence.
    """

    correct: str
    wrong: str
    substitutions: List[Substitution] = field(default_factory=list)
    unchanged: List[str] = field(default_factory=list)
    deletions: List[str] = field(default_factory=list)
    insertions: List[str] = field(default_factory=list)
    equal_length: bool = True

    @property
    def edit_count(self) -> int:
        return len(self.substitutions) + len(self.deletions) + len(self.insertions)

    @property
    def edit_rate(self) -> float:
        """Edits per character of the correct sentence (the longer side when the correct one is empty)."""
        denominator = max(len(self.correct), 1) if self.correct else max(len(self.wrong), 1)
        return self.edit_count / denominator


class AlignmentError(ValueError):
    """A pair that cannot be used as a spelling-error example; the message is the dead-letter reason."""


def align(correct: str, wrong: str) -> Alignment:
    """Align `wrong` against `correct` (no threshold check; see `align_checked`)."""
    if len(correct) == len(wrong):
        return _align_equal_length(correct, wrong)
    return _align_min_edit(correct, wrong)


def align_checked(correct: str, wrong: str, max_edit_rate: float = DEFAULT_MAX_EDIT_RATE) -> Alignment:
    """Align and refuse empty pairs and pairs edited beyond `max_edit_rate` (raises AlignmentError)."""
    if not correct and not wrong:
        raise AlignmentError("empty pair: both sentences are empty")
    if not correct:
        raise AlignmentError("empty pair: the correct sentence is empty")
    if not wrong:
        raise AlignmentError("empty pair: the wrong sentence is empty")
    alignment = align(correct, wrong)
    if alignment.edit_rate > max_edit_rate:
        raise AlignmentError(
            f"edit rate over threshold: {alignment.edit_rate:.3f} > {max_edit_rate} "
            f"({len(alignment.substitutions)} substitutions, {len(alignment.deletions)} deletions, "
            f"{len(alignment.insertions)} insertions in {len(correct)} characters)"
        )
    return alignment


def _align_equal_length(correct: str, wrong: str) -> Alignment:
    result = Alignment(correct=correct, wrong=wrong, equal_length=True)
    for position, (c, w) in enumerate(zip(correct, wrong)):
        if c == w:
            result.unchanged.append(c)
        else:
            result.substitutions.append(Substitution(position, c, w))
    return result


def _align_min_edit(correct: str, wrong: str) -> Alignment:
    result = Alignment(correct=correct, wrong=wrong, equal_length=False)
    for op in Levenshtein.opcodes(correct, wrong):
        c_part = correct[op.src_start:op.src_end]
        w_part = wrong[op.dest_start:op.dest_end]
        if op.tag == "equal":
            result.unchanged.extend(c_part)
        elif op.tag == "replace":
            # Levenshtein opcodes only emit equal-length replace blocks; guard anyway.
            for offset, (c, w) in enumerate(zip(c_part, w_part)):
                result.substitutions.append(Substitution(op.src_start + offset, c, w))
            result.deletions.extend(c_part[len(w_part):])
            result.insertions.extend(w_part[len(c_part):])
        elif op.tag == "delete":
            result.deletions.extend(c_part)
        elif op.tag == "insert":
            result.insertions.extend(w_part)
    return result
