"""Wiring shared by the fine-tuning jobs (classifier, squad, tagging): ids, labels, statistics, run().

Record ids depend only on the input (the file's position among the sorted input files and the
record's line), never on workers, so the same input gives the same ids and bytes on any runner.
"""
import functools
from typing import Dict, Sequence

import apache_beam as beam

from bertprep import data_warnings
from bertprep.io import beam_io, fs
from bertprep.io import output as output_lib
from bertprep.options.common import ShardedOutputOptions, TokenizerOptions
from bertprep.pipelines import unknown_words
from bertprep.runtime import runner
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


def vocabulary_info(options: TokenizerOptions) -> dict:
    """The info.json entries about the job's vocabulary: its fingerprint, its case (for the case warning) and
    the punctuation map of --normalize-punctuation."""
    tokenizer = options.load_tokenizer()
    return {"vocab_fingerprint": tokenizer.fingerprint,
            "vocabulary_case": data_warnings.vocabulary_case(tokenizer.vocab), **punctuation.info_entries(tokenizer)}


def write_records_and_dead_letters(options: ShardedOutputOptions, kind: str, converted, dead_sources, labels,
                                   summed_stat_names: Sequence[str]):
    """Converted records → shards, every dead letter → dead_letters/, summed facts → report stats.

    `converted` has `records` (sort key, bytes), `facts` and `unknown` (see `unknown_word_outputs`)
    outputs; the facts named by `summed_stat_names` become stats of those names, and the discovered or
    given `labels` join them as `label_list`. Returns (shard results, dead-letter counts, stats) for
    Finalize.
    """
    dead = tuple(dead_sources) | "AllDead" >> beam.Flatten()
    shards = converted.records | "Write" >> beam_io.WriteShardedRecords(
        options.output, kind, options.num_shards, options.compression)
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


def _rewrite_info(directory: str, info: dict, updates: dict) -> None:
    """A publish hook: add what only the run itself learns (discovered labels) to info.json."""
    info.update(updates(info) if callable(updates) else updates)
    output_lib.OutputDirectory(directory).write_json(output_lib.INFO_FILE, info)


def info_hook(updates) -> functools.partial:
    """A picklable publish hook that merges `updates(info)` into info.json before the marker."""
    return functools.partial(_rewrite_info, updates=updates)


def resolve_num_shards(options: ShardedOutputOptions) -> int:
    """--num-shards, or (0) a count from the input's total size, so shard names never depend on workers."""
    if options.num_shards:
        return int(options.num_shards)
    return output_lib.default_num_shards(fs.total_size(fs.match(options.input)))


def resolved(options):
    """The options with what the job derives from them filled in: the job's plan (`with_plan()`, where the
    job has one) and the shard count. Unchanged when already resolved, so the command resolves them once
    and `build_pipeline` (also reached without the command, e.g. from the registry) finds them done."""
    if hasattr(options, "with_plan"):
        options = options.with_plan()
    if not options.num_shards:
        options = options.resolved(num_shards=resolve_num_shards(options))
    return options


def run_finetune_job(build_pipeline, options, beam_args, extra_outputs=()) -> int:
    """Check the vocabulary and the output directory, resolve the options, then run the pipeline to completion.

    `extra_outputs` are glob patterns (relative to the output directory) of files this job writes
    beside the protocol's own, removed with --overwrite so an old run's side files never linger.
    """
    # A bad --labels file, or an input that matches no file, fails here, before anything is written.
    options = resolved(options)
    options.load_tokenizer()  # a bad vocabulary fails here with one line, before Beam starts
    output_lib.OutputDirectory(options.output, overwrite=options.overwrite).prepare(side_outputs=extra_outputs)
    runner.run_job(build_pipeline, options, beam_args)
    return 0
