"""Confusion-aware masking for Chinese spelling correction, fed by the `mask-probs` outputs.

Selection: characters are chosen with weights from the per-character mask probability (Efraimidis-Spirakis
weighted sampling without replacement). Replacement: instead of [MASK], a confusable character, with a mix
that defaults to PLOME's (30% same pinyin, 30% similar pinyin, 15% similar shape, 10% random, 15% kept).
A character without any confusion candidate is left unchanged and not predicted. The mix asked for is the
mix given: each chosen position's kind is drawn from the whole mix and matched to a position whose character
has a candidate of it (ConfusionMasker); only a kind none of the instance's chosen characters has falls
short, and the run reports it (a data warning naming the kind). `PlomeMasker` is PLOME's own sampling.

FASPell mode: a (wrong, correct) sentence pair becomes one instance whose input is the wrong sentence;
every error position is predicted with the correct character as label, and each other character found
in the probability table is predicted as itself with its probability.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from bertprep.errors import BertprepError
from bertprep.io.formats import confusion_sets as confusion_sets_format
from bertprep.io.formats import mask_probs_tables
from bertprep.io.formats.confusion_sets import ConfusionEntry
from bertprep.io.records import DeadLetter
from bertprep.transforms.pretraining.masking import (GLYPH, KEEP, MASK, PHONETIC, RANDOM, REAL_ERROR, MaskedInstance,
                                                     Masker, MaskingOptions, draw_positions, num_to_predict)

KIND_LISTS_TABLE = "confusion_kinds"  # mask-probs' candidates per kind, beside the ranked confusion_sets
CANDIDATE_KINDS = ("same_pinyin", "similar_pinyin", "glyph")  # the kinds a confusion set's candidates are sorted in
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
    or a confusion file in any layout bertprep.io.formats.confusion_sets detects (every candidate then counts
    as observed)."""
    if not mask_probs_tables.is_confusion_sets_table(path):
        sets: Dict[str, List[dict]] = {}
        for entry in read_confusion_file(path):
            rows = sets.setdefault(entry.char, [])
            known = {row["candidate"] for row in rows}
            rows.extend({"char": entry.char, "candidate": candidate, "score": 1.0, "source": "observed",
                         "rank": len(rows) + 1} for candidate in entry.candidates if candidate not in known)
        return sets
    rows = mask_probs_tables.read_confusion_set_rows(path)
    sets = {}
    for row in sorted(rows, key=lambda r: (r["char"], r.get("rank", 0))):
        sets.setdefault(row["char"], []).append(row)
    return sets


def read_confusion_file(path: str, layout: Optional[str] = None) -> List[ConfusionEntry]:
    """A confusion file's entries; its first bad line is an error naming the file and line (a confusion set
    is a setting of the job, not data: a set taken in part would silently change the masking)."""
    entries = []
    try:
        for item in confusion_sets_format.iter_file(path, layout):
            if isinstance(item, DeadLetter):
                raise BertprepError("%s line %d: %s" % (item.source, item.line, item.reason))
            entries.append(item)
    except ValueError as error:
        raise BertprepError(str(error)) from None
    return entries


def parse_confusion_sets(text: str) -> List[Tuple[Optional[str], Optional[str], str]]:
    """`--confusion-sets` → [(kind or None, layout or None, path)]: one path (a mask-probs directory, its
    Parquet table or a confusion file whose candidates are classified by sound and shape), or
    `KIND[:LAYOUT]=PATH,...` with KIND one of same_pinyin, similar_pinyin, glyph (files of one kind each)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    named = [part.partition("=") for part in parts]
    if not any(sep and name.partition(":")[0] in CANDIDATE_KINDS for name, sep, _ in named):
        return [(None, None, text)]
    result = []
    for name, separator, path in named:
        kind, _, layout = name.partition(":")
        if not separator or kind not in CANDIDATE_KINDS or not path:
            raise BertprepError("--confusion-sets: %r is not KIND=PATH (kinds: %s)" % (name + separator + path,
                                                                                      ", ".join(CANDIDATE_KINDS)))
        if layout and layout not in confusion_sets_format.LAYOUTS:
            raise BertprepError("--confusion-sets: unknown layout %r for %s (layouts: %s)"
                                % (layout, path, ", ".join(confusion_sets_format.LAYOUTS)))
        if kind in (k for k, _, _ in result):
            raise BertprepError("--confusion-sets names %s twice" % kind)
        result.append((kind, layout or None, path))
    return result


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
    """Per token id, its candidate ids by kind (same_pinyin, similar_pinyin, glyph); vocabulary chars only.

    From ranked sets (`sets`, {char: rows}) each candidate is classified by sound and shape; `kind_lists`
    ({char: {kind: [candidates]}}, mask-probs' confusion_kinds table) gives a character the kinds its ranked
    set lacks, so a kind the mix asks for is not missing only because the top-k held none of it."""

    def __init__(self, sets: Dict[str, List[dict]], vocab: Dict[str, int],
                 kind_lists: Optional[Dict[str, Dict[str, List[str]]]] = None):
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
        for char, lists in (kind_lists or {}).items():
            char_id = vocab.get(char)
            if char_id is None:
                continue
            for kind, candidates in lists.items():
                ids = [vocab[c] for c in candidates if c in vocab and vocab[c] != char_id]
                if ids and not self.by_id.get(char_id, {}).get(kind):
                    self.by_id.setdefault(char_id, {})[kind] = ids

    @classmethod
    def from_files(cls, files: Sequence[Tuple[str, Optional[str], str]], vocab: Dict[str, int],
                   plome: bool = False) -> "ConfusionTable":
        """From confusion files of one kind each: [(kind, layout or None, path)].

        `plome`: as PLOME's mask.py reads its files: a glyph file's layout defaults to groups, a key's later
        line replaces its earlier one, and a key the file lists among its own candidates (every group member)
        may be drawn as its own replacement. Otherwise a key's lines are united and the key itself left out."""
        table = cls({}, vocab)
        for kind, layout, path in files:
            if plome and kind == "glyph" and layout is None:
                layout = "groups"
            for entry in read_confusion_file(path, layout):
                char_id = vocab.get(entry.char)
                if char_id is None:
                    continue
                chars = entry.candidates + ((entry.char,) if plome and entry.includes_self else ())
                ids = [vocab[c] for c in chars if c in vocab]  # unique: the reader drops repeats
                if not ids:
                    continue
                kinds = table.by_id.setdefault(char_id, {})
                kinds[kind] = _unique_ids(kinds[kind] + ids) if kind in kinds and not plome else ids
        return table


def _unique_ids(ids) -> List[int]:
    seen, result = set(), []
    for token_id in ids:
        if token_id not in seen:
            seen.add(token_id)
            result.append(token_id)
    return result


def load_kind_lists(path: str) -> Optional[Dict[str, Dict[str, List[str]]]]:
    """mask-probs' confusion_kinds table beside `path` (a directory or its confusion_sets.parquet):
    {char: {kind: candidates in rank order}}; None for an output that predates the table."""
    rows = mask_probs_tables.read_confusion_kind_rows(path)
    if rows is None:
        return None
    lists: Dict[str, Dict[str, List[str]]] = {}
    for row in sorted(rows, key=lambda r: (r["char"], r["kind"], r["rank"])):
        lists.setdefault(row["char"], {}).setdefault(row["kind"], []).append(row["candidate"])
    return lists


def load_confusion_table(spec: str, vocab: Dict[str, int], plome: bool = False) -> ConfusionTable:
    """The table `--confusion-sets` names (see parse_confusion_sets)."""
    files = parse_confusion_sets(spec)
    if files[0][0] is not None:
        return ConfusionTable.from_files(files, vocab, plome)
    path = files[0][2]
    return ConfusionTable(load_confusion_sets(path), vocab, load_kind_lists(path) if mask_probs_tables.is_confusion_sets_table(path) else None)


class ConfusionMasker(Masker):
    """Masker that replaces chosen characters by confusable ones (per character; no whole-word groups).

    The requested mix is the realized mix: the chosen positions' kinds are drawn from the whole mix, one a
    position, then matched to positions whose character has a candidate of that kind, the kinds fewest
    positions can take first. Only a kind that no unmatched position can take falls short: its position
    gets a kind drawn from the mix renormalised over the kinds its character has, and the shortfall is
    reported (`MaskedInstance.shortfall`), for the run's warning.
    """

    def __init__(self, options: MaskingOptions, mask_id: int, excluded_ids: Sequence[int], vocab_size: int,
                 random_ids: Sequence[int], table: ConfusionTable, mix: Dict[str, float],
                 weights: Optional[Dict[int, float]] = None, default_weight: float = 0.0):
        super().__init__(options, mask_id, excluded_ids, vocab_size, random_ids, weights, default_weight)
        self.table = table
        self.mix = mix
        self._mix_kinds = [kind for kind in MIX_KINDS if mix.get(kind, 0) > 0]
        running, self._mix_cdf = 0.0, []
        for kind in self._mix_kinds:
            running += mix[kind]
            self._mix_cdf.append(running)

    def choose(self, tokens, flags, rng, stops=None):
        by_id = self.table.by_id
        groups = [[i] for i in self.candidate_positions(tokens, stops) if tokens[i] in by_id]
        budget = min(num_to_predict(len(tokens), self.options), len(groups))
        return self._order(tokens, groups, rng)[:budget]

    def _draw_kind(self, rng) -> str:
        """A kind drawn from the whole mix."""
        draw = rng.random() * self._mix_cdf[-1]
        for kind, bound in zip(self._mix_kinds, self._mix_cdf):
            if draw < bound:
                return kind
        return self._mix_kinds[-1]

    def _kind_for(self, candidates: Dict[str, List[int]], rng) -> Optional[str]:
        """A kind drawn from the mix renormalised over the kinds `candidates` has; None when it has none the
        mix asks for (the position is then not predicted)."""
        available = [(kind, share) for kind, share in self.mix.items()
                     if share > 0 and (kind in ("random", "keep", "mask") or candidates.get(kind))]
        if not available:
            return None
        total = sum(share for _, share in available)
        draw = rng.random() * total
        for kind, share in available:
            draw -= share
            if draw < 0:
                return kind
        return available[-1][0]

    def _assign_kinds(self, pools: List[Dict[str, List[int]]], rng) -> Tuple[List[str], List[str]]:
        """(kind of each position, kinds drawn that no position could take) for positions with `pools`."""
        count = len(pools)
        draws = [self._draw_kind(rng) for _ in range(count)]
        order = list(range(count))
        for i in range(count - 1, 0, -1):  # a random order of trying positions, so none is favoured
            j = int(rng.random() * (i + 1))
            order[i], order[j] = order[j], order[i]
        assigned: List[Optional[str]] = [None] * count
        eligible = {kind: sum(1 for pool in pools if pool.get(kind)) for kind in CANDIDATE_KINDS}
        shortfall = []
        for kind in sorted(draws, key=lambda kind: (kind not in CANDIDATE_KINDS, eligible.get(kind, 0),
                                                    MIX_KINDS.index(kind))):
            for position in order:
                if assigned[position] is None and (kind not in eligible or pools[position].get(kind)):
                    assigned[position] = kind
                    break
            else:
                shortfall.append(kind)
        kinds = [kind if kind is not None else self._kind_for(pools[position], rng)
                 for position, kind in enumerate(assigned)]
        return kinds, shortfall

    def _replace(self, kind: str, pool: Dict[str, List[int]], token: int, rng) -> int:
        if kind == "mask":
            return self.mask_id
        if kind == "random":
            return self.random_ids[int(rng.random() * len(self.random_ids))]
        if kind == "keep":
            return token
        candidates = pool[kind]
        return candidates[int(rng.random() * len(candidates))]

    def mask(self, tokens, flags, rng, stops=None) -> MaskedInstance:
        chosen = sorted(group[0] for group in self.choose(tokens, flags, rng, stops))
        pools = [self.table.by_id[tokens[position]] for position in chosen]
        kinds, shortfall = self._assign_kinds(pools, rng)
        if None in kinds:  # characters with none of the kinds the mix asks for are not predicted
            given = [i for i, kind in enumerate(kinds) if kind is not None]
            chosen, pools, kinds = [chosen[i] for i in given], [pools[i] for i in given], [kinds[i] for i in given]
        output = list(tokens)
        for position, kind, pool in zip(chosen, kinds, pools):
            output[position] = self._replace(kind, pool, tokens[position], rng)
        return MaskedInstance(output, chosen, [tokens[p] for p in chosen], [_KIND_CODE[kind] for kind in kinds],
                              kinds, shortfall)


class PlomeMasker(ConfusionMasker):
    """PLOME's pre-training masking (pre_train_src/mask.py): `max(1, int(masked_lm_prob x n))` positions drawn
    uniformly over the n tokens other than [CLS], [SEP] and [UNK] (CJK or not), a kind drawn from the mix
    for each, and a position dropped when its character has no candidate of the drawn kind (so a kind falls
    short of the mix by design; the shortfall is reported, not warned about). `excluded_ids` holds [UNK] too."""

    def mask(self, tokens, flags, rng, stops=None) -> MaskedInstance:
        excluded = self.excluded
        valid = [i for i, token in enumerate(tokens) if token not in excluded]
        budget = min(self.options.max_predictions_per_seq, max(1, int(len(valid) * self.options.masked_lm_prob)))
        by_id = self.table.by_id
        output = list(tokens)
        positions, kinds, shortfall = [], [], []
        for position in draw_positions(valid, budget, rng.random):
            kind = self._draw_kind(rng)
            pool = by_id.get(tokens[position], {})
            if kind in CANDIDATE_KINDS and not pool.get(kind):
                shortfall.append(kind)
                continue
            output[position] = self._replace(kind, pool, tokens[position], rng)
            positions.append(position)
            kinds.append(kind)
        return MaskedInstance(output, positions, [tokens[p] for p in positions], [_KIND_CODE[k] for k in kinds],
                              kinds, shortfall)


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
