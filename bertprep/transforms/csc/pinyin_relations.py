"""Pinyin relation features of one character against many candidates at once, with numpy.

The confusion ranker (`confusion_ranker.py`) needs, for every character of the universe and each of
its few hundred candidates, nine pinyin features: for each relation (same syllable and tone, same
syllable, one fuzzy edit, same initial, final, final core, first letter, tone) the weight of the most
common pair of readings holding it, and the best weighted syllable similarity. Done one reading pair at
a time in Python that was ~3.4 million candidate rows and nearly all of a `mask-probs` run.

Here every character's readings are stored once as small integer codes (toneless spelling, tone,
initial, final, final core, first letter) in padded arrays, one row per character, and the features of
a whole candidate list come from a handful of array comparisons per reading of the character. Each
value is computed with the same floating-point operations, in the same order, as the per-pair code in
`phonetic.py` (weight products, initial + final + tone costs, 1 − distance / 2, a maximum), so the
features are byte-identical to it.
"""
from typing import Dict, Sequence, Tuple

import numpy as np

from . import phonetic

RELATION_COUNT = 9  # FEATURE_NAMES[:9] of confusion_ranker: 8 relations and the pinyin similarity
_CODES = ("toneless", "tone", "initial", "final", "core", "letter")


def final_core(final: str) -> str:
    """A final without its medial glide (iang → ang, uan → an, van → an), so 演/员 and 忘/忙 relate."""
    if len(final) > 1 and final[0] in "iuv" and final not in ("in", "ing", "un", "vn", "iu", "ui"):
        return final[1:]
    return final


class ReadingCodes:
    """Every registered character's readings as integer codes in padded (characters × readings) arrays.

    Rows are added as characters are first seen (the universe up front, any outside candidate later);
    the arrays grow by doubling so a late character costs one row, not a rebuild.
    """

    def __init__(self, chars: Sequence[str] = ()):
        self._row: Dict[str, int] = {}
        self._names: Dict[str, Dict[str, int]] = {kind: {} for kind in ("toneless", "initial", "final", "core",
                                                                          "letter")}
        self._count = 0
        self._width = 1
        self._arrays = {kind: np.zeros((64, 1), dtype=np.int32) for kind in _CODES}
        # Per reading slot: 1.0 for the main reading, SECONDARY_READING_WEIGHT after it, 0.0 for padding.
        self._reading_weight = np.zeros((64, 1))
        self._cost_cache: Dict[Tuple[str, str, int], np.ndarray] = {}
        self.add(chars)

    def code(self, kind: str, name: str) -> int:
        names = self._names[kind]
        if name not in names:
            names[name] = len(names)
        return names[name]

    def _reading_codes(self, reading: phonetic.Syllable) -> Tuple[int, ...]:
        return (self.code("toneless", reading.toneless), reading.tone, self.code("initial", reading.initial),
                self.code("final", reading.final), self.code("core", final_core(reading.final)),
                self.code("letter", reading.toneless[0]))

    def _grow(self, rows: int, width: int) -> None:
        capacity = self._reading_weight.shape[0]
        if rows <= capacity and width <= self._width:
            return
        new_rows = max(capacity, 64)
        while new_rows < rows:
            new_rows *= 2
        new_width = max(width, self._width)
        for kind, array in self._arrays.items():
            grown = np.zeros((new_rows, new_width), dtype=np.int32)
            grown[:array.shape[0], :array.shape[1]] = array
            self._arrays[kind] = grown
        grown = np.zeros((new_rows, new_width))
        grown[:self._reading_weight.shape[0], :self._reading_weight.shape[1]] = self._reading_weight
        self._reading_weight = grown
        self._width = new_width

    def add(self, chars: Sequence[str]) -> None:
        new = [c for c in dict.fromkeys(chars) if c not in self._row]
        if not new:
            return
        readings = [phonetic.readings(c) for c in new]
        self._grow(self._count + len(new), max(len(r) for r in readings) or 1)
        for char, own in zip(new, readings):
            row = self._count
            self._row[char] = row
            self._count += 1
            for j, reading in enumerate(own):
                for kind, value in zip(_CODES, self._reading_codes(reading)):
                    self._arrays[kind][row, j] = value
                self._reading_weight[row, j] = 1.0 if j == 0 else phonetic.SECONDARY_READING_WEIGHT

    def rows(self, chars: Sequence[str]) -> np.ndarray:
        self.add(chars)
        row = self._row
        return np.fromiter((row[c] for c in chars), dtype=np.intp, count=len(chars))

    def gather(self, rows: np.ndarray) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
        """({code kind: (len(rows) × readings) codes}, reading weights) for the given rows."""
        return {kind: array[rows] for kind, array in self._arrays.items()}, self._reading_weight[rows]

    def costs(self, kind: str, name: str) -> np.ndarray:
        """initial_cost or final_cost of `name` against every code of `kind` so far (by code)."""
        names = self._names[kind]
        key = (kind, name, len(names))
        if key not in self._cost_cache:
            cost = phonetic.initial_cost if kind == "initial" else phonetic.final_cost
            table = np.zeros(len(names))
            for other, code in names.items():
                table[code] = cost(name, other)
            self._cost_cache[key] = table
        return self._cost_cache[key]


_TONE_COSTS: Dict[int, np.ndarray] = {}


def _tone_costs(tone: int) -> np.ndarray:
    """tone_cost(tone, t) for t in 0..5 (index by tone)."""
    if tone not in _TONE_COSTS:
        _TONE_COSTS[tone] = np.array([phonetic.tone_cost(tone, t) for t in range(6)])
    return _TONE_COSTS[tone]


def relation_features(codes: ReadingCodes, char: str, candidates: Sequence[str]) -> np.ndarray:
    """(len(candidates) × 9) pinyin features of `candidates` against `char` (zeros without readings):
    for each relation the weight of the most common reading pair holding it, then the best weighted
    syllable similarity, as `confusion_ranker.FEATURE_NAMES[:9]` order them. Compiled with numba when it
    is installed (a few hundred candidates make a numpy pass mostly call overhead), else numpy."""
    if _compiled_relations is None:
        return relation_features_numpy(codes, char, candidates)
    own = phonetic.readings(char)
    if not own or not candidates:
        return np.zeros((len(candidates), RELATION_COUNT))
    other, reading_weight = codes.gather(codes.rows(candidates))
    own_codes = np.array([codes._reading_codes(a) for a in own], dtype=np.int32)
    toneless_codes = codes._names["toneless"]
    neighbours = np.zeros((len(own), len(toneless_codes) + 1), dtype=np.bool_)
    for i, a in enumerate(own):
        neighbours[i, [toneless_codes[key] for key in phonetic.neighour_keys_cached(a) if key in toneless_codes]] = True
    own_weight = np.array([1.0 if i == 0 else phonetic.SECONDARY_READING_WEIGHT for i in range(len(own))])
    initial_costs = np.stack([codes.costs("initial", a.initial) for a in own])
    final_costs = np.stack([codes.costs("final", a.final) for a in own])
    tone_costs = np.stack([_tone_costs(a.tone) for a in own])
    return _compiled_relations(own_codes, own_weight, neighbours, initial_costs, final_costs, tone_costs,
                               other["toneless"], other["tone"], other["initial"], other["final"], other["core"],
                               other["letter"], reading_weight)


def _relations_kernel(own_codes, own_weight, neighbours, initial_costs, final_costs, tone_costs,
                      toneless, tone, initial, final, core, letter, reading_weight):
    """The per-pair loop of relation_features over code arrays, for numba: `own_codes` rows are
    (toneless, tone, initial, final, core, letter) of each reading of the character."""
    count, width = toneless.shape
    best = np.zeros((count, RELATION_COUNT))
    holds = np.zeros(8, dtype=np.bool_)
    for r in range(count):
        for i in range(own_codes.shape[0]):
            for j in range(width):
                if reading_weight[r, j] == 0.0:  # padding after the candidate's last reading
                    break
                weight = own_weight[i] * reading_weight[r, j]
                same_syllable = toneless[r, j] == own_codes[i, 0]
                same_tone = tone[r, j] == own_codes[i, 1]
                holds[0] = same_syllable and same_tone
                holds[1] = same_syllable
                holds[2] = (not same_syllable) and neighbours[i, toneless[r, j]]
                holds[3] = initial[r, j] == own_codes[i, 2]
                holds[4] = final[r, j] == own_codes[i, 3]
                holds[5] = core[r, j] == own_codes[i, 4]
                holds[6] = letter[r, j] == own_codes[i, 5]
                holds[7] = same_tone
                for k in range(8):
                    if holds[k] and weight > best[r, k]:
                        best[r, k] = weight
                distance = initial_costs[i, initial[r, j]] + final_costs[i, final[r, j]] + tone_costs[i, tone[r, j]]
                similarity = weight * max(0.0, 1.0 - distance / 2.0)
                if similarity > best[r, 8]:
                    best[r, 8] = similarity
    return best


try:
    import numba
except ImportError:  # relation_features falls back to numpy
    numba = None
_compiled_relations = numba.njit(cache=True, nogil=True)(_relations_kernel) if numba is not None else None


def relation_features_numpy(codes: ReadingCodes, char: str, candidates: Sequence[str]) -> np.ndarray:
    """`relation_features` with numpy array operations, one reading of `char` at a time (without numba)."""
    best = np.zeros((len(candidates), RELATION_COUNT))
    own = phonetic.readings(char)
    if not own or not candidates:
        return best
    other, reading_weight = codes.gather(codes.rows(candidates))
    width = max(1, int(np.count_nonzero(reading_weight.any(axis=0))))  # leave out padding no candidate uses
    if width < reading_weight.shape[1]:
        other = {kind: array[:, :width] for kind, array in other.items()}
        reading_weight = reading_weight[:, :width]
    toneless_codes = codes._names["toneless"]
    for i, a in enumerate(own):
        a_toneless, a_tone, a_initial, a_final, a_core, a_letter = codes._reading_codes(a)
        neighbours = np.zeros(len(toneless_codes) + 1, dtype=bool)
        neighbours[[toneless_codes[key] for key in phonetic.neighour_keys_cached(a) if key in toneless_codes]] = True
        weight = (1.0 if i == 0 else phonetic.SECONDARY_READING_WEIGHT) * reading_weight
        same_syllable = other["toneless"] == a_toneless
        same_tone = other["tone"] == a_tone
        relations = np.stack([
            same_syllable & same_tone,
            same_syllable,
            ~same_syllable & neighbours[other["toneless"]],
            other["initial"] == a_initial,
            other["final"] == a_final,
            other["core"] == a_core,
            other["letter"] == a_letter,
            same_tone,
        ], axis=2)
        np.maximum(best[:, :8], np.where(relations, weight[:, :, None], 0.0).max(axis=1), out=best[:, :8])
        distance = (codes.costs("initial", a.initial)[other["initial"]] + codes.costs("final", a.final)[other["final"]]
                    + _tone_costs(a.tone)[other["tone"]])
        similarity = weight * np.maximum(0.0, 1.0 - distance / 2.0)
        np.maximum(best[:, 8], similarity.max(axis=1), out=best[:, 8])
    return best
