"""A learned ranker for confusion candidates: broad candidate pools, pairwise features, a conditional logit.

Why: hand-set neighbourhood weights miss real errors that are phonetically loose (有→也 yǒu/yě share
the y- glide, 和→很 hé/hěn share the initial) or that go to the few characters learners over-use
(的/地/得, 在/再, 做/作). So for a correct character `c` we gather a broad pool (homophones, one cheap
pinyin edit, the most frequent characters sharing an initial, a final or a spelling's first letter,
look-alike glyphs, characters seen written for `c`) and rank it by P(w | c) = softmax over the pool
of θ·f(c, w), with θ fitted by maximum likelihood on the corpus's own `correct → wrong` pairs. The
features hold no corpus counts: a pair's own count would leak into its fit (the shared SIGHAN files
repeat the same sentences), so ConfusionModel combines the ranker's probability with observed counts
by Dirichlet smoothing instead.

Features (FEATURE_NAMES): pinyin relations weighted by how common the readings are, pinyin similarity,
glyph similarity and the candidate's frequency. (We also tried how often `w` is written wrongly for
any character, how often `w` was written as `c`, shared word slots in jieba's dictionary and the
hand-set mixture's own score: none moved coverage on the dev split.)

External confusion sets (`confusion_files.py`) are a second stage: their candidates join the pool,
and each source's membership (alone, times the log of the source's set size for the character, and
times each feature above) gets a weight β fitted with the first stage's θ·f as a fixed offset. The
first stage is fitted without them, so a run with external sets ranks exactly as one without for every
character no external set lists. β is fitted held-out by sentence: the pairs are split into FOLDS by a
hash of the wrong sentence (duplicates together), and each fold's pairs that the other folds never
saw are the positives, ranked among the candidates the other folds did not already observe (observed
candidates come first anyway). So β measures how far each source predicts errors the corpus has not
shown yet, which is what the smoothed score needs from it.

Set sizes can follow where errors are (`set_size`): a character's expected errors (its own error
count smoothed by its frequency) decide its size, scaled so the mean over the universe is a budget.
"""
import itertools
import math
from collections import OrderedDict
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import phonetic, pinyin_relations
from bertprep.seeding import stable_hash

FEATURE_NAMES = (
    "same_syllable_tone", "same_syllable", "fuzzy_pinyin", "same_initial", "same_final", "same_final_core",
    "same_first_letter", "same_tone", "pinyin_similarity",
    "glyph_similarity", "glyph_similarity_sq",
    "log_frequency",
)
PHONETIC_FEATURES = FEATURE_NAMES[:9]
GLYPH_FEATURES = ("glyph_similarity", "glyph_similarity_sq")
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
FEATURE_INDEX = _INDEX
# Relations that make a candidate a phonetic one (a shared tone alone does not).
_PHONETIC_RELATIONS = [_INDEX[n] for n in ("same_syllable", "fuzzy_pinyin", "same_initial", "same_final",
                                          "same_final_core")]
POOL_GLYPH_THRESHOLD = 0.2
# Per external source: membership, membership times log(1 + the source's set size for the character),
# and membership times each first-stage feature (so a source can be trusted more for, say, look-alikes).
EXTERNAL_FEATURES = ("member", "member_x_log_set_size") + tuple("member_x_" + name for name in FEATURE_NAMES)
FOLDS = 5


def fold_of(seed, wrong_sentence: str, folds: int = FOLDS) -> int:
    """The fold of a sentence pair for held-out-by-sentence fitting: a hash of its wrong side, so
    duplicated sentences share a fold."""
    return stable_hash(seed, "confusion-fold", wrong_sentence) % folds


def external_feature_names(sources: Sequence[str]) -> List[str]:
    return ["%s.%s" % (source, name) for source in sources for name in EXTERNAL_FEATURES]


class ErrorCounts:
    """`correct → wrong` counts from a corpus, grouped by correct character.

    Keys are `(correct, wrong)` or `(correct, wrong, fold)`; `fold(k)` and `excluding(k)` give the
    counts of one fold and of all the others (held-out-by-sentence fitting).
    """

    def __init__(self, pair_counts: Mapping[tuple, int]):
        self.pairs: Dict[str, Dict[str, int]] = {}
        self._folds: Dict[int, Dict[Tuple[str, str], int]] = {}
        for key, count in pair_counts.items():
            correct, wrong = key[0], key[1]
            fold = int(key[2]) if len(key) > 2 else 0
            if correct != wrong and count > 0:
                observed = self.pairs.setdefault(correct, {})
                observed[wrong] = observed.get(wrong, 0) + int(count)
                in_fold = self._folds.setdefault(fold, {})
                in_fold[(correct, wrong)] = in_fold.get((correct, wrong), 0) + int(count)

    def observed(self, correct: str) -> Dict[str, int]:
        return self.pairs.get(correct, {})

    @property
    def folds(self) -> List[int]:
        return sorted(self._folds)

    def fold(self, fold: int) -> "ErrorCounts":
        return ErrorCounts(self._folds.get(fold, {}))

    def excluding(self, fold: int) -> "ErrorCounts":
        merged: Dict[Tuple[str, str], int] = {}
        for other, counts in self._folds.items():
            if other != fold:
                for pair, count in counts.items():
                    merged[pair] = merged.get(pair, 0) + count
        return ErrorCounts(merged)


_final_core = pinyin_relations.final_core


CACHED_CHARACTERS = 1024


def cached(cache: OrderedDict, key, build):
    """cache[key], built on a miss; the least recently used entry goes past CACHED_CHARACTERS."""
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = build()
    if len(cache) > CACHED_CHARACTERS:
        cache.popitem(last=False)
    return value


class CandidatePools:
    """Broad candidate pools and their feature rows over a character universe.

    `sources` switches parts off: without "phonetic" no pinyin pool or features, without "glyph" no
    glyph pool or features, without "observed" no count features.
    """

    def __init__(self, universe: Iterable[str], frequencies: Mapping[str, float], sources: Sequence[str],
                 phonetic_index=None, glyph_index=None, group_limit: int = 40):
        self.universe = sorted(set(universe))
        self.sources = set(sources)
        self.phonetic_index = phonetic_index if "phonetic" in self.sources else None
        self.glyph_index = glyph_index if "glyph" in self.sources else None
        self.log_frequency = {c: math.log(frequencies.get(c, 0.0) + 0.05) for c in self.universe}
        # Per-candidate values as arrays by universe position (one slot past the end for characters outside
        # it), so a pool's rows take one dict lookup per candidate instead of one per feature.
        self._position = {c: i for i, c in enumerate(self.universe)}
        self._log_frequency_by_position = np.array([self.log_frequency[c] for c in self.universe] + [math.log(0.05)])
        self.group_limit = group_limit
        self._groups: Dict[Tuple[str, str], List[str]] = {}
        self._reading_codes = None
        if self.phonetic_index is not None:
            self._build_groups()
            self._reading_codes = pinyin_relations.ReadingCodes(self.universe)
        # Bounded: fitting reuses the pools of the corpus's correct characters (once per fold), while ranking
        # visits each character once, and ~3 million cached rows of a whole universe would be ~300 MB.
        self._glyph_cache: "OrderedDict[str, Dict[str, float]]" = OrderedDict()
        self._base_cache: "OrderedDict[str, Tuple[List[str], np.ndarray]]" = OrderedDict()

    def _build_groups(self) -> None:
        """The `group_limit` most frequent characters per initial, final, final core and first letter."""
        groups: Dict[Tuple[str, str], set] = {}
        for char in self.universe:
            for reading in phonetic.readings(char):
                for key in (("initial", reading.initial), ("final", reading.final),
                            ("core", _final_core(reading.final)), ("letter", reading.toneless[0])):
                    groups.setdefault(key, set()).add(char)
        for key, members in groups.items():
            ranked = sorted(members, key=lambda c: (-self.log_frequency[c], c))
            self._groups[key] = ranked[:self.group_limit]

    def glyph_candidates(self, char: str) -> Dict[str, float]:
        """{look-alike: similarity ≥ POOL_GLYPH_THRESHOLD} in code point order (cached, the latest CACHED_CHARACTERS)."""
        if self.glyph_index is None:
            return {}
        return cached(self._glyph_cache, char, lambda: self.glyph_index.candidates(char, POOL_GLYPH_THRESHOLD))

    def base_pool(self, char: str) -> List[str]:
        """Candidates found without the corpus: pinyin neighbourhoods and groups, look-alike glyphs."""
        pool = set()
        if self.phonetic_index is not None:
            pool.update(self.phonetic_index.neighbourhood_members(char))
            for reading in phonetic.readings(char):
                for key in (("initial", reading.initial), ("final", reading.final),
                            ("core", _final_core(reading.final)), ("letter", reading.toneless[0])):
                    pool.update(self._groups.get(key, ()))
        pool.update(self.glyph_candidates(char))
        pool.discard(char)
        return sorted(pool)

    def _base_rows(self, char: str) -> Tuple[List[str], Dict[str, int], np.ndarray]:
        """Corpus-free feature rows of the base pool (cached per character, the latest CACHED_CHARACTERS)."""
        def build():
            candidates = self.base_pool(char)
            return candidates, self._rows(char, candidates)
        return cached(self._base_cache, char, build)

    def _rows(self, char: str, candidates: Sequence[str]) -> np.ndarray:
        """Feature rows of `candidates` for `char`, all candidates at once (pinyin_relations.py)."""
        rows = np.zeros((len(candidates), len(FEATURE_NAMES)))
        if not len(candidates):
            return rows
        if self.phonetic_index is not None:
            rows[:, :pinyin_relations.RELATION_COUNT] = pinyin_relations.relation_features(
                self._reading_codes, char, candidates)
        outside = len(self.universe)
        positions = np.fromiter(map(self._position.get, candidates, itertools.repeat(outside)), dtype=np.intp,
                                count=len(candidates))
        similar = self.glyph_candidates(char)
        similar_positions = [self._position.get(c, outside) for c in similar]
        if outside in similar_positions:  # a look-alike outside the universe (another glyph universe): by name
            glyph = np.fromiter((similar.get(c, 0.0) for c in candidates), dtype=float, count=len(candidates))
        else:  # a candidate outside the universe is then no look-alike: the empty slot's 0.0
            by_position = np.zeros(outside + 1)
            by_position[similar_positions] = list(similar.values())
            glyph = by_position[positions]
        rows[:, _INDEX["glyph_similarity"]] = glyph
        rows[:, _INDEX["glyph_similarity_sq"]] = glyph * glyph
        rows[:, _INDEX["log_frequency"]] = self._log_frequency_by_position[positions]
        return rows

    def pool(self, char: str, observed: Optional[Mapping[str, int]] = None, external=None,
             exclude: Iterable[str] = ()) -> Tuple[List[str], np.ndarray]:
        """(candidates, feature matrix) for `char`; characters observed written for it and the candidates
        of the external sets (`confusion_files.ExternalSets`) join the pool; `exclude` leaves some out."""
        candidates, rows = self._base_rows(char)
        observed = dict(observed or {}) if "observed" in self.sources else {}
        observed = {w: n for w, n in observed.items() if n > 0 and w != char}
        known = set(candidates)
        extra = [w for w in sorted(observed) if w not in known]
        known.update(extra)
        if external:
            for candidate in external.any_candidates(char):
                if candidate not in known and candidate != char:
                    known.add(candidate)
                    extra.append(candidate)
        if extra:
            candidates = list(candidates) + extra
            rows = np.vstack([rows, self._rows(char, extra)])
        excluded = set(exclude)
        if excluded:
            keep = [i for i, candidate in enumerate(candidates) if candidate not in excluded]
            candidates = [candidates[i] for i in keep]
            rows = rows[keep]
        return candidates, rows


def is_phonetic(row: np.ndarray) -> bool:
    """Whether a candidate's feature row holds a pinyin relation (same syllable, initial, final ...)."""
    return bool(np.any(row[_PHONETIC_RELATIONS] > 0))


def phonetic_relations(rows: np.ndarray) -> List[bool]:
    """`is_phonetic` of each row of a feature matrix."""
    return np.any(rows[:, _PHONETIC_RELATIONS] > 0, axis=1).tolist()


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def fit_conditional_logit(groups: List[tuple], l2: float = 1.0, width: int = len(FEATURE_NAMES)) -> np.ndarray:
    """θ maximising Σ weight·log softmax(Xθ + offset)[positive] − l2/2·|θ|² over (X, positive row, weight)
    or (X, positive row, weight, offset vector) groups; zeros of `width` without groups."""
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    if not groups:
        return np.zeros(width)
    matrix = np.vstack([g[0] for g in groups])
    offsets = np.concatenate([g[3] if len(g) > 3 else np.zeros(len(g[0])) for g in groups])
    sizes = np.array([len(g[0]) for g in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    positives = starts + np.array([g[1] for g in groups])
    weights = np.array([g[2] for g in groups], dtype=float)
    row_weights = np.repeat(weights, sizes)
    row_group = np.repeat(np.arange(len(groups)), sizes)
    positive_sum = weights @ matrix[positives]

    def objective(theta):
        scores = matrix @ theta + offsets
        maxima = np.maximum.reduceat(scores, starts)
        exp = np.exp(scores - maxima[row_group])
        sums = np.add.reduceat(exp, starts)
        log_z = maxima + np.log(sums)
        loss = -(weights @ (scores[positives] - log_z)) + 0.5 * l2 * theta @ theta
        probs = exp / sums[row_group]
        grad = -positive_sum + (row_weights * probs) @ matrix + l2 * theta
        return loss, grad

    # One BLAS thread: with several, OpenBLAS splits the gradient's sum over rows between threads, so θ's last
    # bits (and near-tied rankings) followed the machine's core count; and on a busy machine its spinning
    # threads made the fit ~3× slower.
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(objective, np.zeros(matrix.shape[1]), jac=True, method="L-BFGS-B",
                          options={"maxiter": 300})
    return result.x


def training_groups(pools: CandidatePools, counts: ErrorCounts) -> Tuple[List[Tuple[np.ndarray, int, float]], int]:
    """A group for every observed pair whose wrong character is in its corpus-free pool; and the misses."""
    groups = []
    missed = 0
    for correct in sorted(counts.pairs):
        candidates, rows = pools.pool(correct)
        for wrong, n in sorted(counts.observed(correct).items()):
            try:
                position = candidates.index(wrong)
            except ValueError:
                missed += n
                continue
            groups.append((rows, position, float(n)))
    return groups, missed


def external_features(char: str, candidates: Sequence[str], rows: np.ndarray, external) -> np.ndarray:
    """The second stage's features (EXTERNAL_FEATURES for each source, in `external.names` order)."""
    width = len(EXTERNAL_FEATURES)
    matrix = np.zeros((len(candidates), width * len(external.names)))
    for s, source in enumerate(external.names):
        members = external.members(source, char)
        if not members:
            continue
        member = np.array([candidate in members for candidate in candidates], dtype=float)
        base = s * width
        matrix[:, base] = member
        matrix[:, base + 1] = member * math.log1p(len(members))
        matrix[:, base + 2:base + width] = member[:, None] * rows
    return matrix


def external_training_groups(pools: CandidatePools, theta: np.ndarray, counts: ErrorCounts, external,
                             use_observed: bool = True) -> Tuple[List[tuple], int]:
    """Held-out-by-sentence groups for the external stage: per fold, the pairs the other folds never saw,
    ranked among the pool less the candidates the other folds observed; θ·f is the fixed offset.
    With one fold (no fold keys) every pair is a positive and nothing is left out."""
    groups = []
    missed = 0
    for fold in counts.folds:
        target = counts.fold(fold)
        seen = counts.excluding(fold) if use_observed else ErrorCounts({})
        for correct in sorted(target.pairs):
            taken = seen.observed(correct)
            candidates, rows = pools.pool(correct, external=external, exclude=taken)
            if not candidates:
                missed += sum(target.observed(correct).values())
                continue
            matrix = external_features(correct, candidates, rows, external)
            offsets = rows @ theta
            position = {candidate: i for i, candidate in enumerate(candidates)}
            for wrong, n in sorted(target.observed(correct).items()):
                if wrong in taken:
                    continue
                if wrong in position:
                    groups.append((matrix, position[wrong], float(n), offsets))
                else:
                    missed += n
    return groups, missed


def rank(pools: CandidatePools, theta: np.ndarray, char: str, observed: Optional[Mapping[str, int]] = None,
         external=None, beta: Optional[np.ndarray] = None, limit: Optional[int] = None,
         keep: Iterable[str] = ()) -> List[Tuple[str, float, np.ndarray]]:
    """(candidate, P(candidate | char, an error), feature row) best first; ties by code point.

    With external sets and their fitted `beta`, their candidates join the pool and their features the score.
    With `limit`, only every candidate in `keep` and the first `limit` others (and any others tied with the
    last of those to 1e-12), in the same order: all that can reach a set of `limit` when only the scores
    of `keep` are raised (observed counts), without a tuple for each of a few hundred candidates.
    """
    use_external = bool(external) and beta is not None
    candidates, rows = pools.pool(char, observed, external=external if use_external else None)
    if not candidates:
        return []
    scores = rows @ theta
    if use_external:
        scores = scores + external_features(char, candidates, rows, external) @ beta
    probabilities = softmax(scores)
    if min(map(len, candidates)) == 1 == max(map(len, candidates)):  # single characters: code point order is string order
        points = np.fromiter(map(ord, candidates), dtype=np.int64, count=len(candidates))
        order = np.lexsort((points, -probabilities)).tolist()
    else:
        order = sorted(range(len(candidates)), key=lambda i: (-probabilities[i], candidates[i]))
    if limit is not None and 0 < limit < len(order):
        order = _within_limit(order, candidates, probabilities, limit, set(keep))
    return [(candidates[i], p, row) for i, p, row in zip(order, probabilities[order].tolist(), rows[order])]


def _within_limit(order: List[int], candidates: Sequence[str], probabilities: np.ndarray, limit: int,
                  keep: set) -> List[int]:
    """`order` less the candidates outside `keep` after the first `limit` of them (ties with the last one
    taken, to a relative 1e-12, stay: a score computed from the probability may round them equal)."""
    chosen, others, kept, last = [], 0, 0, None
    for i in order:
        if candidates[i] in keep:
            chosen.append(i)
            kept += 1
        elif others < limit:
            chosen.append(i)
            others += 1
            last = probabilities[i]
        elif probabilities[i] >= last * (1.0 - 1e-12):
            chosen.append(i)
        elif kept >= len(keep):  # the rest can reach no set of `limit`
            break
    return chosen


# -- per-character set sizes ---------------------------------------------------------------------------
SIZE_ALPHA = 1.0   # pseudo-errors spread over the universe by character frequency
SIZE_GAMMA = 0.5   # set size grows as the square root of a character's expected errors


def expected_errors(errors: float, frequency_share: float, total_errors: float, alpha: float = SIZE_ALPHA) -> float:
    """A character's error count smoothed toward its share of the corpus's errors by frequency."""
    return errors + alpha * total_errors * frequency_share


def set_size(expected: float, scale: float, min_size: int, max_size: int, gamma: float = SIZE_GAMMA) -> int:
    return int(min(max_size, max(min_size, round(scale * expected ** gamma))))


def solve_size_scale(expected: Iterable[float], mean_size: float, min_size: int, max_size: int,
                     gamma: float = SIZE_GAMMA) -> float:
    """The scale whose sizes average at most `mean_size` over the given characters (bisection)."""
    values = list(expected)
    if not values:
        return 0.0
    low, high = 0.0, 1.0
    while high < 1e9 and sum(set_size(v, high, min_size, max_size, gamma) for v in values) / len(values) <= mean_size:
        high *= 2
    for _ in range(50):
        middle = (low + high) / 2
        mean = sum(set_size(v, middle, min_size, max_size, gamma) for v in values) / len(values)
        if mean > mean_size:
            high = middle
        else:
            low = middle
    return low
