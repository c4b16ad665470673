"""Ranked confusion sets: for a correct character, the characters people are likely to write instead.

Three sources, each optional (`--sources phonetic,glyph,observed`):
- phonetic: similarity of pypinyin readings (see `phonetic.py`),
- glyph: similarity of character structure (see `glyph.py`),
- observed: how often the character was written as the candidate in the wrong corpus.

A candidate's score estimates P(wrong = candidate | correct = char, an error): see ConfusionModel.
Once fitted on a corpus's confusion pairs (`fit_mixture`), candidates come from broad pools ranked by
a learned conditional logit (`confusion_ranker.py`); before that, and with `ranker=0`, from a
hand-set mixture of similarity neighbourhoods whose weights are fitted on the same pairs. The set is
cut at `top_k` (or at a per-character size when `mean_size` is set) and at `min_score`.
"""
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from . import confusion_ranker

SOURCES = ("phonetic", "glyph", "observed")
# Mixture components of the candidate model, with the source each belongs to.
COMPONENTS = ("same_syllable_tone", "same_syllable", "fuzzy_pinyin", "near_pinyin", "glyph", "other")
COMPONENT_SOURCE = {"same_syllable_tone": "phonetic", "same_syllable": "phonetic", "fuzzy_pinyin": "phonetic",
                    "near_pinyin": "phonetic", "glyph": "glyph", "other": None}
# Mixture weights estimated by `fit_mixture` on the train part of the shared SIGHAN data
# (benchmarks/confusion_coverage.py --tune); used as the Dirichlet prior of every fit.
DEFAULT_MIXTURE = {"same_syllable_tone": 0.51, "same_syllable": 0.225, "fuzzy_pinyin": 0.099, "near_pinyin": 0.072,
                   "glyph": 0.041, "other": 0.053}
GLYPH_THRESHOLD = 0.3


@dataclass(frozen=True)
class ConfusionWeights:
    """Knobs of the candidate model (the `--weights` option).

    phonetic, glyph: multiply the fitted mixture weights of the phonetic components and of the glyph
    component; observed: multiplies the corpus's own confusion counts (0 ignores them); frequency: the
    exponent of a candidate's corpus frequency; glyph_similarity: the exponent of glyph similarity
    inside the glyph component; prior_strength: pseudo-count of the model against observed counts;
    near_limit: how many of the most frequent members of each same-initial / same-final group are
    candidates; min_score: the least probability a candidate needs.
    ranker: 1 ranks with the learned ranker once fitted, 0 keeps the mixture; group_limit: how many
    of the most frequent characters per initial / final / first letter enter the ranker's pools;
    ranker_l2: its L2 penalty. mean_size: when > 0, per-character set sizes (more candidates for
    characters that err often) averaging mean_size over the universe, between min_size and max_size;
    0 keeps `top_k` for every character.
    """

    phonetic: float = 1.0
    glyph: float = 1.0
    observed: float = 1.0
    frequency: float = 0.8
    glyph_similarity: float = 2.0
    prior_strength: float = 3.0
    near_limit: float = 40
    min_score: float = 0.0
    ranker: float = 1.0
    group_limit: float = 60
    ranker_l2: float = 3.0
    mean_size: float = 0.0
    min_size: float = 3
    max_size: float = 200

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
            if values[name] < 0:
                raise ValueError(f"bad weight {item!r}: weights are not negative")
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


def merge_frequencies(*tables: Mapping[str, float]) -> Dict[str, float]:
    """Sum frequency tables after scaling each to one million (so neither dominates)."""
    merged: Counter = Counter()
    for table in tables:
        total = float(sum(table.values()))
        if total <= 0:
            continue
        for char, value in table.items():
            merged[char] += value / total * 1e6
    return dict(merged)


class ConfusionModel:
    """P(wrong = w | correct = c, an error happened): a mixture over similarity neighbourhoods.

    Inside each neighbourhood of `c` (same syllable and tone, same syllable, one fuzzy edit, same
    initial or final, similar glyph) a candidate gets mass in proportion to its frequency raised to
    `weights.frequency` (for glyphs also times similarity**`weights.glyph_similarity`); the
    neighbourhoods are mixed with weights fitted by EM on the corpus's own confusion pairs
    (`fit_mixture`). Observed counts are then combined as a Dirichlet-smoothed estimate:
    `(m*n(c,w) + k*P_model(w|c)) / (m*n(c) + k)` with `m = weights.observed`, `k = weights.prior_strength`.
    """

    def __init__(self, universe: Iterable[str], frequencies: Mapping[str, float], sources: Sequence[str],
                 weights: ConfusionWeights, phonetic_index=None, glyph_index=None,
                 mixture: Optional[Mapping[str, float]] = None):
        self.universe = sorted(set(universe))
        self.sources = list(sources)
        self.weights = weights
        self.phonetic_index = phonetic_index if "phonetic" in self.sources else None
        self.glyph_index = glyph_index if "glyph" in self.sources else None
        beta = weights.frequency
        # Frequencies per million, floored so unseen characters keep a little mass.
        self.mass = {c: (frequencies.get(c, 0.0) + 0.05) ** beta for c in self.universe}
        self.total_mass = sum(self.mass.values()) or 1.0
        self._group_cache: Dict[tuple, tuple] = {}
        self._glyph_cache: Dict[str, tuple] = {}
        frequency_total = sum(frequencies.get(c, 0.0) for c in self.universe) or 1.0
        self.frequency_share = {c: frequencies.get(c, 0.0) / frequency_total for c in self.universe}
        self._frequencies = frequencies
        self._pools = None
        self.theta = None  # learned ranker weights (numpy), set by fit_mixture or the mixture setter
        self.size_scale = 0.0
        self.total_errors = 0.0
        self.mixture = dict(mixture or DEFAULT_MIXTURE)

    # -- fitted state --------------------------------------------------------------------------------
    @property
    def mixture(self) -> Dict[str, float]:
        """The fitted state as one flat JSON-able dict: mixture weights, `ranker.<feature>`, `size.*`."""
        state = dict(self._mixture)
        if self.theta is not None:
            state.update({"ranker." + name: float(v) for name, v in zip(confusion_ranker.FEATURE_NAMES, self.theta)})
        if self.size_scale:
            state.update({"size.scale": self.size_scale, "size.total_errors": self.total_errors})
        return state

    @mixture.setter
    def mixture(self, state: Mapping[str, float]) -> None:
        self._mixture = {k: float(v) for k, v in state.items() if "." not in k}
        ranker = {k[len("ranker."):]: float(v) for k, v in state.items() if k.startswith("ranker.")}
        if ranker:
            self.theta = np.array([ranker.get(name, 0.0) for name in confusion_ranker.FEATURE_NAMES])
        self.size_scale = float(state.get("size.scale", 0.0))
        self.total_errors = float(state.get("size.total_errors", 0.0))

    def pools(self) -> "confusion_ranker.CandidatePools":
        if self._pools is None:
            self._pools = confusion_ranker.CandidatePools(
                self.universe, self._frequencies, self.sources, self.phonetic_index, self.glyph_index,
                group_limit=int(self.weights.group_limit))
        return self._pools

    def fit_ranker(self, pair_counts: Mapping[tuple, int]) -> None:
        """Fit the ranker's weights on the pairs and, with mean_size, the set-size scale."""
        counts = confusion_ranker.ErrorCounts(pair_counts)
        groups, _ = confusion_ranker.training_groups(self.pools(), counts)
        self.theta = confusion_ranker.fit_conditional_logit(groups, l2=self.weights.ranker_l2)
        self.total_errors = float(sum(sum(o.values()) for o in counts.pairs.values()))
        self.size_scale = 0.0
        if self.weights.mean_size > 0:
            expected = [self._expected_errors(c, counts.observed(c)) for c in self.universe]
            self.size_scale = confusion_ranker.solve_size_scale(
                expected, self.weights.mean_size, int(self.weights.min_size), int(self.weights.max_size))

    def _expected_errors(self, char: str, observed: Optional[Mapping[str, int]]) -> float:
        errors = sum(n for w, n in (observed or {}).items() if w != char)
        return confusion_ranker.expected_errors(errors, self.frequency_share.get(char, 0.0), self.total_errors)

    def set_size(self, char: str, observed: Optional[Mapping[str, int]], top_k: Optional[int]) -> Optional[int]:
        """How many candidates `char` gets: per-character when mean_size is set and fitted, else top_k."""
        if self.weights.mean_size > 0 and self.size_scale > 0:
            return confusion_ranker.set_size(self._expected_errors(char, observed), self.size_scale,
                                             int(self.weights.min_size), int(self.weights.max_size))
        return top_k

    # -- neighbourhoods ------------------------------------------------------------------------------
    def _mass(self, char: str) -> float:
        return self.mass.get(char, 0.05 ** self.weights.frequency)

    def _near_group(self, group: tuple) -> tuple:
        """(total mass, members sorted by mass, as a set) of a same-initial or same-final group."""
        if group not in self._group_cache:
            members = self.phonetic_index.group(group)
            ranked = sorted(members, key=lambda c: (-self._mass(c), c))
            self._group_cache[group] = (sum(self._mass(c) for c in members), ranked, set(members))
        return self._group_cache[group]

    def _glyph(self, char: str) -> tuple:
        """({candidate: similarity}, total glyph mass) for a character."""
        if char not in self._glyph_cache:
            similar = self.glyph_index.candidates(char, GLYPH_THRESHOLD) if self.glyph_index else {}
            gamma = self.weights.glyph_similarity
            total = sum(self._mass(c) * s ** gamma for c, s in similar.items())
            self._glyph_cache[char] = (similar, total)
        return self._glyph_cache[char]

    def components(self, char: str, candidate: Optional[str] = None) -> Dict[str, Dict[str, float]]:
        """{component: {candidate: probability inside the component}}; one candidate only if given."""
        result: Dict[str, Dict[str, float]] = {}
        tight_members = set()
        if self.phonetic_index is not None:
            for name, members in self.phonetic_index.neighbourhoods(char).items():
                tight_members |= set(members)
                total = sum(self._mass(c) * weight for c, weight in members.items())
                chosen = [candidate] if candidate is not None else members
                result[name] = {c: self._mass(c) * members[c] / total for c in chosen if c in members and total > 0}
            groups = [self._near_group(g) for g in self.phonetic_index.near_groups(char)]
            total = sum(g[0] for g in groups)
            near: Dict[str, float] = {}
            if total > 0:
                if candidate is not None:
                    if candidate not in tight_members and any(candidate in g[2] for g in groups):
                        near[candidate] = self._mass(candidate) / total
                else:
                    limit = int(self.weights.near_limit)
                    for _, ranked, _ in groups:
                        for c in ranked[:limit]:
                            if c != char and c not in tight_members:
                                near[c] = self._mass(c) / total
            result["near_pinyin"] = near
        if self.glyph_index is not None:
            similar, total = self._glyph(char)
            gamma = self.weights.glyph_similarity
            chosen = [candidate] if candidate is not None else similar
            result["glyph"] = {c: self._mass(c) * similar[c] ** gamma / total
                               for c in chosen if c in similar and total > 0}
        if candidate is not None and candidate != char:
            result["other"] = {candidate: self._mass(candidate) / self.total_mass}
        return result

    # -- mixture -------------------------------------------------------------------------------------
    def effective_mixture(self) -> Dict[str, float]:
        """Fitted weights scaled by the phonetic/glyph weights, only for enabled sources, summing to 1."""
        scaled = {}
        for name, value in self._mixture.items():
            source = COMPONENT_SOURCE.get(name)
            if source == "phonetic":
                value *= self.weights.phonetic if self.phonetic_index is not None else 0.0
            elif source == "glyph":
                value *= self.weights.glyph if self.glyph_index is not None else 0.0
            scaled[name] = value
        total = sum(scaled.values())
        return {k: v / total for k, v in scaled.items()} if total > 0 else scaled

    def fit_mixture(self, pair_counts: Mapping[tuple, int], iterations: int = 50,
                    prior_strength: float = 20.0) -> Dict[str, float]:
        """Fit on observed (correct, wrong) counts; returns the fitted state (see `mixture`).

        MAP-EM of the component weights with DEFAULT_MIXTURE as prior; then, unless `ranker=0`, the
        learned ranker and (with `mean_size`) the set-size scale.
        """
        likelihoods = []
        for (correct, wrong), count in sorted(pair_counts.items()):
            if correct == wrong or count <= 0:
                continue
            parts = {name: probs.get(wrong, 0.0) for name, probs in self.components(correct, wrong).items()}
            if any(parts.values()):
                likelihoods.append((parts, count))
        names = [n for n in COMPONENTS if n in DEFAULT_MIXTURE]
        mixture = dict(DEFAULT_MIXTURE)
        for _ in range(iterations):
            totals = {name: prior_strength * DEFAULT_MIXTURE[name] for name in names}
            for parts, count in likelihoods:
                weighted = {name: mixture[name] * parts.get(name, 0.0) for name in names}
                norm = sum(weighted.values())
                if norm <= 0:
                    continue
                for name in names:
                    totals[name] += count * weighted[name] / norm
            grand = sum(totals.values())
            mixture = {name: totals[name] / grand for name in names}
        self._mixture = mixture
        if self.weights.ranker > 0 and self.sources:
            self.fit_ranker(pair_counts)
        return self.mixture

    # -- scoring -------------------------------------------------------------------------------------
    def score_candidates(self, char: str, observed: Optional[Mapping[str, int]] = None,
                         top_k: Optional[int] = None) -> List[ScoredCandidate]:
        """Ranked candidates for `char`, best first; ties broken by code point so order is stable."""
        from .phonetic import char_similarity, same_syllable

        top_k = self.set_size(char, observed, top_k)
        if self.theta is not None and self.weights.ranker > 0:
            return self._ranked(char, observed, top_k)

        mixture = self.effective_mixture()
        model: Dict[str, float] = {}
        sources: Dict[str, set] = {}
        for name, probs in self.components(char).items():
            weight = mixture.get(name, 0.0)
            source = COMPONENT_SOURCE[name]
            for candidate, probability in probs.items():
                model[candidate] = model.get(candidate, 0.0) + weight * probability
                sources.setdefault(candidate, set()).add(source)
        use_observed = "observed" in self.sources and self.weights.observed > 0
        observed = {w: int(n) for w, n in (observed or {}).items() if w != char and n > 0} if use_observed else {}
        for candidate in observed:
            sources.setdefault(candidate, set()).add("observed")
        sources.pop(char, None)
        m, k = self.weights.observed, self.weights.prior_strength
        denominator = m * sum(observed.values()) + k
        if denominator <= 0:
            return []
        scored = []
        for candidate in sources:
            score = (m * observed.get(candidate, 0) + k * model.get(candidate, 0.0)) / denominator
            if score > 0 and score >= self.weights.min_score:
                scored.append((-score, candidate))
        scored.sort()
        if top_k:
            scored = scored[:top_k]
        ranked = [ScoredCandidate(candidate, -negative, observed=observed.get(candidate, 0),
                                  sources=[s for s in SOURCES if s in sources[candidate]])
                  for negative, candidate in scored]
        for item in ranked:
            item.phonetic = char_similarity(char, item.candidate)
            item.same_pinyin = same_syllable(char, item.candidate)
            if self.glyph_index is not None:
                item.glyph = self._glyph(char)[0].get(item.candidate, 0.0)
        return ranked

    def _ranked(self, char: str, observed: Optional[Mapping[str, int]], top_k: Optional[int]
                ) -> List[ScoredCandidate]:
        """The learned ranker's pool, scored `(m*n(c,w) + k*P_ranker(w|c)) / (m*n(c) + k)` as the mixture is."""
        from .phonetic import char_similarity, same_syllable

        use_observed = "observed" in self.sources and self.weights.observed > 0
        observed = ({w: int(n) for w, n in (observed or {}).items() if w != char and n > 0}
                    if use_observed else {})
        m, k = self.weights.observed, self.weights.prior_strength
        denominator = m * sum(observed.values()) + k
        scored = []
        for candidate, probability, row in confusion_ranker.rank(self.pools(), self.theta, char, observed):
            score = (m * observed.get(candidate, 0) + k * probability) / denominator if denominator > 0 else 0.0
            scored.append((score, candidate, row))
        scored.sort(key=lambda item: (-item[0], item[1]))
        result = []
        for score, candidate, row in scored:
            if top_k and len(result) >= top_k:
                break
            if score <= 0 or score < self.weights.min_score:
                break
            sources = []
            if self.phonetic_index is not None and confusion_ranker.is_phonetic(row):
                sources.append("phonetic")
            glyph_score = row[confusion_ranker.FEATURE_INDEX["glyph_similarity"]]
            if self.glyph_index is not None and glyph_score >= GLYPH_THRESHOLD:
                sources.append("glyph")
            count = observed.get(candidate, 0)
            if count:
                sources.append("observed")
            if not sources:  # in the pool through a looser relation (shared initial letter, low glyph overlap)
                sources.append("phonetic" if self.phonetic_index is not None else "glyph")
            result.append(ScoredCandidate(candidate, score, phonetic=char_similarity(char, candidate),
                                          glyph=float(glyph_score), observed=count,
                                          same_pinyin=same_syllable(char, candidate), sources=sources))
        return result


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
