"""`bertprep squad`: SQuAD v1.1/v2.0 (and CMRC 2018) TFRecords with run_squad.py's features.

Wiring: read each SQuAD JSON file whole (one JSON document; SQuAD-sized files are tens of MB) and emit
its questions → per question, in parallel: example (answer located from answer_start) and its windows
→ a global numbering: one combiner collects (question position, feature count), sorts by position
(input file in sorted order, then article, paragraph, question) and turns counts into offsets, so
`example_index` and `unique_id` are the reference's (unique_id from 1000000000 in that order) with any
number of workers → TFRecord shards sorted by unique_id, and for evaluation the side files that
squad-predict needs (features: tokens, token_to_orig_map, token_is_max_context; examples: context,
words, gold answers).
"""
import argparse
import io
import json

import apache_beam as beam

from bertprep import schemas
from bertprep.errors import BertprepError
from bertprep.options.squad import SquadOptions
from bertprep.io import beam_io, readers
from bertprep.runtime import run_report
from bertprep.schemas import statistics, tables
from bertprep.io import output as output_lib
from bertprep.pipelines import common, finetune_common, unknown_words
from bertprep.seeding import stable_hash
from bertprep.transforms.finetune import squad_examples
from bertprep.transforms.finetune import squad_features

COMMAND = "squad"
HELP = "SQuAD v1.1/v2.0 (and Chinese CMRC) TFRecords with run_squad.py features, plus the eval side files"
ACCEPTS_BEAM_ARGS = True
FIRST_UNIQUE_ID = 1000000000
SIDE_FEATURES = "squad_features"
SIDE_EXAMPLES = "squad_examples"
DESCRIPTION = """Turn SQuAD-format JSON into the features run_squad.py writes. --split train (the reference's
is_training) gives unique_id, input_ids, input_mask, segment_ids, start_positions, end_positions and
is_impossible (positions 0 when the answer is not inside the window, or the question has none);
--split eval gives unique_id, input_ids, input_mask, segment_ids and side files (JSONL, or Parquet with
--side-file-format parquet): squad_features-* (unique_id, example_index, qas_id, doc_span_index,
doc_span_start, tokens, token_to_orig_map, token_is_max_context) and squad_examples-* (qas_id,
question, context, doc_tokens, word character spans, gold answers) — what `bertprep squad-predict` needs
to turn logits into text.

unique_id counts from 1000000000 and example_index from 0 in input order (files sorted by name, then
article, paragraph and question), exactly as the reference numbers them, whatever the worker count.
Each JSON file is read whole by one worker (it is one JSON document).

Text written without spaces (Chinese, Japanese): every CJK ideograph is its own word (--cjk-words auto
does this for paragraphs where ideographs and kana are at least 30% of the characters), so answers are
located from answer_start character by character. Training questions whose answer text does not match
the context at answer_start or that lack exactly one answer go to dead_letters/, and so (unless
--unusable-answers keep, the reference's behaviour) do answers that start or end inside a word piece or
that no window holds whole."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    SquadOptions.add_arguments(parser)


def kind_for(config: dict) -> str:
    return "squad_train" if config.get("split", "train") == "train" else "squad_eval"


def validate(config: dict) -> dict:
    config = dict(config)
    for name in ("max_seq_length", "doc_stride", "max_query_length"):
        if int(config.get(name, 0)) <= 0:
            raise BertprepError("--%s must be positive, got %s" % (name.replace("_", "-"), config.get(name)))
    if config["max_seq_length"] <= config["max_query_length"] + 3:
        raise BertprepError("--max-seq-length (%d) must be greater than --max-query-length (%d) + 3"
                            % (config["max_seq_length"], config["max_query_length"]))
    if config.get("side_file") is None:
        config["side_file"] = config.get("split", "train") == "eval"
    return config


def side_file_names(config: dict) -> dict:
    suffix = ".parquet" if config.get("side_file_format") == "parquet" else ".jsonl"
    shards = config["num_shards"]
    return {"format": config.get("side_file_format", "jsonl"),
            "features": [output_lib.shard_name(SIDE_FEATURES, i, shards, suffix) for i in range(shards)],
            "examples": [output_lib.shard_name(SIDE_EXAMPLES, i, shards, suffix) for i in range(shards)]}


class _ConvertQuestion(beam.DoFn):
    """Question record → (position, example row, feature dicts); dead letters; stats facts."""

    def __init__(self, config: dict, file_indexes: dict):
        self._config = config
        self._file_indexes = file_indexes

    def setup(self):
        self._tokenizer = common.load_job_tokenizer(self._config)

    def process(self, record):
        config = self._config
        is_training = config.get("split", "train") == "train"
        if squad_examples.looks_unanswerable(record.value["qa"]):
            # Counted for every question, kept or not: SQuAD 2.0 data read without --version-2-with-negative
            # dead-letters these (or, for eval, reads them as answerable), and the warning names the fix.
            yield beam.pvalue.TaggedOutput("facts", {"unanswerable_questions": 1})
        try:
            example = squad_examples.make_example(record.value, is_training,
                                                  bool(config.get("version_2_with_negative")),
                                                  config.get("cjk_words", "auto"))
            features, facts = squad_features.convert_example(
                example, self._tokenizer, config["max_seq_length"], config["doc_stride"], config["max_query_length"],
                is_training, config.get("unusable_answers", "dead-letter"))
        except squad_examples.AnswerError as error:
            yield beam.pvalue.TaggedOutput("dead", readers.DeadLetter(record.source, record.line, str(error),
                                                                      record.value["qa"]))
            return
        position = (self._file_indexes[record.source], record.line)
        example_row = {
            "qas_id": example.qas_id, "question_text": example.question_text, "context": example.context,
            "doc_tokens": example.doc_tokens, "word_spans": [list(span) for span in example.word_spans],
            "answers": list(example.answers),
            "is_impossible": bool(config.get("version_2_with_negative"))
            and bool(record.value["qa"].get("is_impossible")),
            "title": record.value.get("title") or "", "source": record.source, "line": record.line,
        }
        yield position, (example_row, features)
        yield beam.pvalue.TaggedOutput("sizes", (position, len(features)))
        yield from finetune_common.unknown_word_outputs(facts["unknown_words"])
        answer_kind = "impossible" if example.is_impossible else ("answer" if is_training else "question")
        yield beam.pvalue.TaggedOutput("facts", {
            statistics.SEQUENCE_LENGTH_HISTOGRAM: finetune_common.histogram(facts["lengths"]),
            "features_per_question": {str(facts["features"]): 1},
            statistics.TOKENS_PER_INSTANCE: {str(facts["tokens"]): 1},
            statistics.UNK_RATE: {"unk": facts["unk"], "tokens": facts["tokens"]},
            "questions_truncated": facts["query_truncated"],
            "answer_windows": ({"with_answer": facts["windows_with_answer"],
                                "without_answer": facts["features"] - facts["windows_with_answer"]}
                               if is_training and not example.is_impossible else {}),
            "kept_questions": {answer_kind: 1},
            "unanswerable_questions": 0,  # so the stat is a number even when there are none
        })


class _Numbering(beam.CombineFn):
    """(position, feature count) of every kept question → {position: (example_index, first unique_id)}.

    Holds one small tuple per question (a few MB for SQuAD 2.0's 130k questions) in one worker.
    """

    def create_accumulator(self):
        return []

    def add_input(self, accumulator, item):
        accumulator.append(item)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = []
        for accumulator in accumulators:
            merged.extend(accumulator)
        return merged

    def extract_output(self, accumulator):
        numbering = {}
        next_id = FIRST_UNIQUE_ID
        for example_index, (position, count) in enumerate(sorted(accumulator)):
            numbering[position] = (example_index, next_id)
            next_id += count
        return numbering


class _Number(beam.DoFn):
    """Give a question's features their ids; encode records and side rows."""

    def __init__(self, config: dict):
        self._config = config
        self._kind = kind_for(config)

    def setup(self):
        self._schema = schemas.for_kind(self._kind, {"max_seq_length": self._config["max_seq_length"]})

    def process(self, item, numbering):
        position, (example_row, features) = item
        example_index, first_id = numbering[position]
        is_training = self._kind == "squad_train"
        side = self._config.get("side_file")
        for offset, feature in enumerate(features):
            unique_id = first_id + offset
            values = {"unique_id": unique_id, "input_ids": feature["input_ids"],
                      "input_mask": feature["input_mask"], "segment_ids": feature["segment_ids"]}
            if is_training:
                values.update({"start_positions": feature["start_position"],
                               "end_positions": feature["end_position"],
                               "is_impossible": feature["is_impossible"]})
            yield finetune_common.id_key(unique_id), self._schema.encode(values)
            if side:
                row = {"unique_id": unique_id, "example_index": example_index, "qas_id": example_row["qas_id"],
                       "doc_span_index": feature["doc_span_index"], "doc_span_start": feature["doc_span_start"],
                       "tokens": feature["tokens"],
                       "token_to_orig_map": feature["token_to_orig_map"],
                       "token_is_max_context": feature["token_is_max_context"]}
                if is_training:
                    row.update({"start_position": feature["start_position"], "end_position": feature["end_position"],
                                "is_impossible": bool(feature["is_impossible"])})
                yield beam.pvalue.TaggedOutput("side_features", (unique_id, row))
        if side:
            yield beam.pvalue.TaggedOutput("side_examples", (example_index, dict(example_row,
                                                                                 example_index=example_index)))


def feature_row_json(row: dict) -> dict:
    """A side-file feature row as JSON (map keys become strings, as in the reference's logs and goldens)."""
    row = dict(row)
    row["token_to_orig_map"] = {str(k): v for k, v in row["token_to_orig_map"].items()}
    row["token_is_max_context"] = {str(k): v for k, v in row["token_is_max_context"].items()}
    return row


def _parquet_bytes(rows, table: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as parquet

    if table == SIDE_FEATURES:
        schema = tables.squad_side_features_table(bool(rows and "start_position" in rows[0]))
        data = {name: [row[name] for row in rows] for name in schema.names}
        for name in ("token_to_orig_map", "token_is_max_context"):
            data[name] = [sorted(mapping.items()) for mapping in data[name]]
    else:
        schema = tables.squad_side_examples_table()
        data = {name: [row[name] for row in rows] for name in schema.names}
    buffer = io.BytesIO()
    parquet.write_table(pa.table(data, schema=schema), buffer)
    return buffer.getvalue()


class _WriteSideShard(beam.DoFn):
    def __init__(self, directory: str, table: str, num_shards: int, file_format: str):
        self._args = (directory, table, num_shards, file_format)

    def process(self, shard_and_rows):
        directory, table, num_shards, file_format = self._args
        index, keyed = shard_and_rows
        rows = [row for _, row in sorted(keyed, key=lambda item: item[0])]
        suffix = ".parquet" if file_format == "parquet" else ".jsonl"
        path = output_lib.join(directory, output_lib.shard_name(table, index, num_shards, suffix))
        yield write_side_file(path, rows, table, file_format)


def write_side_file(path: str, rows, table: str, file_format: str) -> dict:
    if file_format == "parquet":
        output_lib.write_bytes_atomically(path, _parquet_bytes(rows, table))
    else:
        with output_lib.ShardWriter(path, framing="lines") as writer:
            for row in rows:
                row = feature_row_json(row) if table == SIDE_FEATURES else row
                writer.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    return {"table": table, "file": path.rsplit("/", 1)[-1], "rows": len(rows)}


class _FillSideFiles(beam.DoFn):
    """Write empty side files for shards no row reached, so every listed file exists; sum the rows."""

    def __init__(self, directory: str, names: dict):
        self._directory = directory
        self._names = names

    def process(self, _, results):
        written = {result["file"] for result in results}
        results = list(results)
        for table, key in ((SIDE_FEATURES, "features"), (SIDE_EXAMPLES, "examples")):
            for name in self._names[key]:
                if name not in written:
                    results.append(write_side_file(output_lib.join(self._directory, name), [], table,
                                                   self._names["format"]))
        yield {"features_rows": sum(r["rows"] for r in results if r["table"] == SIDE_FEATURES),
               "examples_rows": sum(r["rows"] for r in results if r["table"] == SIDE_EXAMPLES),
               "files": len(results)}


def _write_side(rows, label: str, directory: str, table: str, num_shards: int, file_format: str):
    return (rows
            | label + "Shard" >> beam.Map(lambda kv: (stable_hash(b"side", kv[0]) % num_shards, kv))
            | label + "Group" >> beam.GroupByKey()
            | label + "Write" >> beam.ParDo(_WriteSideShard(directory, table, num_shards, file_format)))


def _answers_stat(dead_counts, kept):
    return {"kept": kept, "dropped": dict(sorted((dead_counts or {}).items()))}


def build_pipeline(pipeline, options) -> None:
    config = options if isinstance(options, dict) else options.to_config()  # transitional: typed options
    config = validate(config)
    config["num_shards"] = finetune_common.resolve_num_shards(config)
    kind = kind_for(config)
    compression = config.get("compression", "none")
    indexes = finetune_common.file_indexes(config["input"])
    read = pipeline | "Read" >> beam_io.ReadRecords(config["input"], squad_examples.iter_squad_file)
    converted = (read.records
                 | "Spread" >> beam.Reshuffle()
                 | "Convert" >> beam.ParDo(_ConvertQuestion(config, indexes)).with_outputs(
                     "dead", "sizes", "facts", "unknown", main="questions"))
    numbering = converted.sizes | "Numbering" >> beam.CombineGlobally(_Numbering())
    numbered = converted.questions | "Number" >> beam.ParDo(_Number(config), beam.pvalue.AsSingleton(numbering)) \
        .with_outputs("side_features", "side_examples", main="records")
    dead = (read.dead_letters, converted.dead) | "AllDead" >> beam.Flatten()
    shards = numbered.records | "Write" >> beam_io.WriteShardedRecords(config["output"], kind, config["num_shards"],
                                                                      compression)
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(config["output"])
    written = converted.sizes | "CountWritten" >> beam.combiners.Count.Globally()
    stats = converted.facts | "SumStats" >> beam.CombineGlobally(finetune_common.SumStats())
    stat_pcs = finetune_common.stat_fields(stats, (statistics.SEQUENCE_LENGTH_HISTOGRAM, "features_per_question",
                                                   statistics.TOKENS_PER_INSTANCE, statistics.UNK_RATE,
                                                   "questions_truncated", "answer_windows", "kept_questions",
                                                   "unanswerable_questions"))
    stat_pcs["unknown_words"] = converted.unknown | "UnknownWords" >> unknown_words.SummarizeUnknownWords()
    stat_pcs[statistics.ANSWERS] = dead_counts | "AnswersStat" >> beam.Map(_answers_stat,
                                                                            beam.pvalue.AsSingleton(written))
    info = {"config": config, "schema": schemas.for_kind(kind, {"max_seq_length": config["max_seq_length"]}).to_json(),
            **finetune_common.vocabulary_info(config), "first_unique_id": FIRST_UNIQUE_ID}
    if config["side_file"]:
        names = side_file_names(config)
        info["side_files"] = names
        side_results = (
            (_write_side(numbered.side_features, "SideFeatures", config["output"], SIDE_FEATURES,
                         config["num_shards"], names["format"]),
             _write_side(numbered.side_examples, "SideExamples", config["output"], SIDE_EXAMPLES,
                         config["num_shards"], names["format"]))
            | "SideResults" >> beam.Flatten())
        # Finalize waits for this one-element summary, so the marker comes after every side file.
        stat_pcs["side_files"] = (pipeline | "SideTrigger" >> beam.Create([None])
                                  | "FillSide" >> beam.ParDo(_FillSideFiles(config["output"], names),
                                                             beam.pvalue.AsList(side_results)))
    finalize_inputs = beam_io.FinalizeInputs(
        shards=shards, dead_letter_counts=dead_counts, read=beam_io.count_inputs(read), written=written,
        job_counts={"features": beam_io.count(numbered.records, "CountFeatures")}, stats=stat_pcs)
    _ = pipeline | "Finalize" >> beam_io.Finalize(config["output"], kind, info, finalize_inputs, config["num_shards"],
                                                  compression, report=run_report.write_run_report)


def run(args) -> int:
    options = SquadOptions.from_namespace(args)
    config = validate(options.to_config())
    return finetune_common.run_finetune_job(build_pipeline, options, config, args.beam_args,
                                            extra_outputs=("%s-*" % SIDE_FEATURES, "%s-*" % SIDE_EXAMPLES))
