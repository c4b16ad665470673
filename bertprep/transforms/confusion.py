"""Ranked confusion sets: for a correct character, the characters people are likely to write instead.

Three sources, each optional (`--sources phonetic,glyph,observed`):
- phonetic: similarity of pypinyin readings (see `phonetic.py`),
- glyph: similarity of character structure (see `glyph.py`),
- observed: how often the character was written as the candidate in the wrong corpus.

A candidate's score is a weighted sum of the source scores plus a frequency prior (common characters
are the ones people actually write by mistake; rare look-alikes are not), and the set is cut at
`top_k` and at `min_score`. Weights default to values chosen on training data only
(`benchmarks/confusion_coverage.py`).
"""
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

SOURCES = ("phonetic", "glyph", "observed")


@dataclass(frozen=True)
class ConfusionWeights:
    """Weights of the score terms; a term whose source is not enabled contributes nothing."""

    phonetic: float = 1.0
    glyph: float = 0.6
    observed: float = 2.0
    frequency: float = 0.8
    # Observed counts saturate: count / (count + observed_half) reaches 0.5 at `observed_half`.
    observed_half: float = 1.0
    # A candidate needs at least this score to enter a set.
    min_score: float = 0.0

    @classmethod
    def parse(cls, text: Optional[str]) -> "ConfusionWeights":
        """From `phonetic=1,glyph=0.5,...` (the --weights option); unknown names are an error."""
        if not text:
            return cls()
        values = {}
        known = set(cls.__dataclass_fields__)
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in known:
                raise ValueError(f"bad weight {item!r}: expected NAME=NUMBER with NAME in {', '.join(sorted(known))}")
            try:
                values[name] = float(value)
            except ValueError:
                raise ValueError(f"bad weight {item!r}: {value!r} is not a number") from None
        return cls(**values)


@dataclass
class ScoredCandidate:
    candidate: str
    score: float
    phonetic: float = 0.0
    glyph: float = 0.0
    observed: int = 0
    same_pinyin: bool = False
    sources: List[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """The sources that found this candidate, `+`-joined in a fixed order (e.g. `phonetic+observed`)."""
        return "+".join(s for s in SOURCES if s in self.sources)


def parse_sources(text: str) -> List[str]:
    sources = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"bad --sources {text!r}: expected a comma-separated subset of {', '.join(SOURCES)}")
    return [s for s in SOURCES if s in sources]


def jieba_char_frequency() -> Dict[str, float]:
    """Character frequencies summed over the word frequencies of jieba's dictionary (shipped, offline)."""
    import jieba  # its dict.txt is a plain frequency list; we only read the file

    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    counts: Counter = Counter()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split(" ")
            if len(parts) < 2:
                continue
            try:
                frequency = int(parts[1])
            except ValueError:
                continue
            for char in parts[0]:
                counts[char] += frequency
    return dict(counts)


class FrequencyPrior:
    """log-frequency of a character scaled to 0..1 over the characters given."""

    def __init__(self, frequencies: Mapping[str, float]):
        self.frequencies = dict(frequencies)
        top = max(self.frequencies.values(), default=0.0)
        self.log_top = math.log1p(top) if top > 0 else 1.0

    def __call__(self, char: str) -> float:
        return math.log1p(self.frequencies.get(char, 0.0)) / self.log_top


def merge_frequencies(*tables: Mapping[str, float]) -> Dict[str, float]:
    """Sum several frequency tables after scaling each to the same total (so neither dominates)."""
    merged: Counter = Counter()
    for table in tables:
        total = float(sum(table.values()))
        if total <= 0:
            continue
        for char, value in table.items():
            merged[char] += value / total * 1e9
    return dict(merged)


class ConfusionScorer:
    """Scores candidates for one character from the enabled sources; indexes are built by the caller."""

    def __init__(self, sources: Sequence[str], weights: ConfusionWeights, prior: FrequencyPrior,
                 phonetic_index=None, glyph_index=None, universe: Optional[Iterable[str]] = None):
        self.sources = list(sources)
        self.weights = weights
        self.prior = prior
        self.phonetic_index = phonetic_index if "phonetic" in self.sources else None
        self.glyph_index = glyph_index if "glyph" in self.sources else None
        self.universe = set(universe) if universe is not None else None

    def observed_score(self, count: int) -> float:
        return count / (count + self.weights.observed_half) if count > 0 else 0.0

    def score_candidates(self, char: str, observed: Optional[Mapping[str, int]] = None,
                         top_k: Optional[int] = None) -> List[ScoredCandidate]:
        """Ranked candidates for `char`, best first; ties broken by code point so order is stable."""
        found: Dict[str, ScoredCandidate] = {}

        def entry(candidate: str) -> ScoredCandidate:
            if candidate not in found:
                found[candidate] = ScoredCandidate(candidate, 0.0)
            return found[candidate]

        if self.phonetic_index is not None:
            from .phonetic import same_syllable

            for candidate, value in self.phonetic_index.candidates(char).items():
                item = entry(candidate)
                item.phonetic = value
                item.same_pinyin = same_syllable(char, candidate)
                item.sources.append("phonetic")
        if self.glyph_index is not None:
            for candidate, value in self.glyph_index.candidates(char).items():
                item = entry(candidate)
                item.glyph = value
                item.sources.append("glyph")
        if "observed" in self.sources and observed:
            for candidate, count in observed.items():
                if candidate == char or count <= 0:
                    continue
                item = entry(candidate)
                item.observed = int(count)
                item.sources.append("observed")
        w = self.weights
        ranked = []
        for item in found.values():
            item.score = (w.phonetic * item.phonetic + w.glyph * item.glyph
                          + w.observed * self.observed_score(item.observed)
                          + w.frequency * self.prior(item.candidate))
            if item.score >= w.min_score:
                ranked.append(item)
        ranked.sort(key=lambda c: (-c.score, ord(c.candidate[0]), c.candidate))
        return ranked[:top_k] if top_k else ranked


def load_published_confusion_set(lines: Iterable[str]) -> Dict[str, List[str]]:
    """A `correct:candidates` confusion file (one character, a colon, the candidate characters)."""
    table: Dict[str, List[str]] = {}
    for line in lines:
        line = line.strip()
        if not line or ":" not in line:
            continue
        char, _, candidates = line.partition(":")
        char = char.strip()
        if len(char) != 1:
            continue
        table.setdefault(char, [])
        for candidate in candidates.strip():
            if candidate != char and candidate not in table[char]:
                table[char].append(candidate)
    return table
