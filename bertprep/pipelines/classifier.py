"""`bertprep classifier`: sentence and sentence-pair classification TFRecords (run_classifier.py features).

Wiring: read rows (TSV/CSV/JSONL/Parquet/plain text) → keep the preset's language → labels (given, or
discovered: a combiner over every row's labels, sorted, used as a side input) → features → shards
sorted by example id; dead letters for what cannot be converted; info.json with the label list.
"""
import argparse

import apache_beam as beam

from bertprep import schemas
from bertprep.errors import BertprepError
from bertprep.options.classifier import ClassifierOptions
from bertprep.io import beam_io, readers
from bertprep.runtime import run_report
from bertprep.schemas import statistics
from bertprep.pipelines import common, finetune_common
from bertprep.transforms.finetune import classifier_features as features_lib

COMMAND = "classifier"
HELP = "sentence(-pair) classification TFRecords: single, pair, multi-label, regression (run_classifier.py features)"
ACCEPTS_BEAM_ARGS = True
KIND = "classifier"
DESCRIPTION = """Turn labelled sentences or sentence pairs into the features run_classifier.py writes:
input_ids, input_mask, segment_ids ([CLS] a [SEP] b [SEP], pairs truncated from the end of the longer side),
label_ids, is_real_example, plus example_id = input file index (sorted inputs) * 2**32 + line/row number.

Inputs: TSV/CSV (columns by header name or 0-based index), JSONL (keys), Parquet (columns), or plain text
with `a ||| b` pairs (unlabelled). --preset gives the column layout of the GLUE/CLUE processors in
run_classifier.py (mrpc, cola, mnli, xnli [dev/test files, filtered to --language], xnli-train,
chnsenticorp); explicit column options override it.

Labels: --labels a,b,c (or a file, one a line) fixes the order; otherwise every label seen is collected
(sorted: numerically when all are integers) and written to info.json. --multi-label makes label_ids a
multi-hot vector of num_labels (cells split on --label-delimiter); --label-type float is regression.
Rows with an unknown label, a missing column or empty text go to dead_letters/ with the reason."""

FORMATS = ("auto", "tsv", "csv", "jsonl", "parquet", "text")
STAT_NAMES = (statistics.SEQUENCE_LENGTH_HISTOGRAM, statistics.TOKENS_PER_INSTANCE, statistics.UNK_RATE,
              statistics.LABEL_DISTRIBUTION, "truncated_examples", "label_list")
SIDE_FILES = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ClassifierOptions.add_arguments(parser)


def validate(config: dict) -> dict:
    config = dict(config)
    if int(config.get("max_seq_length", 0)) < 3:
        raise BertprepError("--max-seq-length must be at least 3 (room for [CLS] and [SEP]), got %s"
                            % config.get("max_seq_length"))
    preset = features_lib.PRESETS.get(config.get("preset") or "")
    fmt = config.get("format") or "auto"
    if fmt == "auto":
        fmt = preset.format if preset else _guess_format(config["input"])
    config["format"] = fmt
    if config.get("label_type") == "float" and config.get("multi_label"):
        raise BertprepError("--multi-label and --label-type float cannot be combined")
    columns = {}
    for name in ("text_a", "text_b", "label"):
        value = config.get(name)
        if value is None and preset is not None:
            value = getattr(preset, name)
        if value is None and name in ("text_a", "label") and fmt != "text":
            value = name
        columns[name] = value
    if config.get("unlabeled") or fmt == "text":
        columns["label"] = None
        config["unlabeled"] = True
    if preset is not None and preset.language is not None:
        columns["language"] = preset.language
    config["columns"] = {name: _as_column(value) for name, value in columns.items() if value is not None}
    if config.get("header") is None:
        config["header"] = preset.header if preset else True
    labels = finetune_common.read_labels_option(config.get("labels")) if isinstance(config.get("labels"), str) \
        else config.get("labels")
    if labels is None and preset is not None and config.get("label_type", "int") == "int":
        labels = list(preset.labels)
    config["labels"] = labels
    if config.get("unlabeled") and config.get("multi_label") and not labels:
        raise BertprepError("--unlabeled --multi-label needs --labels (the vector length)")
    config["label_rename"] = [list(pair) for pair in preset.rename] if preset else []
    return config


def _guess_format(pattern: str) -> str:
    first = pattern.split(",")[0].lower()
    guessed = readers.guess_format(first, default="text")
    return "jsonl" if guessed == "jsonl" else guessed


def _as_column(value):
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def label_spec(config: dict) -> features_lib.LabelSpec:
    return features_lib.LabelSpec(label_type=config.get("label_type", "int"),
                                  multi_label=bool(config.get("multi_label")),
                                  delimiter=config.get("label_delimiter", ","),
                                  rename=tuple(tuple(pair) for pair in config.get("label_rename", [])),
                                  unlabeled=bool(config.get("unlabeled")))


class RowReader:
    """One input file → Records of {text_a, text_b, label, language} (the columns given) and DeadLetters."""

    def __init__(self, config: dict):
        self.format = config["format"]
        self.columns = dict(config["columns"])
        self.header = bool(config["header"])

    def __call__(self, path):
        if self.format in ("tsv", "csv"):
            yield from readers.iter_table(path, self.columns, "\t" if self.format == "tsv" else ",", self.header)
        elif self.format == "text":
            for item in readers.iter_file(path, "text"):
                if isinstance(item, readers.Record):
                    text_a, text_b = features_lib.split_plain_text(item.value)
                    item = readers.Record(item.source, item.line, {"text_a": text_a, "text_b": text_b})
                yield item
        elif self.format == "jsonl":
            for item in readers.iter_jsonl(path):
                yield self._pick(item) if isinstance(item, readers.Record) else item
        elif self.format == "parquet":
            for item in readers.iter_parquet(path):
                yield self._pick(item)
        else:
            raise BertprepError("unknown input format %r" % self.format)

    def _pick(self, record):
        value = record.value
        row = {}
        for name, column in self.columns.items():
            if isinstance(value, dict):
                keys = list(value)
                key = keys[column] if isinstance(column, int) and -len(keys) <= column < len(keys) else column
                present = key in value
            elif isinstance(value, list):
                key = column
                present = isinstance(column, int) and -len(value) <= column < len(value)
            else:
                return readers.DeadLetter(record.source, record.line, "bad record: expected an object or a list",
                                          value)
            if not present:
                return readers.DeadLetter(record.source, record.line, "missing column: %r" % (column,), value)
            row[name] = value[key]
        return readers.Record(record.source, record.line, row)


def _keep_language(record, language):
    if "language" in record.value and str(record.value["language"]).strip() != language:
        yield beam.pvalue.TaggedOutput("filtered", record)
    else:
        yield record


class _Convert(beam.DoFn):
    def __init__(self, config: dict, file_indexes: dict):
        self._config = config
        self._file_indexes = file_indexes
        self._spec = label_spec(config)

    def setup(self):
        self._tokenizer = common.load_job_tokenizer(self._config)
        self._schemas = {}

    def _schema(self, labels):
        size = len(labels)
        if size not in self._schemas:
            self._schemas[size] = schemas.for_kind(KIND, schema_config(self._config, size))
        return self._schemas[size]

    def process(self, record, labels):
        example_id = finetune_common.example_id(self._file_indexes[record.source], record.line)
        try:
            values, facts = features_lib.convert_example(record.value, labels, self._spec, self._tokenizer,
                                                         self._config["max_seq_length"], example_id)
        except features_lib.ExampleError as error:
            yield beam.pvalue.TaggedOutput("dead", readers.DeadLetter(record.source, record.line, str(error),
                                                                      record.value))
            return
        yield finetune_common.id_key(example_id), self._schema(labels).encode(values)
        yield from finetune_common.unknown_word_outputs(facts["unknown_words"])
        yield beam.pvalue.TaggedOutput("facts", {
            statistics.SEQUENCE_LENGTH_HISTOGRAM: {str(facts["length"]): 1},
            statistics.TOKENS_PER_INSTANCE: {str(facts["tokens"]): 1},
            statistics.UNK_RATE: {"unk": facts["unk"], "tokens": facts["tokens"]},
            statistics.LABEL_DISTRIBUTION: finetune_common.histogram(facts["labels"]),
            "truncated_examples": facts["truncated"],
        })


def schema_config(config: dict, num_labels: int) -> dict:
    result = {"max_seq_length": config["max_seq_length"], "label_type": config.get("label_type", "int")}
    if config.get("multi_label"):
        result.update({"multi_label": True, "num_labels": num_labels})
    return result


def label_info(info: dict) -> dict:
    """What only the run learns: the label list (and, for multi-label, the vector length)."""
    labels = list(info.get("stats", {}).get("label_list") or [])
    config = info["config"]
    if config.get("label_type") == "float":
        return {"labels": [], "num_labels": 1}
    updates = {"labels": labels, "num_labels": len(labels)}
    if config.get("multi_label") and labels:
        updates["schema"] = schemas.for_kind(KIND, schema_config(config, len(labels))).to_json()
    return updates


def build_pipeline(pipeline, options) -> None:
    config = options if isinstance(options, dict) else options.to_config()  # transitional: typed options
    config = validate(config)
    config["num_shards"] = finetune_common.resolve_num_shards(config)
    compression = config.get("compression", "none")
    indexes = finetune_common.file_indexes(config["input"])
    read = pipeline | "Read" >> beam_io.ReadRecords(config["input"], RowReader(config))
    kept = read.records | "Language" >> beam.FlatMap(_keep_language, config.get("language", "zh")).with_outputs(
        "filtered", main="rows")
    spec = label_spec(config)
    if config.get("labels") is not None:
        labels = pipeline | "GivenLabels" >> beam.Create([list(config["labels"])])
    elif config.get("unlabeled") or config.get("label_type") == "float":
        labels = pipeline | "NoLabels" >> beam.Create([[]])
    else:
        labels = (kept.rows
                  | "RowLabels" >> beam.Map(lambda record: spec.raw_labels(record.value.get("label")))
                  | "Discover" >> finetune_common.DiscoverLabels())
    converted = kept.rows | "Convert" >> beam.ParDo(_Convert(config, indexes), beam.pvalue.AsSingleton(labels)) \
        .with_outputs("dead", "facts", "unknown", main="records")
    shards, dead_counts, stat_pcs = finetune_common.write_records_and_dead_letters(
        config, KIND, converted, (read.dead_letters, converted.dead), labels, STAT_NAMES[:-1])
    num_labels = len(config["labels"]) if config.get("labels") else 1
    info = {"config": config, "schema": schemas.for_kind(KIND, schema_config(config, num_labels)).to_json(),
            **finetune_common.vocabulary_info(config)}
    finalize_inputs = beam_io.FinalizeInputs(
        shards=shards, dead_letter_counts=dead_counts, read=beam_io.count_inputs(read),
        written=beam_io.count(converted.records, "CountWritten"),
        job_counts={"filtered": beam_io.count(kept.filtered, "CountFiltered")}, stats=stat_pcs)
    _ = pipeline | "Finalize" >> beam_io.Finalize(config["output"], KIND, info, finalize_inputs, config["num_shards"],
                                                  compression,
                                                  accounting=("read", "written", "dead_lettered", "filtered"),
                                                  publish_hooks=[finetune_common.info_hook(label_info)],
                                                  report=run_report.write_run_report)


def run(args) -> int:
    options = ClassifierOptions.from_namespace(args)
    config = validate(options.to_config())
    return finetune_common.run_finetune_job(build_pipeline, options, config, args.beam_args, SIDE_FILES)
