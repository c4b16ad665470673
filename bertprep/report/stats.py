"""How the report reads the statistics a job records (info.json["stats"]).

The names are bertprep.schemas.statistics', one spelling each, the ones the jobs write; a value of
another shape than listed is shown as a plain figure instead of a plot.

Stat shapes (all JSON):
    sequence_length_histogram   {length: instances}      (real tokens per instance)
    tokens_per_instance         {tokens: instances}, or a mean
    unk_rate                    {"unk": n, "tokens": n}, or a fraction, or {rate bucket: instances}
    masked_position_kinds       {"mask"|"keep"|"random"|"phonetic"|"glyph"|"real_error": predictions}
    next_sentence_labels        {"0": n, "1": n}         (1 = random next, or swapped with next_sentence sop)
    label_distribution          {label: examples}        (classifier)
    tag_distribution            {tag: tokens}            (tagging)
    answers                     {"kept": n, "dropped": {reason: n}}
    top_confusion_pairs         [[correct, wrong, count], ...]   (else confusion_pairs.tsv is read)
    mask_probability_histogram  {bin start: characters}          (else mask_probability.tsv is read)
    confusion_coverage_by_set_size  {set size: share of held-out errors whose wrong character is in the
                                    correct character's set}   (0..1)
    confusion_mixture           {source: weight} of the candidate model: figures, not a plot
Candidates by source and the set-size distribution are read from confusion_sets.tsv.
"""
from typing import Dict, List, Optional

from bertprep.schemas import statistics

# The statistics the report has a section for, in report order (the others get a generic table or chart).
DRAWN = (statistics.SEQUENCE_LENGTH_HISTOGRAM, statistics.TOKENS_PER_INSTANCE, statistics.UNK_RATE,
         statistics.MASKED_POSITION_KINDS, statistics.NEXT_SENTENCE_LABELS, statistics.LABEL_DISTRIBUTION,
         statistics.TAG_DISTRIBUTION, statistics.ANSWERS, statistics.TOP_CONFUSION_PAIRS,
         statistics.MASK_PROBABILITY_HISTOGRAM, statistics.CONFUSION_COVERAGE_BY_SET_SIZE,
         statistics.CONFUSION_MIXTURE)
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
