"""Ranked confusion sets: for a correct character, the characters people are likely to write instead.

Own sources, each optional (`--sources phonetic,glyph,observed`):
- phonetic: similarity of pypinyin readings (see `phonetic.py`),
- glyph: similarity of character structure (see `glyph.py`),
- observed: how often the character was written as the candidate in the wrong corpus;
and external confusion sets a team already has (`--confusion-file`, see `confusion_files.py`), each a
named source whose trust the ranker learns from the corpus.

A candidate's score estimates P(wrong = candidate | correct = char, an error): see ConfusionModel.
Once fitted on a corpus's confusion pairs (`fit_mixture`), candidates come from broad pools ranked by
a learned conditional logit (`confusion_ranker.py`); before that, and with `ranker=False`, from a
hand-set mixture of similarity neighbourhoods whose weights are fitted on the same pairs. The set is
cut at `top_k` (or at a per-character size when `mean_set_size` is set) and at `min_score`.
"""
import functools
import itertools
import os
from collections import Counter, OrderedDict
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
# Confusion masking's candidate kinds and the neighbourhoods (mixture components) each is drawn from.
KIND_COMPONENTS = {"same_pinyin": ("same_syllable_tone", "same_syllable"),
                   "similar_pinyin": ("fuzzy_pinyin", "near_pinyin"), "glyph": ("glyph",)}


@dataclass(frozen=True)
class ConfusionOptions:
    """How confusion sets are ranked and cut: one `mask-probs` option each (`--` + the name with dashes;
    bertprep/options/mask_probs.py says what each does). The `mixture_*` ones only matter with `ranker=False`."""

    ranker: bool = True
    observed_weight: float = 1.0
    prior_strength: float = 3.0
    min_score: float = 0.0
    pool_group_size: int = 60
    ranker_l2: float = 3.0
    mean_set_size: float = 0.0
    min_set_size: int = 3
    max_set_size: int = 200
    mixture_phonetic_weight: float = 1.0
    mixture_glyph_weight: float = 1.0
    mixture_frequency_exponent: float = 0.8
    mixture_glyph_exponent: float = 2.0
    mixture_near_limit: int = 40

    def validated(self) -> "ConfusionOptions":
        """Self, or ValueError naming the option that is out of range."""
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, bool) and value < 0:
                raise ValueError("--%s is %g; it cannot be negative" % (name.replace("_", "-"), value))
        if self.min_set_size > self.max_set_size:
            raise ValueError("--min-set-size %d is larger than --max-set-size %d" % (self.min_set_size,
                                                                                     self.max_set_size))
        return self


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
        """The sources that found this candidate, `+`-joined: own sources in a fixed order, then external
        sets in the order given (e.g. `phonetic+observed+external:confusion_ocr_asr.txt`)."""
        own = [s for s in SOURCES if s in self.sources]
        return "+".join(own + [s for s in self.sources if s not in SOURCES])


def parse_sources(text: str) -> List[str]:
    sources = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"bad --sources {text!r}: expected a comma-separated subset of {', '.join(SOURCES)}")
    return [s for s in SOURCES if s in sources]


@functools.lru_cache(maxsize=1)
def jieba_char_frequency() -> Dict[str, float]:
    """Character frequencies summed over the word frequencies of jieba's dictionary (shipped, offline); read
    once a process (mask-probs builds its model for the fit and again for the ranking). Do not modify it."""
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
    """P(wrong = w | correct = c, an error happened): a learned ranker, or a mixture over similarity neighbourhoods.

    The ranker (`confusion_ranker.py`) scores a broad pool by a conditional logit fitted on the corpus's
    pairs, with external confusion sets (`external`, a `confusion_files.ExternalSets`) as a second stage.
    The mixture (`options.ranker` False): inside each neighbourhood of `c` (same syllable and tone, same
    syllable, one fuzzy edit, same initial or final, similar glyph) a candidate gets mass in proportion
    to its frequency raised to `mixture_frequency_exponent` (for glyphs also times
    similarity**`mixture_glyph_exponent`); the neighbourhoods are mixed with weights fitted by EM on the
    corpus's own confusion pairs (`fit_mixture`). Either way observed counts are then combined as a
    Dirichlet-smoothed estimate `(m*n(c,w) + k*P_model(w|c)) / (m*n(c) + k)` with
    `m = options.observed_weight`, `k = options.prior_strength`.
    """

    def __init__(self, universe: Iterable[str], frequencies: Mapping[str, float], sources: Sequence[str],
                 options: ConfusionOptions, phonetic_index=None, glyph_index=None,
                 mixture: Optional[Mapping[str, float]] = None, external=None):
        self.universe = sorted(set(universe))
        self.sources = list(sources)
        self.options = options
        self.external = external if external else None
        if self.external and not options.ranker:
            raise ValueError("external confusion sets are weighed by the learned ranker; drop --no-ranker")
        self.phonetic_index = phonetic_index if "phonetic" in self.sources else None
        self.glyph_index = glyph_index if "glyph" in self.sources else None
        exponent = options.mixture_frequency_exponent
        # Frequencies per million, floored so unseen characters keep a little mass.
        self.mass = {c: (frequencies.get(c, 0.0) + 0.05) ** exponent for c in self.universe}
        self.total_mass = sum(self.mass.values()) or 1.0
        self._group_cache: Dict[tuple, tuple] = {}
        self._glyph_cache: "OrderedDict[str, tuple]" = OrderedDict()
        frequency_total = sum(frequencies.get(c, 0.0) for c in self.universe) or 1.0
        self.frequency_share = {c: frequencies.get(c, 0.0) / frequency_total for c in self.universe}
        self._frequencies = frequencies
        self._pools = None
        self.theta = None  # learned ranker weights (numpy), set by fit_mixture or the mixture setter
        self.beta = None  # weights of the external stage (numpy, external_feature_names order)
        self.size_scale = 0.0
        self.total_errors = 0.0
        self.mixture = dict(mixture or DEFAULT_MIXTURE)

    # -- fitted state --------------------------------------------------------------------------------
    def _external_names(self) -> List[str]:
        return confusion_ranker.external_feature_names(self.external.names) if self.external else []

    @property
    def mixture(self) -> Dict[str, float]:
        """The fitted state as one flat JSON-able dict: mixture weights, `ranker.<feature>` (external ones
        as `ranker.external:<file>.<feature>`), `size.*`."""
        state = dict(self._mixture)
        if self.theta is not None:
            state.update({"ranker." + name: float(v) for name, v in zip(confusion_ranker.FEATURE_NAMES, self.theta)})
        if self.beta is not None:
            state.update({"ranker." + name: float(v) for name, v in zip(self._external_names(), self.beta)})
        if self.size_scale:
            state.update({"size.scale": self.size_scale, "size.total_errors": self.total_errors})
        return state

    @mixture.setter
    def mixture(self, state: Mapping[str, float]) -> None:
        self._mixture = {k: float(v) for k, v in state.items() if "." not in k}
        ranker = {k[len("ranker."):]: float(v) for k, v in state.items() if k.startswith("ranker.")}
        if ranker:
            self.theta = np.array([ranker.get(name, 0.0) for name in confusion_ranker.FEATURE_NAMES])
            names = self._external_names()
            if names and any(name in ranker for name in names):
                self.beta = np.array([ranker.get(name, 0.0) for name in names])
        self.size_scale = float(state.get("size.scale", 0.0))
        self.total_errors = float(state.get("size.total_errors", 0.0))

    def pools(self) -> "confusion_ranker.CandidatePools":
        if self._pools is None:
            self._pools = confusion_ranker.CandidatePools(
                self.universe, self._frequencies, self.sources, self.phonetic_index, self.glyph_index,
                group_limit=int(self.options.pool_group_size))
        return self._pools

    def _uses_observed(self) -> bool:
        return "observed" in self.sources and self.options.observed_weight > 0

    def fit_ranker(self, counts: "confusion_ranker.ErrorCounts") -> None:
        """Fit the ranker's weights on the corpus's error counts, the external stage held-out by fold when
        there are external sets, and with mean_set_size the size scale."""
        groups, _ = confusion_ranker.training_groups(self.pools(), counts)
        self.theta = confusion_ranker.fit_conditional_logit(groups, l2=self.options.ranker_l2)
        self.beta = None
        if self.external:
            external_groups, _ = confusion_ranker.external_training_groups(
                self.pools(), self.theta, counts, self.external, use_observed=self._uses_observed())
            self.beta = confusion_ranker.fit_conditional_logit(external_groups, l2=self.options.ranker_l2,
                                                               width=len(self._external_names()))
        self.total_errors = float(sum(sum(o.values()) for o in counts.pairs.values()))
        self.size_scale = 0.0
        if self.options.mean_set_size > 0:
            expected = [self._expected_errors(c, counts.observed(c)) for c in self.universe]
            self.size_scale = confusion_ranker.solve_size_scale(
                expected, self.options.mean_set_size, int(self.options.min_set_size), int(self.options.max_set_size))

    def _expected_errors(self, char: str, observed: Optional[Mapping[str, int]]) -> float:
        errors = sum(n for w, n in (observed or {}).items() if w != char)
        return confusion_ranker.expected_errors(errors, self.frequency_share.get(char, 0.0), self.total_errors)

    def set_size(self, char: str, observed: Optional[Mapping[str, int]], top_k: Optional[int]) -> Optional[int]:
        """How many candidates `char` gets: per-character when mean_size is set and fitted, else top_k."""
        if self.options.mean_set_size > 0 and self.size_scale > 0:
            return confusion_ranker.set_size(self._expected_errors(char, observed), self.size_scale,
                                             int(self.options.min_set_size), int(self.options.max_set_size))
        return top_k

    # -- neighbourhoods ------------------------------------------------------------------------------
    @property
    def _mass_floor(self) -> float:
        return 0.05 ** self.options.mixture_frequency_exponent

    def _mass(self, char: str) -> float:
        return self.mass.get(char, self._mass_floor)

    def _near_group(self, group: tuple) -> tuple:
        """(total mass, members sorted by mass, as a set) of a same-initial or same-final group."""
        if group not in self._group_cache:
            members = self.phonetic_index.group(group)
            ranked = sorted(members, key=lambda c: (-self._mass(c), c))
            self._group_cache[group] = (sum(self._mass(c) for c in members), ranked, set(members))
        return self._group_cache[group]

    def _glyph(self, char: str) -> tuple:
        """({candidate: similarity}, total glyph mass) for a character."""
        def build():
            pools = self._pools
            if pools is not None and pools.glyph_index is self.glyph_index and \
                    confusion_ranker.POOL_GLYPH_THRESHOLD <= GLYPH_THRESHOLD:
                # The ranker's pool already scored the look-alikes of a lower threshold (cached while the
                # character is ranked): the same values in the same order, without scoring them again.
                similar = {c: s for c, s in pools.glyph_candidates(char).items() if s >= GLYPH_THRESHOLD}
            else:
                similar = self.glyph_index.candidates(char, GLYPH_THRESHOLD) if self.glyph_index else {}
            gamma = self.options.mixture_glyph_exponent
            mass, floor = self.mass, self._mass_floor
            total = sum(mass.get(c, floor) * s ** gamma for c, s in similar.items())
            return similar, total
        # Bounded like the pools' caches: ranking visits each character once, fitting a few hundred many times.
        return confusion_ranker.cached(self._glyph_cache, char, build)

    def components(self, char: str, candidate: Optional[str] = None, phonetic: bool = True,
                   glyph: bool = True) -> Dict[str, Dict[str, float]]:
        """{component: {candidate: probability inside the component}}; one candidate only if given;
        `phonetic=False`/`glyph=False` skip those components (each is computed on its own, so the others are
        the same either way)."""
        result: Dict[str, Dict[str, float]] = {}
        tight_members = set()
        # Local lookups: this runs for every character of the universe (kind_candidates), and a method call
        # per candidate cost more than the arithmetic.
        mass, floor = self.mass, self._mass_floor
        if phonetic and self.phonetic_index is not None:
            for name, members in self.phonetic_index.neighbourhoods(char).items():
                tight_members |= set(members)
                total = sum(mass.get(c, floor) * weight for c, weight in members.items())
                chosen = [candidate] if candidate is not None else members
                result[name] = {c: mass.get(c, floor) * members[c] / total
                                for c in chosen if c in members and total > 0}
            groups = [self._near_group(g) for g in self.phonetic_index.near_groups(char)]
            total = sum(g[0] for g in groups)
            near: Dict[str, float] = {}
            if total > 0:
                if candidate is not None:
                    if candidate not in tight_members and any(candidate in g[2] for g in groups):
                        near[candidate] = self._mass(candidate) / total
                else:
                    limit = int(self.options.mixture_near_limit)
                    for _, ranked, _ in groups:
                        for c in ranked[:limit]:
                            if c != char and c not in tight_members:
                                near[c] = mass.get(c, floor) / total
            result["near_pinyin"] = near
        if glyph and self.glyph_index is not None:
            similar, total = self._glyph(char)
            gamma = self.options.mixture_glyph_exponent
            chosen = [candidate] if candidate is not None else similar
            result["glyph"] = {c: mass.get(c, floor) * similar[c] ** gamma / total
                               for c in chosen if c in similar and total > 0}
        if candidate is not None and candidate != char:
            result["other"] = {candidate: self._mass(candidate) / self.total_mass}
        return result

    def kind_candidates(self, char: str, kinds: Sequence[str], limit: int) -> Dict[str, List[tuple]]:
        """Per kind asked for (KIND_COMPONENTS), up to `limit` (candidate, score) from the own sources'
        neighbourhoods of `char`, the most likely inside them first: what confusion masking draws a kind
        from when the ranked set holds none of it (the ranked set keeps the likeliest candidates of any kind,
        and look-alikes are rarely among them)."""
        # Only the neighbourhoods the kinds asked for: most characters' ranked sets already hold both
        # pinyin kinds, and the phonetic neighbourhoods' reading weights are the costly part.
        components = self.components(
            char, phonetic=any(kind != "glyph" for kind in kinds), glyph="glyph" in kinds)
        result = {}
        for kind in kinds:
            scores: Dict[str, float] = {}
            for name in KIND_COMPONENTS[kind]:
                for candidate, probability in components.get(name, {}).items():
                    if candidate != char:
                        scores[candidate] = scores.get(candidate, 0.0) + probability
            ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
            if ranked:
                result[kind] = ranked
        return result

    # -- mixture -------------------------------------------------------------------------------------
    def effective_mixture(self) -> Dict[str, float]:
        """Fitted weights scaled by the phonetic/glyph weights, only for enabled sources, summing to 1."""
        scaled = {}
        for name, value in self._mixture.items():
            source = COMPONENT_SOURCE.get(name)
            if source == "phonetic":
                value *= self.options.mixture_phonetic_weight if self.phonetic_index is not None else 0.0
            elif source == "glyph":
                value *= self.options.mixture_glyph_weight if self.glyph_index is not None else 0.0
            scaled[name] = value
        total = sum(scaled.values())
        return {k: v / total for k, v in scaled.items()} if total > 0 else scaled

    def fit_mixture(self, pair_counts: Mapping[tuple, int], iterations: int = 50,
                    prior_strength: float = 20.0) -> Dict[str, float]:
        """Fit on observed counts keyed `(correct, wrong)` or `(correct, wrong, fold)` (folds: sentences
        hashed apart for the held-out fit of external sets); returns the fitted state (see `mixture`).

        MAP-EM of the component weights with DEFAULT_MIXTURE as prior; then, with `options.ranker`, the
        learned ranker and (with `mean_size`) the set-size scale.
        """
        likelihoods = []
        counts = confusion_ranker.ErrorCounts(pair_counts)
        for correct, wrong, count in sorted((c, w, n) for c, observed in counts.pairs.items()  # fold keys summed
                                            for w, n in observed.items()):
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
        if self.options.ranker and (self.sources or self.external):
            self.fit_ranker(counts)
        return self.mixture

    # -- scoring -------------------------------------------------------------------------------------
    def score_candidates(self, char: str, observed: Optional[Mapping[str, int]] = None,
                         top_k: Optional[int] = None) -> List[ScoredCandidate]:
        """Ranked candidates for `char`, best first; ties broken by code point so order is stable."""
        from .phonetic import char_similarity, same_syllable

        top_k = self.set_size(char, observed, top_k)
        if self.theta is not None and self.options.ranker:
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
        use_observed = self._uses_observed()
        observed = {w: int(n) for w, n in (observed or {}).items() if w != char and n > 0} if use_observed else {}
        for candidate in observed:
            sources.setdefault(candidate, set()).add("observed")
        sources.pop(char, None)
        m, k = self.options.observed_weight, self.options.prior_strength
        denominator = m * sum(observed.values()) + k
        if denominator <= 0:
            return []
        scored = []
        for candidate in sources:
            score = (m * observed.get(candidate, 0) + k * model.get(candidate, 0.0)) / denominator
            if score > 0 and score >= self.options.min_score:
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

        use_observed = self._uses_observed()
        observed = ({w: int(n) for w, n in (observed or {}).items() if w != char and n > 0}
                    if use_observed else {})
        m, k = self.options.observed_weight, self.options.prior_strength
        denominator = m * sum(observed.values()) + k
        scored = []
        ranked = confusion_ranker.rank(self.pools(), self.theta, char, observed, external=self.external,
                                       beta=self.beta, limit=top_k or None, keep=observed)
        for candidate, probability, row in ranked:
            score = (m * observed.get(candidate, 0) + k * probability) / denominator if denominator > 0 else 0.0
            scored.append((score, candidate, row))
        scored.sort(key=lambda item: (-item[0], item[1]))
        # Which candidates hold a pinyin relation, for all rows at once (one numpy call per candidate cost
        # more than the rest of this loop).
        phonetic_rows = (confusion_ranker.phonetic_relations(np.vstack([row for _, _, row in scored]))
                         if scored and self.phonetic_index is not None else [])
        result = []
        for (score, candidate, row), phonetic in itertools.zip_longest(scored, phonetic_rows):
            if top_k and len(result) >= top_k:
                break
            if score <= 0 or score < self.options.min_score:
                break
            sources = []
            if phonetic:
                sources.append("phonetic")
            glyph_score = row[confusion_ranker.FEATURE_INDEX["glyph_similarity"]]
            if self.glyph_index is not None and glyph_score >= GLYPH_THRESHOLD:
                sources.append("glyph")
            count = observed.get(candidate, 0)
            if count:
                sources.append("observed")
            if self.external and self.beta is not None:
                sources += [name for name in self.external.names if candidate in self.external.members(name, char)]
            if not sources:  # in the pool through a looser relation (shared initial letter, low glyph overlap)
                sources.append("phonetic" if self.phonetic_index is not None else "glyph")
            result.append(ScoredCandidate(candidate, score, phonetic=char_similarity(char, candidate),
                                          glyph=float(glyph_score), observed=count,
                                          same_pinyin=same_syllable(char, candidate), sources=sources))
        return result

