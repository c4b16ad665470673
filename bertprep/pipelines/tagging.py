"""The `tagging` job's Beam graph: token tagging (NER, BIO) TFRecords, one label per word on its first piece.

Wiring: read sentences (CoNLL blocks or JSONL) → parse tokens and tags → tag map (given, or discovered:
a combiner over every tag, sorted, used as a side input) → features → shards sorted by example id;
dead letters for bad lines, unknown tags, empty tokens and sentences too long for --max-seq-length.
The command line is bertprep/commands/tagging.py, the options bertprep/options/tagging.py.
"""
from typing import Dict

import apache_beam as beam

from bertprep import schemas
from bertprep.io import beam_io, formats
from bertprep.io.formats.conll import iter_conll_file
from bertprep.options.tagging import TaggingOptions, plan_for
from bertprep.pipelines import finetune_steps
from bertprep.pipelines.registry import JobOutputs
from bertprep.schemas import statistics
from bertprep.transforms.finetune import tagging_features as tagging_lib
from bertprep.transforms.finetune.classifier_features import ExampleError

KIND = "tagging"
# The facts each converted sentence reports, summed over the run into the report's statistics of these names.
SUMMED_STATS = (statistics.SEQUENCE_LENGTH_HISTOGRAM, statistics.TOKENS_PER_INSTANCE, statistics.UNK_RATE,
                statistics.TAG_DISTRIBUTION, "split_sentences")


class SentenceReader:
    """One input file → Records of a sentence (a CoNLL block or a JSONL object) and DeadLetters."""

    def __init__(self, input_format: str):
        self.format = input_format

    def __call__(self, path):
        if self.format == "jsonl":
            return formats.iter_jsonl(path)
        return iter_conll_file(path)


def _parse(record, options: TaggingOptions, input_format: str):
    try:
        if input_format == "jsonl":
            tokens, tags = tagging_lib.parse_json(record.value, options.tokens_field, options.tags_field)
        else:
            tokens, tags = tagging_lib.parse_conll(record.value)
    except ExampleError as error:
        yield beam.pvalue.TaggedOutput("dead", formats.DeadLetter(record.source, record.line, str(error),
                                                                  record.value))
        return
    yield formats.Record(record.source, record.line, {"tokens": tokens, "tags": tags, "raw": record.value})


class _Convert(beam.DoFn):
    def __init__(self, options: TaggingOptions, file_indexes: Dict[str, int]):
        self._options = options
        self._file_indexes = file_indexes

    def setup(self):
        self._tokenizer = self._options.load_tokenizer()
        self._schema = schemas.for_kind(KIND, {"max_seq_length": self._options.max_seq_length})
        self._tag_ids = None

    def process(self, record, labels):
        if self._tag_ids is None:
            self._tag_ids = {tag: index for index, tag in enumerate(labels)}
        example_id = finetune_steps.example_id(self._file_indexes[record.source], record.line)
        try:
            values, facts = tagging_lib.convert_sentence(
                record.value["tokens"], record.value["tags"], self._tag_ids, self._tokenizer,
                self._options.max_seq_length, example_id, self._options.split_long)
        except ExampleError as error:
            yield beam.pvalue.TaggedOutput("dead", formats.DeadLetter(record.source, record.line, str(error),
                                                                      record.value["raw"]))
            return
        for chunk, features in enumerate(values):
            yield finetune_steps.id_key(example_id) + chunk.to_bytes(2, "big"), self._schema.encode(features)
        yield from finetune_steps.unknown_word_outputs(facts["unknown_words"])
        yield beam.pvalue.TaggedOutput("facts", {
            statistics.SEQUENCE_LENGTH_HISTOGRAM: finetune_steps.histogram(facts["lengths"]),
            statistics.TOKENS_PER_INSTANCE: {str(facts["tokens"]): 1},
            statistics.UNK_RATE: {"unk": facts["unk"], "tokens": facts["tokens"]},
            statistics.TAG_DISTRIBUTION: finetune_steps.histogram(facts["tags"]),
            "split_sentences": int(facts["records"] > 1),
        })


def tag_info(info: dict) -> dict:
    labels = list(info.get("stats", {}).get("label_list") or [])
    return {"labels": labels, "tag_map": {tag: index for index, tag in enumerate(labels)}}


def plan(options: TaggingOptions) -> finetune_steps.FinetunePlan:
    """The input format and tag list (a --labels file read), the input listed, the shard count, the
    vocabulary: once, on the driver."""
    return finetune_steps.plan_finetune(options, plan_for(options))


def build_pipeline(pipeline, options: TaggingOptions, plan: finetune_steps.FinetunePlan) -> JobOutputs:
    rows = plan.rows
    schema = schemas.for_kind(KIND, {"max_seq_length": options.max_seq_length})
    indexes = finetune_steps.file_indexes(plan.input_paths)
    read = pipeline | "Read" >> beam_io.ReadRecords(plan.input_paths, SentenceReader(rows.format))
    parsed = read.records | "Parse" >> beam.FlatMap(_parse, options, rows.format).with_outputs(
        "dead", main="sentences")
    if rows.labels:
        labels = pipeline | "GivenTags" >> beam.Create([list(rows.labels)])
    else:
        labels = (parsed.sentences
                  | "SentenceTags" >> beam.Map(lambda record: record.value["tags"])
                  | "Discover" >> finetune_steps.DiscoverLabels())
    converted = parsed.sentences | "Convert" >> beam.ParDo(_Convert(options, indexes),
                                                           beam.pvalue.AsSingleton(labels)) \
        .with_outputs("dead", "facts", "unknown", main="records")
    shards, dead_counts, stat_pcs = finetune_steps.write_records_and_dead_letters(
        options, plan.num_shards, KIND, converted, (read.dead_letters, parsed.dead, converted.dead), labels,
        SUMMED_STATS)
    written = converted.facts | "CountWritten" >> beam.combiners.Count.Globally()
    info = {"config": dict(options.to_config(rows), num_shards=plan.num_shards), "schema": schema.to_json(),
            **plan.vocabulary_info}
    return JobOutputs(KIND, info, shards=shards, dead_letter_counts=dead_counts, read=beam_io.count_inputs(read),
                      written=written, stats=stat_pcs, learned_info=tag_info, vocabulary=plan.vocabulary)
