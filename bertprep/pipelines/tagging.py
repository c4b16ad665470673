"""`bertprep tagging`: token tagging (NER, BIO) TFRecords with one label per word on its first piece.

Wiring: read sentences (CoNLL blocks or JSONL) → parse tokens and tags → tag map (given, or discovered:
a combiner over every tag, sorted, used as a side input) → features → shards sorted by example id;
dead letters for bad lines, unknown tags, empty tokens and sentences too long for --max-seq-length.
"""
import argparse

import apache_beam as beam

from bertprep import schemas
from bertprep.options.tagging import TaggingOptions
from bertprep.io import beam_io, readers
from bertprep.runtime import run_report
from bertprep.schemas import statistics
from bertprep.pipelines import common, finetune_common
from bertprep.transforms.finetune import tagging_features as tagging_lib
from bertprep.transforms.finetune.classifier_features import ExampleError

COMMAND = "tagging"
HELP = "token tagging (NER/BIO) TFRecords: label on each word's first WordPiece, tag map in info.json"
ACCEPTS_BEAM_ARGS = True
KIND = "tagging"
DESCRIPTION = """Turn tagged sentences into input_ids, input_mask, segment_ids, label_ids and label_weights:
each word is WordPiece-tokenized on its own, its tag id sits on its first piece with weight 1.0, other
pieces, [CLS], [SEP] and padding have id 0 and weight 0.0. example_id = input file index (sorted inputs)
* 2**32 + the sentence's first line (JSONL: its line).

Inputs: CoNLL-style files (`token tag` a line, the tag in the last column, a blank line between
sentences; -DOCSTART- lines skipped) or JSONL objects with a token list and a tag list.
Tags: --labels B-PER,I-PER,... (or a file) fixes the ids; otherwise every tag seen is collected, sorted,
and written to info.json as "labels" and "tag_map". A sentence longer than --max-seq-length - 2 pieces
goes to dead_letters/ unless --split-long cuts it at word boundaries into several records (which then
share the sentence's example_id)."""

STAT_NAMES = (statistics.SEQUENCE_LENGTH_HISTOGRAM, statistics.TOKENS_PER_INSTANCE, statistics.UNK_RATE,
              statistics.TAG_DISTRIBUTION, "split_sentences", "label_list")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    TaggingOptions.add_arguments(parser)


def validate(config: dict) -> dict:
    from bertprep.errors import BertprepError

    config = dict(config)
    if int(config.get("max_seq_length", 0)) < 3:
        raise BertprepError("--max-seq-length must be at least 3, got %s" % config.get("max_seq_length"))
    if config.get("format", "auto") == "auto":
        first = config["input"].split(",")[0].lower()
        config["format"] = "jsonl" if readers.guess_format(first) == "jsonl" else "conll"
    if isinstance(config.get("labels"), str):
        config["labels"] = finetune_common.read_labels_option(config["labels"])
    return config


class SentenceReader:
    def __init__(self, config: dict):
        self.format = config["format"]

    def __call__(self, path):
        if self.format == "jsonl":
            return readers.iter_jsonl(path)
        return tagging_lib.iter_conll_file(path)


def _parse(record, config):
    try:
        if config["format"] == "jsonl":
            tokens, tags = tagging_lib.parse_json(record.value, config.get("tokens_field", "tokens"),
                                                  config.get("tags_field", "tags"))
        else:
            tokens, tags = tagging_lib.parse_conll(record.value)
    except ExampleError as error:
        yield beam.pvalue.TaggedOutput("dead", readers.DeadLetter(record.source, record.line, str(error),
                                                                  record.value))
        return
    yield readers.Record(record.source, record.line, {"tokens": tokens, "tags": tags, "raw": record.value})


class _Convert(beam.DoFn):
    def __init__(self, config: dict, file_indexes: dict):
        self._config = config
        self._file_indexes = file_indexes

    def setup(self):
        self._tokenizer = common.load_job_tokenizer(self._config)
        self._schema = schemas.for_kind(KIND, {"max_seq_length": self._config["max_seq_length"]})
        self._tag_ids = None

    def process(self, record, labels):
        if self._tag_ids is None:
            self._tag_ids = {tag: index for index, tag in enumerate(labels)}
        example_id = finetune_common.example_id(self._file_indexes[record.source], record.line)
        try:
            values, facts = tagging_lib.convert_sentence(
                record.value["tokens"], record.value["tags"], self._tag_ids, self._tokenizer,
                self._config["max_seq_length"], example_id, bool(self._config.get("split_long")))
        except ExampleError as error:
            yield beam.pvalue.TaggedOutput("dead", readers.DeadLetter(record.source, record.line, str(error),
                                                                      record.value["raw"]))
            return
        for chunk, features in enumerate(values):
            yield finetune_common.id_key(example_id) + chunk.to_bytes(2, "big"), self._schema.encode(features)
        yield from finetune_common.unknown_word_outputs(facts["unknown_words"])
        yield beam.pvalue.TaggedOutput("facts", {
            statistics.SEQUENCE_LENGTH_HISTOGRAM: finetune_common.histogram(facts["lengths"]),
            statistics.TOKENS_PER_INSTANCE: {str(facts["tokens"]): 1},
            statistics.UNK_RATE: {"unk": facts["unk"], "tokens": facts["tokens"]},
            statistics.TAG_DISTRIBUTION: finetune_common.histogram(facts["tags"]),
            "split_sentences": int(facts["records"] > 1),
        })


def tag_info(info: dict) -> dict:
    labels = list(info.get("stats", {}).get("label_list") or [])
    return {"labels": labels, "tag_map": {tag: index for index, tag in enumerate(labels)}}


def build_pipeline(pipeline, options) -> None:
    config = options if isinstance(options, dict) else options.to_config()  # transitional: typed options
    config = validate(config)
    config["num_shards"] = finetune_common.resolve_num_shards(config)
    compression = config.get("compression", "none")
    schema = schemas.for_kind(KIND, {"max_seq_length": config["max_seq_length"]})
    indexes = finetune_common.file_indexes(config["input"])
    read = pipeline | "Read" >> beam_io.ReadRecords(config["input"], SentenceReader(config))
    parsed = read.records | "Parse" >> beam.FlatMap(_parse, config).with_outputs("dead", main="sentences")
    if config.get("labels"):
        labels = pipeline | "GivenTags" >> beam.Create([list(config["labels"])])
    else:
        labels = (parsed.sentences
                  | "SentenceTags" >> beam.Map(lambda record: record.value["tags"])
                  | "Discover" >> finetune_common.DiscoverLabels())
    converted = parsed.sentences | "Convert" >> beam.ParDo(_Convert(config, indexes), beam.pvalue.AsSingleton(labels)) \
        .with_outputs("dead", "facts", "unknown", main="records")
    shards, dead_counts, stat_pcs = finetune_common.write_records_and_dead_letters(
        config, KIND, converted, (read.dead_letters, parsed.dead, converted.dead), labels, STAT_NAMES[:-1])
    written = converted.facts | "CountWritten" >> beam.combiners.Count.Globally()
    info = {"config": config, "schema": schema.to_json(), **finetune_common.vocabulary_info(config)}
    finalize_inputs = beam_io.FinalizeInputs(shards=shards, dead_letter_counts=dead_counts,
                                             read=beam_io.count_inputs(read), written=written, stats=stat_pcs)
    _ = pipeline | "Finalize" >> beam_io.Finalize(config["output"], KIND, info, finalize_inputs, config["num_shards"],
                                                  compression, publish_hooks=[finetune_common.info_hook(tag_info)],
                                                  report=run_report.write_run_report)


def run(args) -> int:
    options = TaggingOptions.from_namespace(args)
    config = validate(options.to_config())
    return finetune_common.run_finetune_job(build_pipeline, options, config, args.beam_args)
