"""The slow, obvious forms the tests check the package against (no tests here): an instance's feature dict
(pre-training's encoders), the word tags read back from a tagging record, an alignment's confusion pairs."""
from typing import Dict, List, Sequence, Tuple

from bertprep.transforms.csc.alignment import Alignment
from bertprep.transforms.pretraining.masking import MaskedInstance


def features_of(tokens: Sequence[int], len_a: int, label: int, masked: MaskedInstance, max_seq_length: int,
                max_predictions: int) -> Dict[str, list]:
    """The feature dict of one instance (the slow, obvious form; tests compare the encoder with it)."""
    length = len(tokens)
    pad = max_seq_length - length
    segments = [0] * (len_a + 2) + [1] * (length - len_a - 2) if len_a + 2 < length else [0] * length
    count = len(masked.positions)
    extra = max_predictions - count
    return {
        "input_ids": list(masked.tokens) + [0] * pad,
        "input_mask": [1] * length + [0] * pad,
        "segment_ids": segments + [0] * pad,
        "masked_lm_positions": list(masked.positions) + [0] * extra,
        "masked_lm_ids": list(masked.labels) + [0] * extra,
        "masked_lm_weights": [1.0] * count + [0.0] * extra,
        "next_sentence_labels": [label],
    }


def tags_from_record(label_ids: Sequence[int], label_weights: Sequence[float], id_to_tag: Sequence[str]) -> List[str]:
    """The word tags of one record, read back from the first-piece labels."""
    return [id_to_tag[int(label)] for label, weight in zip(label_ids, label_weights) if weight > 0]


def substitution_pairs(alignment: Alignment) -> List[Tuple[str, str]]:
    """The (correct, wrong) confusion pairs of an alignment, in sentence order."""
    return [(s.correct, s.wrong) for s in alignment.substitutions]
