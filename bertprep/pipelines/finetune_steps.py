"""Steps and plan shared by the fine-tuning jobs (classifier, squad, tagging): ids, labels, statistics, plan.

Record ids depend only on the input (the file's position among the sorted input files and the
record's line), never on workers, so the same input gives the same ids and bytes on any runner.
"""
import dataclasses
from typing import Any, Dict, Mapping, Sequence, Tuple

import apache_beam as beam

from bertprep.io import beam_io, fs
from bertprep.io import output as output_lib
from bertprep.options.common import ShardedOutputOptions
from bertprep.pipelines import unknown_words
from bertprep.transforms.tokenization import punctuation

LINE_BITS = 32


def file_indexes(paths: Sequence[str]) -> Dict[str, int]:
    """Each matched input file (fs.match order: sorted per pattern) → its position."""
    return {path: index for index, path in enumerate(paths)}


def example_id(file_index: int, line: int) -> int:
    """`file_index * 2**32 + line`: the input file (sorted order) in the high bits, its line below."""
    return (int(file_index) << LINE_BITS) | int(line)


def id_key(value: int) -> bytes:
    """Sort key of an integer id: big-endian bytes sort like the numbers."""
    return int(value).to_bytes(8, "big")


class SumStats(beam.CombineFn):
    """Adds up nested dicts of counts: numbers are summed, dicts are summed key by key."""

    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, facts):
        return add_into(accumulator, facts)

    def merge_accumulators(self, accumulators):
        merged = {}
        for accumulator in accumulators:
            add_into(merged, accumulator)
        return merged

    def extract_output(self, accumulator):
        return accumulator


def add_into(total: dict, facts: dict) -> dict:
    for name, value in facts.items():
        if isinstance(value, dict):
            add_into(total.setdefault(name, {}), value)
        else:
            total[name] = total.get(name, 0) + value
    return total


class _LabelSet(beam.CombineFn):
    def create_accumulator(self):
        return set()

    def add_input(self, labels, names):
        labels.update(names)
        return labels

    def merge_accumulators(self, accumulators):
        return set().union(*accumulators)

    def extract_output(self, labels):
        return sorted(labels)


class DiscoverLabels(beam.PTransform):
    """PCollection of label-name lists → one element: the sorted label list (see `sort_labels`)."""

    def expand(self, names):
        from bertprep.transforms.finetune.classifier_features import sort_labels

        return (names
                | "LabelSet" >> beam.CombineGlobally(_LabelSet())
                | "SortLabels" >> beam.Map(sort_labels))


def stat_fields(stats, names, label: str = "Stat"):
    """{name: one-element PCollection of stats[name]} for Finalize, from one combined stats dict."""
    return {name: stats | "%s_%s" % (label, name) >> beam.Map(lambda value, n=name: value.get(n, {}))
            for name in names}


def unknown_word_outputs(counter):
    """The `unknown` side output of a conversion: (word, count) for the words of one record that became
    [UNK] (summed per word by `unknown_words.SummarizeUnknownWords`)."""
    for word_count in unknown_words.pairs(counter):
        yield beam.pvalue.TaggedOutput("unknown", word_count)


def vocabulary_info(tokenizer) -> dict:
    """The info.json entries about the job's vocabulary that come from its tokenizer: its fingerprint
    (publishing adds `vocabulary_case` from the entries, see JobOutputs.vocabulary) and the punctuation map
    of --normalize-punctuation."""
    return {"vocab_fingerprint": tokenizer.fingerprint, **punctuation.info_entries(tokenizer)}


def write_records_and_dead_letters(options: ShardedOutputOptions, num_shards: int, kind: str, converted, dead_sources,
                                   labels, summed_stat_names: Sequence[str]):
    """Converted records → shards, every dead letter → dead_letters/, summed facts → report stats.

    `converted` has `records` (sort key, bytes), `facts` and `unknown` (see `unknown_word_outputs`)
    outputs; the facts named by `summed_stat_names` become stats of those names, and the discovered or
    given `labels` join them as `label_list`. Returns (shard results, dead-letter counts, stats) for
    Finalize.
    """
    dead = tuple(dead_sources) | "AllDead" >> beam.Flatten()
    shards = converted.records | "Write" >> beam_io.WriteShardedRecords(
        options.output, kind, num_shards, options.compression)
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(options.output)
    summed = converted.facts | "SumStats" >> beam.CombineGlobally(SumStats())
    stats = stat_fields(summed, summed_stat_names)
    stats["label_list"] = labels
    stats["unknown_words"] = converted.unknown | "UnknownWords" >> unknown_words.SummarizeUnknownWords()
    return shards, dead_counts, stats


def histogram(values) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


@dataclasses.dataclass(frozen=True)
class FinetunePlan:
    """A fine-tuning job's plan, made once on the driver: how to read the rows (the options' own input plan:
    format, columns, labels; None for squad), the files --input matches (listed once: file indexes, shard
    count and the read step share the list), the shard count and info.json's vocabulary entries (the
    tokenizer loaded once here, so a bad vocabulary is one line before any output)."""

    rows: Any
    input_paths: Tuple[str, ...]
    num_shards: int
    vocabulary_info: Mapping[str, Any]  # info.json's entries about the vocabulary (see `vocabulary_info`)
    vocabulary: Tuple[str, ...]  # its entries


def plan_finetune(options: ShardedOutputOptions, rows=None) -> FinetunePlan:
    """List the input once, derive the shard count from its size (--num-shards 0), load the tokenizer."""
    paths = tuple(fs.match(options.input))  # an input that matches nothing fails here, before any output
    num_shards = int(options.num_shards) if options.num_shards else \
        output_lib.default_num_shards(fs.total_size(paths))
    tokenizer = options.load_tokenizer()  # once, here: a bad vocabulary is one line before any output
    return FinetunePlan(rows, paths, num_shards, vocabulary_info(tokenizer), tuple(tokenizer.vocab))
