"""Masked-LM predictions for one instance: the reference's 80/10/10, whole words, n-grams, weighted selection.

Reference semantics (create_pretraining_data.py): every token but [CLS]/[SEP] is a candidate; candidates
are taken in random order until `num_to_predict = min(max_predictions_per_seq, max(1, round(len(tokens) *
masked_lm_prob)))` positions are chosen, a whole word being skipped when it would overflow that budget;
each chosen position becomes [MASK] (80%), stays (10%) or becomes a random vocabulary entry (10%);
positions are reported sorted.

Differences unless `reference_compatible`: the 80/10/10 draw is made once per word, not per piece
(bert issue 910: a word half [MASK] and half kept leaks the answer), and random replacements never draw
special or `[unused]` entries. Word groups come from WordPiece `##` continuations, SentencePiece `▁` word
starts, or a Chinese word segmentation (jieba or spaces in a pre-segmented corpus) in which a word's
non-initial characters are grouped with its first but keep their own ids (no `##` lookup), as
Chinese-BERT-wwm does.
"""
import dataclasses
from typing import Callable, Dict, List, Optional, Sequence

from bertprep.transforms.tokenization.wordpiece import is_cjk_char, is_cjk_codepoint

KIND_NAMES = ("mask", "keep", "random", "phonetic", "glyph", "real_error")
MASK, KEEP, RANDOM, PHONETIC, GLYPH, REAL_ERROR = range(6)
SEGMENTERS = ("none", "jieba", "presegmented")


@dataclasses.dataclass(frozen=True)
class MaskingOptions:
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int = 20
    whole_word: bool = False
    max_ngram: int = 1
    reference_compatible: bool = False


class MaskedInstance:
    """The instance's tokens after masking, and its predictions sorted by position. Confusion masking also
    gives each prediction's replacement kind by name (`mix_kinds`: same_pinyin, similar_pinyin, glyph,
    random, keep, mask) and the kinds it drew but could not give (`shortfall`), for the realized mix."""

    __slots__ = ("tokens", "positions", "labels", "kinds", "mix_kinds", "shortfall")

    def __init__(self, tokens: List[int], positions: List[int], labels: List[int], kinds: List[int],
                 mix_kinds: Optional[List[str]] = None, shortfall: Sequence[str] = ()):
        self.tokens = tokens
        self.positions = positions
        self.labels = labels
        self.kinds = kinds
        self.mix_kinds = mix_kinds
        self.shortfall = shortfall


def num_to_predict(length: int, options: MaskingOptions) -> int:
    return min(options.max_predictions_per_seq, max(1, int(round(length * options.masked_lm_prob))))


def draw_positions(candidates: Sequence[int], budget: int, random) -> List[int]:
    """`budget` distinct candidates drawn uniformly, sorted: the first `budget` steps of a Fisher-Yates
    shuffle from the front (step k swaps item k with item k + int(random() * (count - k))). No draw when
    the budget takes every candidate. The compiled kernel (kernel._emit) draws the same way."""
    count = len(candidates)
    if budget >= count:
        return list(candidates)
    picked = list(candidates)
    for k in range(budget):
        j = k + int(random() * (count - k))
        picked[k], picked[j] = picked[j], picked[k]
    del picked[budget:]
    picked.sort()
    return picked


def random_replacement_ids(vocab_tokens: Sequence[str], special_ids: Sequence[int]) -> List[int]:
    """Ids a random replacement may draw outside reference mode: no specials, no `[unused]`/`<ctrl>` entries."""
    special = set(special_ids)
    ids = []
    for token_id, token in enumerate(vocab_tokens):
        if token_id in special:
            continue
        if len(token) > 2 and ((token[0] == "[" and token[-1] == "]") or (token[0] == "<" and token[-1] == ">")):
            continue
        ids.append(token_id)
    return ids


class Masker:
    """Chooses and replaces masked positions; one object per job, one call per instance."""

    def __init__(self, options: MaskingOptions, mask_id: int, excluded_ids: Sequence[int], vocab_size: int,
                 random_ids: Sequence[int], weights: Optional[Dict[int, float]] = None,
                 default_weight: float = 0.0):
        self.options = options
        self.mask_id = mask_id
        self.excluded = frozenset(excluded_ids)
        self._layouts: Dict[tuple, List[int]] = {}
        self.vocab_size = vocab_size
        self.random_ids = list(range(vocab_size)) if options.reference_compatible else list(random_ids)
        self.weights = weights
        self.default_weight = default_weight
        self._budgets = [num_to_predict(length, options) for length in range(1025)]
        if options.max_ngram > 1:
            ngrams = range(1, options.max_ngram + 1)
            total = sum(1.0 / n for n in ngrams)
            self._ngram_cdf = []
            running = 0.0
            for n in ngrams:
                running += (1.0 / n) / total
                self._ngram_cdf.append(running)

    # ------------------------------------------------------------ candidates

    def candidate_positions(self, tokens: List[int], stops: Optional[Sequence[int]] = None) -> List[int]:
        """Positions that may be predicted: all but [CLS]/[SEP]. `stops` (their positions, when the caller
        knows them) saves a scan; layouts are cached since pair instances share few of them."""
        if stops is None:
            excluded = self.excluded
            stops = [i for i, token in enumerate(tokens) if token in excluded]
        key = (len(tokens), *stops)
        positions = self._layouts.get(key)
        if positions is None:
            positions = []
            previous = -1
            for stop in sorted(stops):
                positions.extend(range(previous + 1, stop))
                previous = stop
            positions.extend(range(previous + 1, len(tokens)))
            if len(self._layouts) > 20_000:
                self._layouts.clear()
            self._layouts[key] = positions
        return positions

    def groups(self, tokens: List[int], flags: Optional[List[bool]]) -> List[List[int]]:
        """Candidate position groups in order: whole words when asked and known, else single positions."""
        excluded = self.excluded
        if not (self.options.whole_word and flags is not None):
            return [[i] for i, token in enumerate(tokens) if token not in excluded]
        groups: List[List[int]] = []
        previous_included = False
        for i, token in enumerate(tokens):
            if token in excluded:
                previous_included = False
                continue
            if flags[i] or not previous_included:
                groups.append([i])
            else:
                groups[-1].append(i)
            previous_included = True
        return groups

    def _order(self, tokens: List[int], groups: List[List[int]], rng) -> List[List[int]]:
        """Groups in the order they are tried: shuffled, or weighted by mask probability (A-Res keys)."""
        if self.weights is None:
            order = list(groups)
            rng.shuffle(order)
            return order
        weights, default = self.weights, self.default_weight
        keyed = []
        random = rng.random
        for group in groups:
            weight = max(weights.get(tokens[i], default) for i in group)
            # Efraimidis-Spirakis: u ** (1 / w) sorts a weighted sample without replacement; zero goes last.
            key = random() ** (1.0 / weight) if weight > 0 else -random()
            keyed.append((key, group))
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        return [group for _, group in keyed]

    # ------------------------------------------------------------ choosing

    def choose(self, tokens: List[int], flags: Optional[List[bool]], rng, stops=None) -> List[List[int]]:
        """The groups to predict, each a list of positions, within the prediction budget."""
        budget = num_to_predict(len(tokens), self.options)
        if self.weights is None and self.options.max_ngram <= 1 and not (self.options.whole_word and flags):
            # Single positions never overflow or overlap: a uniform subset equals the first `budget` of a
            # shuffle, and a partial shuffle draws only `budget` numbers.
            return [[i] for i in draw_positions(self.candidate_positions(tokens, stops), budget, rng.random)]
        groups = self.groups(tokens, flags)
        if self.options.max_ngram > 1:
            return self._choose_ngrams(tokens, groups, budget, rng)
        chosen = []
        used = 0
        for group in self._order(tokens, groups, rng):
            if used >= budget:
                break
            if used + len(group) > budget:
                continue
            chosen.append(group)
            used += len(group)
        return chosen

    def _choose_ngrams(self, tokens, groups, budget, rng) -> List[List[int]]:
        """Spans of n consecutive words, n drawn with p(n) ∝ 1/n; shorter n when the budget is short."""
        starts = list(range(len(groups)))
        if self.weights is None:
            rng.shuffle(starts)
        else:
            index_of = {id(group): k for k, group in enumerate(groups)}
            starts = [index_of[id(group)] for group in self._order(tokens, groups, rng)]
        covered = set()
        chosen = []
        used = 0
        cdf = self._ngram_cdf
        for start in starts:
            if used >= budget:
                break
            draw = rng.random()
            n = next((k + 1 for k, edge in enumerate(cdf) if draw < edge), len(cdf))
            while n >= 1:
                span = self._span(groups, start, n)
                if span is not None and used + len(span) <= budget:
                    break
                n -= 1
            if n < 1 or span is None or any(i in covered for i in span):
                continue
            covered.update(span)
            chosen.append(span)
            used += len(span)
        return chosen

    @staticmethod
    def _span(groups, start, n) -> Optional[List[int]]:
        if start + n > len(groups):
            return None
        span = list(groups[start])
        for k in range(start + 1, start + n):
            if groups[k][0] != span[-1] + 1:
                return None  # words on both sides of a [SEP] are not one n-gram
            span.extend(groups[k])
        return span

    # ------------------------------------------------------------ replacing

    def mask(self, tokens: List[int], flags: Optional[List[bool]], rng, stops=None) -> MaskedInstance:
        """Predictions for one instance; `stops` optionally lists the [CLS]/[SEP] positions."""
        if self.weights is None and self.options.max_ngram <= 1 and not (self.options.whole_word and flags):
            return self._mask_single_positions(tokens, rng, stops)
        chosen = self.choose(tokens, flags, rng, stops)
        output = list(tokens)
        positions: List[int] = []
        labels: List[int] = []
        kinds: List[int] = []
        random = rng.random
        random_ids = self.random_ids
        count = len(random_ids)
        mask_id = self.mask_id
        per_piece = self.options.reference_compatible
        # Decisions are drawn group by group in the order chosen; outputs are listed by position.
        decided = []
        for group in chosen:
            decision = None
            for position in group:
                if decision is None or per_piece:
                    if random() < 0.8:
                        decision = MASK
                    elif random() < 0.5:
                        decision = KEEP
                    else:
                        decision = RANDOM
                decided.append((position, decision))
        decided.sort()
        for position, decision in decided:
            label = tokens[position]
            if decision == MASK:
                output[position] = mask_id
            elif decision == RANDOM:
                output[position] = random_ids[int(random() * count)]
            positions.append(position)
            labels.append(label)
            kinds.append(decision)
        return MaskedInstance(output, positions, labels, kinds)

    def _mask_single_positions(self, tokens: List[int], rng, stops) -> MaskedInstance:
        """The common case (no words, n-grams or weights): the Python path's hot loop.

        The draws are those of the compiled kernel (kernel._emit), in its order: the positions
        (`draw_positions`), then per position in order [MASK] below 0.8, else kept below 0.5, else a
        random id.
        """
        length = len(tokens)
        budgets = self._budgets
        budget = budgets[length] if length < len(budgets) else num_to_predict(length, self.options)
        random = rng.random
        positions = draw_positions(self.candidate_positions(tokens, stops), budget, random)
        output = list(tokens)
        labels = list(map(tokens.__getitem__, positions))
        kinds = []
        add_kind = kinds.append
        random_ids = self.random_ids
        vocabulary = len(random_ids)
        mask_id = self.mask_id
        for position in positions:
            if random() < 0.8:
                output[position] = mask_id
                add_kind(MASK)
            elif random() < 0.5:
                add_kind(KEEP)
            else:
                output[position] = random_ids[int(random() * vocabulary)]
                add_kind(RANDOM)
        return MaskedInstance(output, positions, labels, kinds)

    @property
    def single_positions(self) -> bool:
        """True when every `mask` call takes the plain single-position path (no weights, n-grams or whole
        words, and `mask` not overridden by a subclass): what the compiled kernel implements."""
        return (type(self).mask is Masker.mask and self.weights is None and self.options.max_ngram <= 1
                and not self.options.whole_word)


# ---------------------------------------------------------------- word groups


def piece_flags(tokens: Sequence[str], is_word_start: Callable[[str], bool]) -> List[bool]:
    """Word starts from the tokenizer's own marks (WordPiece `##`, SentencePiece `▁`)."""
    return [bool(is_word_start(token)) for token in tokens]


def segmented_flags(sentence: str, words: Sequence[str], tokenizer):
    """(tokens, flags) where the characters of one Chinese word form one group.

    `words` is a segmentation of `sentence` (jieba's output, or the sentence's space-separated words).
    Tokens are exactly the tokenizer's; a single-CJK-character token continues the group of the
    character before it when both are in the same word. Other tokens follow the tokenizer's marks.
    """
    word_of_char = []
    for word_index, word in enumerate(words):
        for char in word:
            if is_cjk_codepoint(ord(char)):
                word_of_char.append(word_index)
    tokens: List[str] = []
    flags: List[bool] = []
    next_char = 0
    previous_word = None
    for basic in tokenizer.basic_tokenize(sentence):
        pieces = tokenizer.wordpiece(basic)
        if is_cjk_char(basic) and next_char < len(word_of_char):
            word_index = word_of_char[next_char]
            next_char += 1
            for piece in pieces:
                tokens.append(piece)
                flags.append(word_index != previous_word)
            previous_word = word_index
            continue
        previous_word = None
        for piece in pieces:
            tokens.append(piece)
            flags.append(bool(tokenizer.is_word_start(piece)))
    return tokens, flags


class Segmenter:
    """Chinese word segmentation for whole-word masking: jieba, or the spaces of a pre-segmented corpus."""

    def __init__(self, kind: str = "jieba"):
        if kind not in ("jieba", "presegmented"):
            raise ValueError("segmenter must be jieba or presegmented, not %r" % kind)
        self.kind = kind
        self._cut = None
        if kind == "jieba":
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            self._tokenizer = jieba.Tokenizer()
            self._cut = self._tokenizer.lcut

    def words(self, sentence: str) -> List[str]:
        if self.kind == "presegmented":
            return sentence.split()
        return self._cut(sentence)

