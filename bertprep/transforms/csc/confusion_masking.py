"""Confusion-aware masking for Chinese spelling correction, fed by the `mask-probs` outputs.

Selection: characters are chosen with weights from the per-character mask probability (Efraimidis-Spirakis
weighted sampling without replacement). Replacement: instead of [MASK], a confusable character, with a mix
that defaults to PLOME's (30% same pinyin, 30% similar pinyin, 15% similar shape, 10% random, 15% kept).
A character without any confusion candidate is left unchanged and not predicted; when one kind has no
candidate for a character, the mix is renormalised over the kinds it has.

FASPell mode: a (wrong, correct) sentence pair becomes one instance whose input is the wrong sentence;
every error position is predicted with the correct character as label, and each other character found
in the probability table is predicted as itself with its probability.
"""
import io
from typing import Dict, List, Optional, Sequence, Tuple

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.io.formats import mask_probs_tables
from bertprep.transforms.pretraining.masking import (GLYPH, KEEP, MASK, PHONETIC, RANDOM, REAL_ERROR, MaskedInstance, Masker,
                                         MaskingOptions, num_to_predict)

MIX_KINDS = ("same_pinyin", "similar_pinyin", "glyph", "random", "keep", "mask")
DEFAULT_MIX = {"same_pinyin": 0.30, "similar_pinyin": 0.30, "glyph": 0.15, "random": 0.10, "keep": 0.15,
               "mask": 0.0}
_KIND_CODE = {"same_pinyin": PHONETIC, "similar_pinyin": PHONETIC, "glyph": GLYPH, "random": RANDOM,
              "keep": KEEP, "mask": MASK}


def parse_mix(text: Optional[str]) -> Dict[str, float]:
    """`same_pinyin=0.3,similar_pinyin=0.3,glyph=0.15,random=0.1,keep=0.15[,mask=0]` → normalised dict."""
    if not text:
        return dict(DEFAULT_MIX)
    mix = {kind: 0.0 for kind in MIX_KINDS}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in mix:
            raise BertprepError("--confusion-mix: unknown kind %r (known: %s)" % (name, ", ".join(MIX_KINDS)))
        try:
            mix[name] = float(value)
        except ValueError:
            raise BertprepError("--confusion-mix: %r is not a number" % part) from None
        if mix[name] < 0:
            raise BertprepError("--confusion-mix: %s is negative" % name)
    total = sum(mix.values())
    if total <= 0:
        raise BertprepError("--confusion-mix: the shares add up to zero")
    return {kind: share / total for kind, share in mix.items()}


def load_confusion_sets(path: str) -> Dict[str, List[dict]]:
    """Confusion sets → {char: [row, ...]} in rank order. Reads a mask-probs directory or its Parquet table,
    or a published `char:candidates` text file (every candidate then counts as observed)."""
    if not mask_probs_tables.is_confusion_sets_table(path):
        return _load_published(path)
    rows = mask_probs_tables.read_confusion_set_rows(path)
    sets: Dict[str, List[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["char"], r.get("rank", 0))):
        sets.setdefault(row["char"], []).append(row)
    return sets


def _load_published(path: str) -> Dict[str, List[dict]]:
    sets: Dict[str, List[dict]] = {}
    # One line per character: small enough to read whole through the storage door (local or gs://).
    for number, line in enumerate(io.StringIO(fs.read_text(path)), start=1):
        line = line.strip()
        if not line:
            continue
        char, separator, candidates = line.partition(":")
        if not separator or len(char) != 1:
            raise BertprepError("%s line %d: expected char:candidates" % (path, number))
        sets[char] = [{"char": char, "candidate": candidate, "score": 1.0, "source": "observed", "rank": rank}
                      for rank, candidate in enumerate(candidates, start=1) if candidate != char]
    return sets


def classify(char: str, row: dict) -> str:
    """same_pinyin / similar_pinyin / glyph for one candidate row."""
    from bertprep.transforms.csc import phonetic

    source = row.get("source", "observed")
    if source == "glyph":
        return "glyph"
    same = row.get("same_pinyin")
    if same is None:
        same = phonetic.same_syllable(char, row["candidate"])
    if same:
        return "same_pinyin"
    score = row.get("phonetic_score")
    if score is None:
        score = phonetic.char_similarity(char, row["candidate"])
    if source == "phonetic" or (score or 0) > 0:
        return "similar_pinyin"
    return "glyph"


class ConfusionTable:
    """Per token id, its candidate ids by kind (same_pinyin, similar_pinyin, glyph); vocabulary chars only."""

    def __init__(self, sets: Dict[str, List[dict]], vocab: Dict[str, int]):
        self.by_id: Dict[int, Dict[str, List[int]]] = {}
        for char, rows in sets.items():
            char_id = vocab.get(char)
            if char_id is None:
                continue
            kinds: Dict[str, List[int]] = {}
            for row in rows:
                candidate_id = vocab.get(row["candidate"])
                if candidate_id is None or candidate_id == char_id:
                    continue
                kinds.setdefault(classify(char, row), []).append(candidate_id)
            if kinds:
                self.by_id[char_id] = kinds


class ConfusionMasker(Masker):
    """Masker that replaces chosen characters by confusable ones (per character; no whole-word groups)."""

    def __init__(self, options: MaskingOptions, mask_id: int, excluded_ids: Sequence[int], vocab_size: int,
                 random_ids: Sequence[int], table: ConfusionTable, mix: Dict[str, float],
                 weights: Optional[Dict[int, float]] = None, default_weight: float = 0.0):
        super().__init__(options, mask_id, excluded_ids, vocab_size, random_ids, weights, default_weight)
        self.table = table
        self.mix = mix

    def choose(self, tokens, flags, rng, stops=None):
        by_id = self.table.by_id
        groups = [[i] for i in self.candidate_positions(tokens, stops) if tokens[i] in by_id]
        budget = min(num_to_predict(len(tokens), self.options), len(groups))
        return self._order(tokens, groups, rng)[:budget]

    def _kind_for(self, candidates: Dict[str, List[int]], rng) -> str:
        available = [(kind, share) for kind, share in self.mix.items()
                     if share > 0 and (kind in ("random", "keep", "mask") or candidates.get(kind))]
        total = sum(share for _, share in available)
        draw = rng.random() * total
        for kind, share in available:
            draw -= share
            if draw < 0:
                return kind
        return available[-1][0]

    def mask(self, tokens, flags, rng, stops=None) -> MaskedInstance:
        chosen = sorted(group[0] for group in self.choose(tokens, flags, rng, stops))
        output = list(tokens)
        kinds = []
        for position in chosen:
            candidates = self.table.by_id[tokens[position]]
            kind = self._kind_for(candidates, rng)
            if kind == "mask":
                output[position] = self.mask_id
            elif kind == "random":
                output[position] = self.random_ids[int(rng.random() * len(self.random_ids))]
            elif kind != "keep":
                pool = candidates[kind]
                output[position] = pool[int(rng.random() * len(pool))]
            kinds.append(_KIND_CODE[kind])
        return MaskedInstance(output, chosen, [tokens[p] for p in chosen], kinds)


def faspell_instance(wrong_ids: List[int], correct_ids: List[int], probabilities: Dict[int, float],
                     max_seq_length: int, max_predictions: int, cls_id: int, sep_id: int,
                     rng) -> Tuple[List[int], MaskedInstance]:
    """FASPell training instance from an aligned pair of id lists of equal length.

    Returns (input tokens `[CLS] wrong [SEP]`, predictions). Errors come first in the prediction budget;
    other characters fill the rest when their probability draw says so.
    """
    if len(wrong_ids) != len(correct_ids):
        raise ValueError("the wrong and correct sentences tokenize to different lengths")
    body = max_seq_length - 2
    wrong_ids, correct_ids = wrong_ids[:body], correct_ids[:body]
    tokens = [cls_id] + wrong_ids + [sep_id]
    errors = [k for k, (w, c) in enumerate(zip(wrong_ids, correct_ids)) if w != c]
    predicted = {k + 1: (correct_ids[k], REAL_ERROR) for k in errors[:max_predictions]}
    for k, token in enumerate(wrong_ids):
        if len(predicted) >= max_predictions:
            break
        if k + 1 in predicted:
            continue
        probability = probabilities.get(token)
        if probability and rng.random() < probability:
            predicted[k + 1] = (token, KEEP)
    positions = sorted(predicted)
    return tokens, MaskedInstance(list(tokens), positions, [predicted[p][0] for p in positions],
                                  [predicted[p][1] for p in positions])
