"""Per-character error statistics and the two mask-probability definitions.

FASPell (iqiyi/FASPell, `create_data.py`) masks a character with probability
`min(top confusion count / unchanged count, 1)`, keyed by the character as it appears on the *wrong*
side: the top confusion count of `w` is the largest number of times `w` was written for any one
correct character, and its unchanged count is the number of positions where `w` stands for itself.
FASPell counts "unchanged" over the training text it writes out, which holds, for every pair, the
pair itself, a `correct/correct` copy when the pair has an error, and for a pair with `n >= 2` errors
`n - 1` partially corrected copies (copy `i` corrects `i` errors picked at random). Characters whose
unchanged count is zero are left out of its table. `faspell_unchanged_counts` reproduces that count
(the random picks come from a generator seeded by the job seed and the pair's key, so runs repeat);
`--faspell-counting pairs` counts unchanged positions in the input pairs only.

The smoothed per-character error rate is `(errors(c) + alpha * r0) / (count(c) + alpha)`, keyed by
the *correct* character, with `errors(c)` the times `c` was written as another character,
`count(c)` its occurrences on the correct side and `r0` the corpus-wide rate.
"""
import io
import random
from collections import Counter
from typing import Dict, Iterable, Optional, Tuple

# CHAR_STAT_FIELDS: the per-character counters' order, a column layout of the char_stats table.
from bertprep.schemas.tables import CHAR_STAT_FIELDS
from bertprep.transforms.tokenization.wordpiece import is_cjk_char

from .alignment import Alignment

FASPELL_COUNTING = ("augmented", "pairs")
DEFAULT_ALPHA = 10.0


def vocabulary_characters(lines_or_path) -> set:
    """Single CJK characters of a WordPiece vocabulary (`中` and `##中` both give 中)."""
    if isinstance(lines_or_path, str):
        from bertprep.io import fs

        return vocabulary_characters(io.StringIO(fs.read_text(lines_or_path, "vocabulary")))
    chars = set()
    for line in lines_or_path:
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        token = line.strip()
        if token.startswith("##"):
            token = token[2:]
        if is_cjk_char(token):
            chars.add(token)
    return chars


def faspell_unchanged_counts(alignment: Alignment, rng: random.Random) -> Counter:
    """Unchanged positions per character over FASPell's augmented copies of one pair (module doc)."""
    counts = Counter(alignment.unchanged)
    if alignment.correct == alignment.wrong:
        return counts
    counts.update(alignment.correct)  # the correct/correct copy
    substitutions = alignment.substitutions
    errors = len(substitutions)
    for corrected in range(1, errors):  # only when errors >= 2
        picked = rng.sample(range(errors), corrected)
        counts.update(alignment.unchanged)
        counts.update(substitutions[k].correct for k in picked)
    return counts


def pair_char_counts(alignment: Alignment, rng: Optional[random.Random] = None) -> Dict[str, Tuple[int, ...]]:
    """Per-character counter vectors (CHAR_STAT_FIELDS order) for one aligned pair."""
    vectors: Dict[str, list] = {}

    def bump(char: str, field: int, amount: int = 1) -> None:
        vector = vectors.get(char)
        if vector is None:
            vector = vectors[char] = [0] * len(CHAR_STAT_FIELDS)
        vector[field] += amount

    for char, n in Counter(alignment.correct).items():
        bump(char, 0, n)
    for char, n in Counter(alignment.unchanged).items():
        bump(char, 1, n)
    for sub in alignment.substitutions:
        bump(sub.correct, 2)
        bump(sub.wrong, 3)
    for char in alignment.deletions:
        bump(char, 4)
    for char in alignment.insertions:
        bump(char, 5)
    faspell = faspell_unchanged_counts(alignment, rng or random.Random(0))
    for char, n in faspell.items():
        bump(char, 6, n)
    return {char: tuple(vector) for char, vector in vectors.items()}


def add_vectors(vectors: Iterable[Tuple[int, ...]]) -> Tuple[int, ...]:
    total = [0] * len(CHAR_STAT_FIELDS)
    for vector in vectors:
        for i, value in enumerate(vector):
            total[i] += value
    return tuple(total)


def faspell_probability(top_confusion_count: int, unchanged_count: int) -> Optional[float]:
    """min(top / unchanged, 1); None (left out of FASPell's table) when either count is zero."""
    if top_confusion_count <= 0 or unchanged_count <= 0:
        return None
    return min(top_confusion_count / unchanged_count, 1.0)


def corpus_error_rate(total_errors: int, total_count: int) -> float:
    return total_errors / total_count if total_count > 0 else 0.0


def smoothed_probability(errors: int, count: int, alpha: float, r0: float) -> float:
    """(errors + alpha*r0) / (count + alpha); r0 when the character was never seen."""
    if count + alpha <= 0:
        return r0
    return (errors + alpha * r0) / (count + alpha)


# The rows of the mask-probs tables (their files: bertprep/io/formats/mask_probs_tables.py).
def char_stats_row(char, vector):
    return dict(zip(("char",) + CHAR_STAT_FIELDS, (char,) + tuple(vector)))


def confusion_pairs_row(pair, count):
    return {"correct": pair[0], "wrong": pair[1], "count": count}


def totals_stats(total):
    names = ("pairs", "substitutions", "deletions", "insertions", "unequal_length_pairs")
    return dict(zip(names, total))
