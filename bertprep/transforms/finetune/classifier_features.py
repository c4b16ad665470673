"""Sentence(-pair) classification features with the semantics of run_classifier.py.

`[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`; a pair too long for `max_seq_length - 3` loses tokens from
the end of whichever side is longer at each step (the reference `_truncate_seq_pair`); segment ids
0 for A and its [SEP], 1 for B and its [SEP]; zero padding. Labels are encoded here too: one index,
a multi-hot vector (`multi_label`), or a float (regression). Bad rows raise `ExampleError`, which
the pipeline turns into a dead letter carrying the message as its reason.
"""
import collections
import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

PAIR_SEPARATOR = "|||"

# Column layouts of the GLUE/CLUE processors in run_classifier.py (0-based indexes; -1 = last column).
# `rename` maps raw labels to the reference's label names (XNLI's "contradictory").


@dataclasses.dataclass(frozen=True)
class Preset:
    format: str
    header: bool
    text_a: object
    text_b: object
    label: object
    labels: Tuple[str, ...]
    rename: Tuple[Tuple[str, str], ...] = ()
    language: object = None  # column holding a language code to filter on (XNLI dev/test)


PRESETS = {
    "mrpc": Preset("tsv", True, 3, 4, 0, ("0", "1")),
    "cola": Preset("tsv", False, 3, None, 1, ("0", "1")),
    "mnli": Preset("tsv", True, 8, 9, -1, ("contradiction", "entailment", "neutral")),
    "xnli": Preset("tsv", True, 6, 7, 1, ("contradiction", "entailment", "neutral"),
                   (("contradictory", "contradiction"),), language=0),
    "xnli-train": Preset("tsv", True, 0, 1, 2, ("contradiction", "entailment", "neutral"),
                         (("contradictory", "contradiction"),)),
    "chnsenticorp": Preset("tsv", True, 1, None, 0, ("0", "1")),
}


class ExampleError(ValueError):
    """A row that cannot become a record; the message is the dead-letter reason (`kind: detail`)."""


def truncate_pair(tokens_a: List[str], tokens_b: List[str], max_length: int) -> None:
    """Shorten in place, one token at a time from the end of the longer list (B on ties)."""
    while len(tokens_a) + len(tokens_b) > max_length:
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def assemble(tokens_a: List[str], tokens_b: Optional[List[str]], max_seq_length: int):
    """Tokens and segment ids of `[CLS] a [SEP] (b [SEP])`, truncated as the reference does."""
    tokens_a = list(tokens_a)
    if tokens_b:
        tokens_b = list(tokens_b)
        truncate_pair(tokens_a, tokens_b, max_seq_length - 3)
    else:
        tokens_b = None
        del tokens_a[max_seq_length - 2:]
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    segment_ids = [0] * len(tokens)
    if tokens_b:
        tokens += tokens_b + ["[SEP]"]
        segment_ids += [1] * (len(tokens_b) + 1)
    return tokens, segment_ids


def pad(values: List[int], length: int) -> List[int]:
    return list(values) + [0] * (length - len(values))


def sequence_features(tokens: Sequence[str], segment_ids: Sequence[int], tokenizer, max_seq_length: int) -> Dict:
    input_ids = tokenizer.convert_tokens_to_ids(list(tokens))
    return {
        "input_ids": pad(input_ids, max_seq_length),
        "input_mask": pad([1] * len(input_ids), max_seq_length),
        "segment_ids": pad(segment_ids, max_seq_length),
    }


@dataclasses.dataclass(frozen=True)
class LabelSpec:
    """How a raw label cell becomes `label_ids`."""

    label_type: str = "int"  # "int" or "float"
    multi_label: bool = False
    delimiter: str = ","
    rename: Tuple[Tuple[str, str], ...] = ()
    unlabeled: bool = False

    def raw_labels(self, raw) -> List[str]:
        """The label names in one cell (several with multi-label), after renaming."""
        if raw is None:
            return []
        if isinstance(raw, (list, tuple)):
            names = [str(item).strip() for item in raw]
        elif self.multi_label:
            names = [part.strip() for part in str(raw).split(self.delimiter)]
        else:
            names = [str(raw).strip()]
        renames = dict(self.rename)
        return [renames.get(name, name) for name in names if name]

    def encode(self, raw, labels: Sequence[str]):
        """`label_ids` for one row, given the ordered label list."""
        if self.unlabeled:
            return [0] * len(labels) if self.multi_label else (0.0 if self.label_type == "float" else 0)
        if self.label_type == "float":
            text = "" if raw is None else str(raw).strip()
            try:
                value = float(text)
            except ValueError:
                raise ExampleError("bad label: %r is not a number" % text) from None
            if value != value or value in (float("inf"), float("-inf")):
                raise ExampleError("bad label: %r is not a finite number" % text)
            return value
        names = self.raw_labels(raw)
        index = {name: i for i, name in enumerate(labels)}
        unknown = [name for name in names if name not in index]
        if unknown:
            raise ExampleError("unknown label: %s (known: %s)" % (", ".join(repr(n) for n in unknown),
                                                                   ", ".join(labels)))
        if self.multi_label:
            hot = [0] * len(labels)
            for name in names:
                hot[index[name]] = 1
            return hot
        if len(names) != 1:
            raise ExampleError("missing label: the label cell is empty")
        return index[names[0]]


def sort_labels(names) -> List[str]:
    """Discovered labels in a stable order: numerically when all are integers, else by string."""
    names = sorted(set(names))
    try:
        return sorted(names, key=lambda name: (int(name), name))
    except ValueError:
        return names


def split_plain_text(line: str) -> Tuple[str, Optional[str]]:
    """`a ||| b` as extract_features.py reads it; without the separator, a single sentence."""
    if PAIR_SEPARATOR in line:
        text_a, text_b = line.split(PAIR_SEPARATOR, 1)
        return text_a.strip(), text_b.strip()
    return line.strip(), None


def text_of(row: Dict, name: str) -> Optional[str]:
    value = row.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def convert_example(row: Dict, labels: Sequence[str], label_spec: LabelSpec, tokenizer, max_seq_length: int,
                    example_id: int) -> Tuple[Dict, Dict]:
    """One row {text_a, text_b?, label?} → (features, facts for the run's statistics)."""
    text_a = text_of(row, "text_a")
    text_b = text_of(row, "text_b")
    if text_a is None or not text_a.strip():
        raise ExampleError("empty text: text_a is empty")
    tokens_a = tokenizer.tokenize(text_a)
    if not tokens_a:
        raise ExampleError("empty text: text_a has no tokens after tokenization")
    # As the reference: an empty text_b makes a single-sentence example, not a pair.
    tokens_b = tokenizer.tokenize(text_b) if text_b else None
    label_ids = label_spec.encode(row.get("label"), labels)
    tokens, segment_ids = assemble(tokens_a, tokens_b, max_seq_length)
    features = sequence_features(tokens, segment_ids, tokenizer, max_seq_length)
    features.update({"label_ids": label_ids, "is_real_example": 1, "example_id": example_id})
    real_tokens = len(tokens_a) + len(tokens_b or ())
    unk = tokens_a.count("[UNK]") + (tokens_b or []).count("[UNK]")
    facts = {
        "length": len(tokens),
        "tokens": real_tokens,
        "unk": unk,
        "unknown_words": collections.Counter(),  # filled below for a row holding an [UNK]
        "truncated": int(len(tokens) - (3 if tokens_b else 2) < real_tokens),
        "labels": [] if label_spec.unlabeled or label_spec.label_type == "float" else label_spec.raw_labels(
            row.get("label")),
    }
    if unk:
        tokenizer.count_unknown_words(text_a, facts["unknown_words"])
        if tokens_b:
            tokenizer.count_unknown_words(text_b, facts["unknown_words"])
    return features, facts
