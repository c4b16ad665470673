"""Phonetic similarity of Chinese characters from pypinyin readings (all pronunciations, i.e. heteronyms).

A syllable is split into initial, final and tone. The distance between two syllables adds an
initial, a final and a tone cost; the usual fuzzy pairs (z/zh, c/ch, s/sh, l/n, f/h, r/l, an/ang,
en/eng, in/ing, ian/iang, uan/uang) and aspiration pairs (b/p, d/t, g/k, j/q, z/c, zh/ch), which
learners and speech recognisers confuse, cost less than other edits. Two characters are as similar
as their closest pair of readings.

Candidates are found through an index from toneless syllable to characters, looking up only the
syllables reachable by cheap edits, so building confusion sets never compares all pairs.
"""
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

from pypinyin import pinyin_dict

INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z",
            "c", "s")

# Initial pairs and final pairs that are cheap to confuse (both directions).
FUZZY_INITIALS = (("z", "zh"), ("c", "ch"), ("s", "sh"), ("l", "n"), ("f", "h"), ("r", "l"))
ASPIRATION_INITIALS = (("b", "p"), ("d", "t"), ("g", "k"), ("j", "q"), ("z", "c"), ("zh", "ch"))
FUZZY_FINALS = (("an", "ang"), ("en", "eng"), ("in", "ing"), ("ian", "iang"), ("uan", "uang"))

# Costs; a syllable pair's distance is initial + final + tone cost, and similarity is 1 - distance/2
# clipped at 0 (so a different initial *and* final is no longer similar).
COST_FUZZY_INITIAL = 0.25
COST_ASPIRATION = 0.4
COST_FUZZY_FINAL = 0.25
COST_OTHER = 1.0
COST_TONE = 0.15
COST_NEUTRAL_TONE = 0.05  # tone 5 (neutral) against a full tone

_TONE_MARKS = {"\u0304": 1, "\u0301": 2, "\u030c": 3, "\u0300": 4}

# Zero-initial spellings rewritten to their underlying finals (yi -> i, wu -> u, yu -> ü ...).
_Y_W_FINALS = {
    "yi": "i", "ya": "ia", "yan": "ian", "yang": "iang", "yao": "iao", "ye": "ie", "yin": "in", "ying": "ing",
    "yong": "iong", "you": "iou", "yo": "io", "yu": "v", "yuan": "van", "yue": "ve", "yun": "vn",
    "wu": "u", "wa": "ua", "wai": "uai", "wan": "uan", "wang": "uang", "wei": "uei", "wen": "uen",
    "weng": "ueng", "wo": "uo",
}


_APICAL_INITIALS = ("zh", "ch", "sh", "r", "z", "c", "s")


@dataclass(frozen=True)
class Syllable:
    """A Mandarin syllable: `toneless` is the pinyin spelling without tone (ü written v)."""

    toneless: str
    initial: str
    final: str
    tone: int  # 1-4, 5 for neutral


def parse_syllable(marked: str) -> Optional[Syllable]:
    """Parse a tone-marked pinyin syllable as pypinyin writes it (`zhōng`); None if it is not one."""
    tone = 5
    letters = []
    for ch in unicodedata.normalize("NFD", marked.strip().lower()):
        if ch in _TONE_MARKS:
            tone = _TONE_MARKS[ch]
        elif ch == "\u0308":  # diaeresis of ü
            if letters and letters[-1] == "u":
                letters[-1] = "v"
        elif "a" <= ch <= "z":
            letters.append(ch)
        else:
            return None
    toneless = "".join(letters)
    if not toneless:
        return None
    if toneless in _Y_W_FINALS:
        return Syllable(toneless, "", _Y_W_FINALS[toneless], tone)
    initial = ""
    for candidate in INITIALS:
        if toneless.startswith(candidate) and len(toneless) > len(candidate):
            initial = candidate
            break
    final = toneless[len(initial):]
    if initial in ("j", "q", "x") and final.startswith("u"):
        final = "v" + final[1:]  # ju = jü
    if final == "iu":
        final = "iou"
    elif final == "ui":
        final = "uei"
    elif final == "un" and initial not in ("j", "q", "x"):
        final = "uen"
    elif final == "i" and initial in _APICAL_INITIALS:
        final = "-i"  # the apical vowel of zhi/chi/shi/ri/zi/ci/si is not the i of bi/di/yi
    return Syllable(toneless, initial, final, tone)


@lru_cache(maxsize=None)
def readings(char: str) -> Tuple[Syllable, ...]:
    """Every reading pypinyin knows for a single character (heteronyms included); () when none."""
    if len(char) != 1:
        return ()
    raw = pinyin_dict.pinyin_dict.get(ord(char))
    if not raw:
        return ()
    parsed = (parse_syllable(item) for item in raw.split(","))
    return tuple(dict.fromkeys(s for s in parsed if s is not None))


def _pair_table(pairs: Iterable[Tuple[str, str]]) -> Dict[str, Set[str]]:
    table: Dict[str, Set[str]] = {}
    for a, b in pairs:
        table.setdefault(a, set()).add(b)
        table.setdefault(b, set()).add(a)
    return table


_FUZZY_INITIAL_TABLE = _pair_table(FUZZY_INITIALS)
_ASPIRATION_TABLE = _pair_table(ASPIRATION_INITIALS)
# Finals under zero initials are spelled i.../u...: fuzzy finals apply to both spellings.
_FUZZY_FINAL_TABLE = _pair_table(FUZZY_FINALS + (("uen", "ueng"), ("van", "vang")))


def initial_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if b in _FUZZY_INITIAL_TABLE.get(a, ()):
        return COST_FUZZY_INITIAL
    if b in _ASPIRATION_TABLE.get(a, ()):
        return COST_ASPIRATION
    return COST_OTHER


def final_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if b in _FUZZY_FINAL_TABLE.get(a, ()):
        return COST_FUZZY_FINAL
    return COST_OTHER


def tone_cost(a: int, b: int) -> float:
    if a == b:
        return 0.0
    if a == 5 or b == 5:
        return COST_NEUTRAL_TONE
    return COST_TONE


def syllable_distance(a: Syllable, b: Syllable) -> float:
    return initial_cost(a.initial, b.initial) + final_cost(a.final, b.final) + tone_cost(a.tone, b.tone)


def syllable_similarity(a: Syllable, b: Syllable) -> float:
    return max(0.0, 1.0 - syllable_distance(a, b) / 2.0)


def char_similarity(a: str, b: str) -> float:
    """Best similarity over all reading pairs; 0 when either character has no reading."""
    best = 0.0
    for ra in readings(a):
        for rb in readings(b):
            best = max(best, syllable_similarity(ra, rb))
    return best


def same_syllable(a: str, b: str) -> bool:
    """Whether the two characters share a toneless syllable in some reading (同音, tone ignored)."""
    return bool({r.toneless for r in readings(a)} & {r.toneless for r in readings(b)})


def _spelling(initial: str, final: str) -> Optional[str]:
    """The toneless spelling of an initial+final, inverting the normalisations of parse_syllable."""
    if not initial:
        for spelled, underlying in _Y_W_FINALS.items():
            if underlying == final:
                return spelled
        return final or None
    body = final
    if body == "-i":
        body = "i"
    if initial in ("j", "q", "x") and body.startswith("v"):
        body = "u" + body[1:]
    body = {"iou": "iu", "uei": "ui", "uen": "un"}.get(body, body)
    return initial + body


def neighbour_keys(syllable: Syllable, include_aspiration: bool = True) -> Set[str]:
    """Toneless spellings within one cheap edit (fuzzy initial, aspiration, fuzzy final) or two."""
    initials = {syllable.initial} | _FUZZY_INITIAL_TABLE.get(syllable.initial, set())
    if include_aspiration:
        initials |= _ASPIRATION_TABLE.get(syllable.initial, set())
    finals = {syllable.final} | _FUZZY_FINAL_TABLE.get(syllable.final, set())
    keys = set()
    for initial in initials:
        for final in finals:
            spelled = _spelling(initial, final)
            if spelled:
                keys.add(spelled)
    return keys


SECONDARY_READING_WEIGHT = 0.3


@lru_cache(maxsize=None)
def neighour_keys_cached(syllable: Syllable) -> FrozenSet[str]:
    return frozenset(neighbour_keys(syllable))


def _reading_weight(own, other, holds) -> float:
    best = 0.0
    for i, a in enumerate(own):
        for j, b in enumerate(other):
            weight = (1.0 if i == 0 else SECONDARY_READING_WEIGHT) * (1.0 if j == 0 else SECONDARY_READING_WEIGHT)
            if weight > best and holds(a, b):
                best = weight
    return best


class PhoneticIndex:
    """Characters of a universe indexed by syllable, toneless syllable, initial and final.

    Neighbourhoods of a character, from closest to loosest (each excludes the closer ones):
    `same_syllable_tone` (同音同调), `same_syllable` (同音异调), `fuzzy_pinyin` (one cheap edit: fuzzy
    initial/final or aspiration), `near_pinyin` (same initial or same final, the other part different).
    """

    def __init__(self, universe: Iterable[str]):
        self.by_syllable: Dict[str, List[str]] = {}
        self.by_tone: Dict[Tuple[str, int], List[str]] = {}
        self.by_initial: Dict[str, List[str]] = {}
        self.by_final: Dict[str, List[str]] = {}
        for char in sorted(set(universe)):
            for reading in readings(char):
                for table, key in ((self.by_syllable, reading.toneless), (self.by_tone, (reading.toneless, reading.tone)),
                                   (self.by_initial, reading.initial), (self.by_final, reading.final)):
                    bucket = table.setdefault(key, [])
                    if not bucket or bucket[-1] != char:
                        bucket.append(char)

    def neighbourhoods(self, char: str) -> Dict[str, Dict[str, float]]:
        """The three tight neighbourhoods: {name: {candidate: reading weight}}.

        The reading weight is 1 when the relation holds between the two characters' main readings
        (pypinyin lists the most common first) and SECONDARY_READING_WEIGHT per rare reading involved,
        so 台 (tái, rarely yí) is not a homophone of 一 as much as 以 is.
        """
        own = readings(char)
        tone = {c for r in own for c in self.by_tone.get((r.toneless, r.tone), ())}
        syllable = {c for r in own for c in self.by_syllable.get(r.toneless, ())} - tone
        fuzzy_keys: Set[str] = set()
        for reading in own:
            fuzzy_keys |= neighour_keys_cached(reading)
        fuzzy_keys -= {r.toneless for r in own}
        fuzzy = {c for key in fuzzy_keys for c in self.by_syllable.get(key, ())} - tone - syllable
        relations = (
            ("same_syllable_tone", tone, lambda a, b: a.toneless == b.toneless and a.tone == b.tone),
            ("same_syllable", syllable, lambda a, b: a.toneless == b.toneless),
            ("fuzzy_pinyin", fuzzy, lambda a, b: b.toneless in neighour_keys_cached(a)),
        )
        result = {}
        for name, members, holds in relations:
            members.discard(char)
            result[name] = {other: _reading_weight(own, readings(other), holds) for other in members}
        return result

    def near_groups(self, char: str) -> List[Tuple[str, str]]:
        """The ("initial", x) and ("final", y) groups a character's readings belong to."""
        groups = set()
        for reading in readings(char):
            if reading.initial:
                groups.add(("initial", reading.initial))
            groups.add(("final", reading.final))
        return sorted(groups)

    def group(self, group: Tuple[str, str]) -> List[str]:
        kind, key = group
        return (self.by_initial if kind == "initial" else self.by_final).get(key, [])

    def candidates(self, char: str, min_similarity: float = 0.0) -> Dict[str, float]:
        """Characters (other than `char`) in the tight neighbourhoods, with their similarity."""
        scores: Dict[str, float] = {}
        for members in self.neighbourhoods(char).values():
            for other in members:
                similarity = char_similarity(char, other)
                if similarity > min_similarity:
                    scores[other] = similarity
        return scores
