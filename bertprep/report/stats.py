"""Statistics a job can record for its run report (info.json["stats"]), and how they are read.

Each kind of statistic may be spelled in any of the names listed below; a value of another shape is
shown as a plain figure instead of a plot.

Stat shapes a job can put in info.json["stats"] (all JSON):
    sequence_length_histogram   {length: instances}      (real tokens per instance)
    tokens_per_instance         {tokens: instances}
    unk_rate                    fraction, or {"unk": n, "tokens": n}, or {rate bucket: instances}
    masked_position_kinds       {"mask"|"keep"|"random"|"phonetic"|"glyph"|"real_error": predictions}
    next_sentence_labels        {"0": n, "1": n}         (1 = random next / swapped)
    label_distribution          {label: examples}
    answers                     {"kept": n, "dropped": n} (or dropped reasons as more keys)
    top_confusion_pairs         [[correct, wrong, count], ...]   (else confusion_pairs.tsv is read)
    mask_probability_histogram  {bin start: characters}          (else mask_probability.tsv is read)
    confusion_coverage_by_set_size  {set size: share of held-out errors whose wrong character is in the
                                    correct character's set}   (a job that holds out pairs; 0..1)
    confusion_mixture           {source: weight} of the candidate model: figures, not a plot
Candidates by source and the set-size distribution are read from confusion_sets.tsv.
"""
from typing import Dict, List, Optional

SEQUENCE_LENGTH = ("sequence_length_histogram", "sequence_lengths", "seq_length_histogram", "real_length_histogram",
                   "sequence_length")
TOKENS_PER_INSTANCE = ("tokens_per_instance", "tokens_per_instance_histogram", "instance_tokens")
UNK_RATE = ("unk_rate", "unk_rate_histogram", "unk")
MASKED_KINDS = ("masked_position_kinds", "masked_lm_kinds", "prediction_kinds", "masked_kinds", "masking_kinds")
NSP_LABELS = ("next_sentence_labels", "nsp_labels", "nsp_label_balance", "sentence_order_labels")
LABELS = ("label_distribution", "label_counts", "labels", "tag_distribution")
ANSWERS = ("answers", "squad_answers", "answers_kept_dropped")
CONFUSION_PAIRS = ("top_confusion_pairs", "confusion_pairs_top", "confusion_pairs")
MASK_PROBABILITIES = ("mask_probability_histogram", "mask_probabilities", "mask_probability")
CONFUSION_COVERAGE = ("confusion_coverage_by_set_size", "coverage_by_set_size", "held_out_coverage")
CONFUSION_MODEL = ("confusion_mixture", "confusion_ranker")
KIND_ORDER = ("mask", "keep", "random", "phonetic", "glyph", "real_error")


def number(value) -> Optional[float]:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


def as_histogram(value) -> Optional[Dict[float, float]]:
    """{numeric key: number} from a dict or a list of pairs, else None."""
    pairs = value.items() if isinstance(value, dict) else value if isinstance(value, list) else None
    if pairs is None:
        return None
    result = {}
    try:
        for key, count in pairs:
            result[float(key)] = float(count)
    except (TypeError, ValueError):
        return None
    return result or None


def as_counts(value) -> Optional[List[tuple]]:
    """[(label, number)] from a {label: number} dict, else None."""
    if not isinstance(value, dict) or not value:
        return None
    items = [(str(key), number(count)) for key, count in value.items()]
    if any(count is None for _, count in items):
        return None
    return items


def histogram_mean(histogram: Dict[float, float]) -> float:
    total = sum(histogram.values())
    return sum(key * count for key, count in histogram.items()) / total if total else 0.0


def find(stats: dict, names) -> tuple:
    for name in names:
        if name in stats:
            return name, stats[name]
    return None, None
