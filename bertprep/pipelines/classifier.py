"""The `classifier` job's Beam graph: sentence and sentence-pair classification TFRecords.

Wiring: read rows (TSV/CSV/JSONL/Parquet/plain text) → keep the preset's language → labels (given, or
discovered: a combiner over every row's labels, sorted, used as a side input) → features → shards
sorted by example id; dead letters for what cannot be converted; info.json with the label list.
The command line is bertprep/commands/classifier.py, the options bertprep/options/classifier.py.
"""
import functools
from typing import Dict, Mapping

import apache_beam as beam

from bertprep import schemas
from bertprep.errors import BertprepError
from bertprep.io import beam_io, formats
from bertprep.io.formats.columns import pick_columns
from bertprep.options.classifier import ClassifierOptions, ClassifierPlan, plan_for
from bertprep.pipelines import finetune_steps
from bertprep.pipelines.registry import JobOutputs
from bertprep.schemas import statistics
from bertprep.transforms.finetune import classifier_features as features_lib

KIND = "classifier"
# The facts each converted row reports, summed over the run into the report's statistics of these names.
SUMMED_STATS = (statistics.SEQUENCE_LENGTH_HISTOGRAM, statistics.TOKENS_PER_INSTANCE, statistics.UNK_RATE,
                statistics.LABEL_DISTRIBUTION, "truncated_examples")


def plan(options: ClassifierOptions) -> finetune_steps.FinetunePlan:
    """How to read the rows (a --labels file read), the input listed, the shard count, the vocabulary: once."""
    return finetune_steps.plan_finetune(options, plan_for(options))


def label_spec(options: ClassifierOptions, rows: ClassifierPlan) -> features_lib.LabelSpec:
    return features_lib.LabelSpec(label_type=options.label_type, multi_label=options.multi_label,
                                  delimiter=options.label_delimiter, rename=rows.label_rename,
                                  unlabeled=rows.unlabeled)


class RowReader:
    """One input file → Records of {text_a, text_b, label, language} (the columns given) and DeadLetters."""

    def __init__(self, input_format: str, columns: Mapping[str, object], header: bool):
        self.format = input_format
        self.columns = dict(columns)
        self.header = header

    def __call__(self, path):
        if self.format in ("tsv", "csv"):
            yield from formats.iter_table(path, self.columns, "\t" if self.format == "tsv" else ",", self.header)
        elif self.format == "text":
            for item in formats.iter_file(path, "text"):
                if isinstance(item, formats.Record):
                    text_a, text_b = features_lib.split_plain_text(item.value)
                    item = formats.Record(item.source, item.line, {"text_a": text_a, "text_b": text_b})
                yield item
        elif self.format == "jsonl":
            for item in formats.iter_jsonl(path):
                yield pick_columns(item, self.columns) if isinstance(item, formats.Record) else item
        elif self.format == "parquet":
            for item in formats.iter_parquet(path):
                yield pick_columns(item, self.columns)
        else:
            raise BertprepError("unknown input format %r" % self.format)


def _keep_language(record, language):
    if "language" in record.value and str(record.value["language"]).strip() != language:
        yield beam.pvalue.TaggedOutput("filtered", record)
    else:
        yield record


class _Convert(beam.DoFn):
    def __init__(self, options: ClassifierOptions, spec: features_lib.LabelSpec, file_indexes: Dict[str, int]):
        self._options = options
        self._file_indexes = file_indexes
        self._spec = spec

    def setup(self):
        self._tokenizer = self._options.load_tokenizer()
        self._schemas = {}

    def _schema(self, labels):
        size = len(labels)
        if size not in self._schemas:
            self._schemas[size] = schemas.for_kind(KIND, schema_config(self._options, size))
        return self._schemas[size]

    def process(self, record, labels):
        example_id = finetune_steps.example_id(self._file_indexes[record.source], record.line)
        try:
            values, facts = features_lib.convert_example(record.value, labels, self._spec, self._tokenizer,
                                                         self._options.max_seq_length, example_id)
        except features_lib.ExampleError as error:
            yield beam.pvalue.TaggedOutput("dead", formats.DeadLetter(record.source, record.line, str(error),
                                                                      record.value))
            return
        yield finetune_steps.id_key(example_id), self._schema(labels).encode(values)
        yield from finetune_steps.unknown_word_outputs(facts["unknown_words"])
        yield beam.pvalue.TaggedOutput("facts", {
            statistics.SEQUENCE_LENGTH_HISTOGRAM: {str(facts["length"]): 1},
            statistics.TOKENS_PER_INSTANCE: {str(facts["tokens"]): 1},
            statistics.UNK_RATE: {"unk": facts["unk"], "tokens": facts["tokens"]},
            statistics.LABEL_DISTRIBUTION: finetune_steps.histogram(facts["labels"]),
            "truncated_examples": facts["truncated"],
        })


def schema_config(options: ClassifierOptions, num_labels: int) -> dict:
    result = {"max_seq_length": options.max_seq_length, "label_type": options.label_type}
    if options.multi_label:
        result.update({"multi_label": True, "num_labels": num_labels})
    return result


def label_info(options: ClassifierOptions, info: dict) -> dict:
    """What only the run learns: the label list (and, for multi-label, the vector length)."""
    if options.label_type == "float":
        return {"labels": [], "num_labels": 1}
    labels = list(info.get("stats", {}).get("label_list") or [])
    updates = {"labels": labels, "num_labels": len(labels)}
    if options.multi_label and labels:
        updates["schema"] = schemas.for_kind(KIND, schema_config(options, len(labels))).to_json()
    return updates


def build_pipeline(pipeline, options: ClassifierOptions, plan: finetune_steps.FinetunePlan) -> JobOutputs:
    rows = plan.rows
    indexes = finetune_steps.file_indexes(plan.input_paths)
    read = pipeline | "Read" >> beam_io.ReadRecords(plan.input_paths, RowReader(rows.format, dict(rows.columns),
                                                                               rows.header))
    kept = read.records | "Language" >> beam.FlatMap(_keep_language, options.language).with_outputs(
        "filtered", main="rows")
    spec = label_spec(options, rows)
    if rows.labels is not None:
        labels = pipeline | "GivenLabels" >> beam.Create([list(rows.labels)])
    elif rows.unlabeled or options.label_type == "float":
        labels = pipeline | "NoLabels" >> beam.Create([[]])
    else:
        labels = (kept.rows
                  | "RowLabels" >> beam.Map(lambda record: spec.raw_labels(record.value.get("label")))
                  | "Discover" >> finetune_steps.DiscoverLabels())
    converted = kept.rows | "Convert" >> beam.ParDo(_Convert(options, spec, indexes),
                                                    beam.pvalue.AsSingleton(labels)) \
        .with_outputs("dead", "facts", "unknown", main="records")
    shards, dead_counts, stat_pcs = finetune_steps.write_records_and_dead_letters(
        options, plan.num_shards, KIND, converted, (read.dead_letters, converted.dead), labels, SUMMED_STATS)
    # The schema's label count when the labels are known now; a discovered multi-label count is learned info.
    num_labels = len(rows.labels) if rows.labels else 1
    info = {"config": dict(options.to_config(rows), num_shards=plan.num_shards),
            "schema": schemas.for_kind(KIND, schema_config(options, num_labels)).to_json(),
            **plan.vocabulary_info}
    return JobOutputs(
        KIND, info, shards=shards, dead_letter_counts=dead_counts, read=beam_io.count_inputs(read),
        written=beam_io.count(converted.records, "CountWritten"),
        job_counts={"filtered": beam_io.count(kept.filtered, "CountFiltered")}, stats=stat_pcs,
        accounting=("read", "written", "dead_lettered", "filtered"),
        learned_info=functools.partial(label_info, options), vocabulary=plan.vocabulary)
