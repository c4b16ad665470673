"""The `squad` job's Beam graph: SQuAD v1.1/v2.0 (and CMRC 2018) TFRecords with run_squad.py's features.

Wiring: read each SQuAD JSON file whole (one JSON document; SQuAD-sized files are tens of MB) and emit
its questions → per question, in parallel: example (answer located from answer_start) and its windows
→ a global numbering: one combiner collects (question position, feature count), sorts by position
(input file in sorted order, then article, paragraph, question) and turns counts into offsets, so
`example_index` and `unique_id` are the reference's (unique_id from 1000000000 in that order) with any
number of workers → TFRecord shards sorted by unique_id, and for evaluation the side files that
squad-predict needs (features: tokens, token_to_orig_map, token_is_max_context; examples: context,
words, gold answers; their format: bertprep/io/formats/squad_side_files.py).
The command line is bertprep/commands/squad.py, the options bertprep/options/squad.py.
"""
from typing import Dict

import apache_beam as beam

from bertprep import schemas
from bertprep.io import beam_io, formats
from bertprep.schemas import statistics
from bertprep.io import output as output_lib
from bertprep.io.formats import squad_side_files
from bertprep.io.formats.squad import iter_squad_file
from bertprep.options.squad import SquadOptions
from bertprep.pipelines import finetune_steps, unknown_words
from bertprep.pipelines.registry import JobOutputs
from bertprep.seeding import stable_hash
from bertprep.transforms.finetune import squad_examples
from bertprep.transforms.finetune import squad_features

FIRST_UNIQUE_ID = 1000000000
# The facts each converted question reports, summed over the run into the report's statistics of these names.
SUMMED_STATS = (statistics.SEQUENCE_LENGTH_HISTOGRAM, "features_per_question", statistics.TOKENS_PER_INSTANCE,
                statistics.UNK_RATE, "questions_truncated", "answer_windows", "kept_questions",
                "unanswerable_questions")


class _ConvertQuestion(beam.DoFn):
    """Question record → (position, example row, feature dicts); dead letters; stats facts."""

    def __init__(self, options: SquadOptions, file_indexes: Dict[str, int]):
        self._options = options
        self._file_indexes = file_indexes

    def setup(self):
        self._tokenizer = self._options.load_tokenizer()

    def process(self, record):
        options = self._options
        is_training = options.is_training
        if squad_examples.looks_unanswerable(record.value["qa"]):
            # Counted for every question, kept or not: SQuAD 2.0 data read without --version-2-with-negative
            # dead-letters these (or, for eval, reads them as answerable), and the warning names the fix.
            yield beam.pvalue.TaggedOutput("facts", {"unanswerable_questions": 1})
        try:
            example = squad_examples.make_example(record.value, is_training, options.version_2_with_negative,
                                                  options.cjk_words)
            features, facts = squad_features.convert_example(
                example, self._tokenizer, options.max_seq_length, options.doc_stride, options.max_query_length,
                is_training, options.unusable_answers)
        except squad_examples.AnswerError as error:
            yield beam.pvalue.TaggedOutput("dead", formats.DeadLetter(record.source, record.line, str(error),
                                                                      record.value["qa"]))
            return
        position = (self._file_indexes[record.source], record.line)
        example_row = {
            "qas_id": example.qas_id, "question_text": example.question_text, "context": example.context,
            "doc_tokens": example.doc_tokens, "word_spans": [list(span) for span in example.word_spans],
            "answers": list(example.answers),
            "is_impossible": options.version_2_with_negative and bool(record.value["qa"].get("is_impossible")),
            "title": record.value.get("title") or "", "source": record.source, "line": record.line,
        }
        yield position, (example_row, features)
        yield beam.pvalue.TaggedOutput("sizes", (position, len(features)))
        yield from finetune_steps.unknown_word_outputs(facts["unknown_words"])
        answer_kind = "impossible" if example.is_impossible else ("answer" if is_training else "question")
        yield beam.pvalue.TaggedOutput("facts", {
            statistics.SEQUENCE_LENGTH_HISTOGRAM: finetune_steps.histogram(facts["lengths"]),
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

    def __init__(self, options: SquadOptions):
        self._options = options

    def setup(self):
        self._schema = schemas.for_kind(self._options.kind, {"max_seq_length": self._options.max_seq_length})

    def process(self, item, numbering):
        position, (example_row, features) = item
        example_index, first_id = numbering[position]
        is_training = self._options.is_training
        side = self._options.writes_side_files
        for offset, feature in enumerate(features):
            unique_id = first_id + offset
            values = {"unique_id": unique_id, "input_ids": feature["input_ids"],
                      "input_mask": feature["input_mask"], "segment_ids": feature["segment_ids"]}
            if is_training:
                values.update({"start_positions": feature["start_position"],
                               "end_positions": feature["end_position"],
                               "is_impossible": feature["is_impossible"]})
            yield finetune_steps.id_key(unique_id), self._schema.encode(values)
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


class _SideShardWriter:
    """One side file: its (key, row) pairs sorted by key (WriteEveryShard calls it for every shard)."""

    def __init__(self, directory: str, table: str, num_shards: int, file_format: str):
        self._args = (directory, table, num_shards, file_format)

    def __call__(self, index, keyed):
        directory, table, num_shards, file_format = self._args
        rows = [row for _, row in sorted(keyed, key=lambda item: item[0])]
        suffix = ".parquet" if file_format == "parquet" else ".jsonl"
        path = output_lib.join(directory, output_lib.shard_name(table, index, num_shards, suffix))
        yield squad_side_files.write_side_file(path, rows, table, file_format)


def _side_files_stat(results) -> dict:
    results = list(results)
    return {"features_rows": sum(r["rows"] for r in results if r["table"] == squad_side_files.SIDE_FEATURES),
            "examples_rows": sum(r["rows"] for r in results if r["table"] == squad_side_files.SIDE_EXAMPLES),
            "files": len(results)}


def _write_side(rows, label: str, directory: str, table: str, num_shards: int, file_format: str):
    return (rows
            | label + "Shard" >> beam.Map(lambda kv: (stable_hash(b"side", kv[0]) % num_shards, kv))
            | label + "Write" >> beam_io.WriteEveryShard(num_shards, _SideShardWriter(directory, table, num_shards,
                                                                                      file_format)))


def _answers_stat(dead_counts, kept):
    return {"kept": kept, "dropped": dict(sorted((dead_counts or {}).items()))}


def plan(options: SquadOptions) -> finetune_steps.FinetunePlan:
    """The input listed, the shard count and the vocabulary: once, on the driver."""
    return finetune_steps.plan_finetune(options)


def build_pipeline(pipeline, options: SquadOptions, plan: finetune_steps.FinetunePlan) -> JobOutputs:
    kind = options.kind
    num_shards = plan.num_shards
    indexes = finetune_steps.file_indexes(plan.input_paths)
    read = pipeline | "Read" >> beam_io.ReadRecords(plan.input_paths, iter_squad_file)
    converted = (read.records
                 | "Spread" >> beam.Reshuffle()
                 | "Convert" >> beam.ParDo(_ConvertQuestion(options, indexes)).with_outputs(
                     "dead", "sizes", "facts", "unknown", main="questions"))
    numbering = converted.sizes | "Numbering" >> beam.CombineGlobally(_Numbering())
    numbered = converted.questions | "Number" >> beam.ParDo(_Number(options), beam.pvalue.AsSingleton(numbering)) \
        .with_outputs("side_features", "side_examples", main="records")
    dead = (read.dead_letters, converted.dead) | "AllDead" >> beam.Flatten()
    shards = numbered.records | "Write" >> beam_io.WriteShardedRecords(options.output, kind, num_shards,
                                                                      options.compression)
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(options.output)
    written = converted.sizes | "CountWritten" >> beam.combiners.Count.Globally()
    stats = converted.facts | "SumStats" >> beam.CombineGlobally(finetune_steps.SumStats())
    stat_pcs = finetune_steps.stat_fields(stats, SUMMED_STATS)
    stat_pcs[statistics.UNKNOWN_WORDS] = converted.unknown | "UnknownWords" >> unknown_words.SummarizeUnknownWords()
    stat_pcs[statistics.ANSWERS] = dead_counts | "AnswersStat" >> beam.Map(_answers_stat,
                                                                            beam.pvalue.AsSingleton(written))
    info = {"config": dict(options.to_config(), num_shards=num_shards),
            "schema": schemas.for_kind(kind, {"max_seq_length": options.max_seq_length}).to_json(),
            **plan.vocabulary_info, "first_unique_id": FIRST_UNIQUE_ID}
    if options.writes_side_files:
        names = squad_side_files.side_file_names(options.side_file_format, num_shards)
        info["side_files"] = names
        side_results = (
            (_write_side(numbered.side_features, "SideFeatures", options.output, squad_side_files.SIDE_FEATURES,
                         num_shards, names["format"]),
             _write_side(numbered.side_examples, "SideExamples", options.output, squad_side_files.SIDE_EXAMPLES,
                         num_shards, names["format"]))
            | "SideResults" >> beam.Flatten())
        # Finalize waits for this one-element summary, so the marker comes after every side file.
        stat_pcs["side_files"] = (side_results | "SideFilesList" >> beam.combiners.ToList()
                                  | "SideFilesStat" >> beam.Map(_side_files_stat))
    return JobOutputs(kind, info, shards=shards, dead_letter_counts=dead_counts, read=beam_io.count_inputs(read),
                      written=written, job_counts={"features": beam_io.count(numbered.records, "CountFeatures")},
                      stats=stat_pcs, vocabulary=plan.vocabulary)
