"""The `bertprep pretraining` graph: masked-LM / next-sentence TFRecords with create_pretraining_data.py
semantics (the command is bertprep/commands/pretraining.py, the options bertprep/options/pretraining.py).

Wiring: read documents → key each by its file's name (relative to the input pattern) and line → a stable
hash of the key picks a bucket → GroupByKey → one worker
builds all passes of a bucket (NSP negatives come from the other documents of the same bucket) and
writes that bucket's shard directly (bucket == shard) → dead letters → info.json and the marker.
The bucket count comes from the input size (or --num-shards), never from the worker count, and every
random choice is seeded by (seed, document key, pass), so the bytes do not depend on --workers, nor on the
directory the input lies in.
"""
import dataclasses
import math
import time
from typing import Any, Mapping, Optional, Sequence, Tuple

import apache_beam as beam

from bertprep import schemas
from bertprep.errors import BertprepError
from bertprep.io import beam_io, formats, fs
from bertprep.io.formats import documents as documents_format
from bertprep.schemas import statistics
from bertprep.io import output as output_lib
from bertprep.options.pretraining import PretrainingOptions
from bertprep.pipelines import unknown_words
from bertprep.pipelines.registry import JobOutputs
from bertprep import progress
from bertprep.seeding import relative_names, stable_hash

KIND = "pretraining"
BUILD_STAGE = "building"  # the progress stage of the bucket builds (counts buckets and instances)
COMPILING_NOTICE = ("compiling the pre-training kernel (the first run after installing only, about 10 s; "
                    "`make install` compiles it ahead)")
BYTES_PER_BUCKET = 512 << 10
# Sentences holding an [UNK] whose unknown words a bucket counts (for the [UNK] warning's word list): enough
# for the most frequent ones, and a bound on the extra look-ups when the vocabulary fits nothing.
UNKNOWN_WORD_SENTENCES = 128
SMALL_BUCKET_BYTES = 64 << 10
MIN_BUCKETS = 16


def num_buckets(input_bytes: int) -> int:
    """About 512 KiB of input a bucket, at least 16 for inputs over 1 MiB (so 2+ workers balance), fewer
    for tiny inputs so that every bucket still has documents to draw negatives from."""
    by_size = int(math.ceil(input_bytes / float(BYTES_PER_BUCKET)))
    small = min(MIN_BUCKETS, int(math.ceil(input_bytes / float(SMALL_BUCKET_BYTES))))
    return max(1, by_size, small)


def resolve_options(options: PretrainingOptions, paths: Optional[Sequence[str]] = None) -> PretrainingOptions:
    """The options with what the job derives filled in, as info.json records them: --num-shards from the
    input size when 0 (documents and --wrong-input pairs together), and --next-sentence none when packing
    full sentences. `paths`: the files of --input and --wrong-input when the caller has matched them already.
    Resolved options come back unchanged."""
    num_shards = options.num_shards
    if not num_shards:
        if paths is None:
            patterns = [options.input] + ([options.wrong_input] if options.wrong_input else [])
            paths = [path for pattern in patterns for path in fs.match(pattern)]
        num_shards = num_buckets(fs.total_size(paths))
    if num_shards == options.num_shards and options.pair_task == options.next_sentence:
        return options
    return options.resolved(num_shards=num_shards, next_sentence=options.pair_task)


def _document_reader(options: PretrainingOptions):
    """Records of one file of a --input-format other than documents (or of compressed/remote documents)."""
    fmt, field, column = options.input_format, options.field, options.column
    columns = {field: field} if fmt == "parquet" else {"text": int(column) if column.isdigit() else column}

    def read(path):
        return formats.iter_file(path, fmt, field=field, columns=columns, header=options.header)
    return read


WRONG_INPUT_NAMESPACE = "wrong-input/"  # keeps pair keys apart from document keys of a file with the same name


def source_names(pattern: str, namespace: str = "", paths: Optional[Sequence[str]] = None) -> dict:
    """Path → the name that keys its records, for every file the pattern matches (seeding.relative_names);
    `paths`: those files when the caller has matched them already."""
    paths = fs.match(pattern) if paths is None else paths
    names = relative_names([single for single in pattern.split(",") if single], paths)
    return {path: namespace + name for path, name in names.items()}


def keyed_record(record, names: dict) -> tuple:
    """(key, record). The key seeds the record's random draws and picks its bucket: the file's name relative
    to the input pattern and the line, not the full path, so the same data elsewhere gives the same bytes."""
    return "%s:%d" % (names[record.source], record.line), record


def spans_usable(options: PretrainingOptions, paths: Sequence[str]) -> bool:
    """Local, uncompressed documents files (`paths`: the files --input matches) are shuffled as byte ranges,
    not text (see io.formats.documents.iter_document_spans)."""
    if options.input_format != "documents":
        return False
    return all(not fs.is_remote(path) and not path.endswith(fs.COMPRESSED_SUFFIXES) for path in paths)


def _pair_reader(path):
    from bertprep.io.formats import csc

    for item in csc.iter_file_pairs(path):
        if isinstance(item, formats.DeadLetter):
            yield item
        else:
            yield formats.Record(item.source, item.line, ("pair", item.wrong, item.correct))


def _special_id(tokenizer, name):
    special = getattr(tokenizer, "special_ids", None) or {}
    if name in special:
        return special[name]
    if name in tokenizer.vocab:
        return tokenizer.vocab[name]
    raise BertprepError("the vocabulary has no %s entry" % name)


class JobParts:
    """Everything a worker builds once from the options: tokenizer, masker, encoder, bucket builder."""

    def __init__(self, options: PretrainingOptions):
        from bertprep.io.formats import mask_probs_tables
        from bertprep.transforms.csc import confusion_masking
        from bertprep.transforms.pretraining import masking
        from bertprep.transforms.pretraining.instances import DocumentTokenizer, InstanceOptions
        from bertprep.transforms.pretraining.records import BucketBuilder, PretrainingEncoder

        tokenizer = options.load_tokenizer()
        self.tokenizer = tokenizer
        vocab = tokenizer.vocab
        self.cls_id, self.sep_id = _special_id(tokenizer, "[CLS]"), _special_id(tokenizer, "[SEP]")
        mask_id, self.unk_id = _special_id(tokenizer, "[MASK]"), _special_id(tokenizer, "[UNK]")
        self.documents = DocumentTokenizer(tokenizer, options.word_grouping)
        masking_options = masking.MaskingOptions(options.masked_lm_prob, options.max_predictions_per_seq,
                                                 options.whole_word_mask, options.max_ngram,
                                                 options.reference_compatible)
        vocab_tokens = [None] * tokenizer.vocab_size
        for token, token_id in vocab.items():
            if 0 <= token_id < len(vocab_tokens):
                vocab_tokens[token_id] = token
        vocab_tokens = [token if token is not None else "[]" for token in vocab_tokens]
        specials = [_special_id(tokenizer, name) for name in ("[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]")
                    if name in vocab or name in (getattr(tokenizer, "special_ids", None) or {})]
        random_ids = masking.random_replacement_ids(vocab_tokens, specials)
        weights, default_weight = None, 0.0
        probabilities = {}
        if options.mask_probability:
            by_char = mask_probs_tables.read_mask_probability(options.mask_probability,
                                                              options.mask_probability_column)
            probabilities = {vocab[char]: p for char, p in by_char.items() if char in vocab}
            positive = [p for p in probabilities.values() if p > 0]
            weights, default_weight = probabilities, (min(positive) if positive else 0.0)
        excluded = (self.cls_id, self.sep_id)
        if options.confusion_sets:
            plome = options.confusion_masking == "plome"
            table = confusion_masking.load_confusion_table(options.confusion_sets, vocab, plome)
            mix = confusion_masking.parse_mix(options.confusion_mix)
            if plome:  # PLOME leaves [UNK] out of the positions it draws from, as [CLS] and [SEP]
                masker = confusion_masking.PlomeMasker(masking_options, mask_id, excluded + (self.unk_id,),
                                                       tokenizer.vocab_size, random_ids, table, mix)
            else:
                masker = confusion_masking.ConfusionMasker(
                    masking_options, mask_id, excluded, tokenizer.vocab_size, random_ids, table, mix, weights,
                    default_weight)
        else:
            masker = masking.Masker(masking_options, mask_id, excluded, tokenizer.vocab_size, random_ids, weights,
                                    default_weight)
        instance_options = InstanceOptions(options.max_seq_length, options.short_seq_prob, options.pair_task,
                                           options.packing)
        encoder = PretrainingEncoder(options.max_seq_length, options.max_predictions_per_seq)
        self.builder = BucketBuilder(options.seed, options.dupe_factor, instance_options, masker, encoder,
                                     self.cls_id, self.sep_id, self.unk_id, options.max_predictions_per_seq,
                                     probabilities)
        if options.wrong_input_instances == "faspell":
            from bertprep.transforms.csc import faspell_documents

            self.builder.faspell_documents = tuple([vocab[c] for c in chars if c in vocab] for chars in (
                faspell_documents.SENTENCE_ENDS, faspell_documents.CLOSING_QUOTES))

    def tokenize(self, keyed_records, unknown=None):
        """(key, record) pairs → (tokenized documents, FASPell pairs as (key, wrong ids, correct ids), dead letters).

        With `unknown` (a tokenization.UnknownWordSample), the documents' words that became [UNK] are
        counted into it."""
        documents, pairs, dead = [], [], []
        doc_records, doc_keys, doc_sentences = [], [], []
        handles = {}
        try:
            for key, record in keyed_records:
                value = record.value
                if isinstance(value, tuple) and value and value[0] == documents_format.SPAN:
                    doc_records.append(record)
                    doc_keys.append(key)
                    doc_sentences.append(documents_format.read_span(handles, record.source, value[1], value[2]))
                    continue
                self._record(key, record, value, pairs, dead, doc_records, doc_keys, doc_sentences)
        finally:
            for handle in handles.values():
                handle.close()
        tokenized = self.documents.many(list(zip(doc_keys, doc_sentences)), unknown)
        for record, sentences, document in zip(doc_records, doc_sentences, tokenized):
            if document.num_tokens == 0:
                dead.append(formats.DeadLetter(record.source, record.line, "no tokens: the document is empty after "
                                               "tokenization", "\n".join(sentences)))
            else:
                documents.append(document)
        return documents, pairs, dead

    def _record(self, key, record, value, pairs, dead, doc_records, doc_keys, doc_sentences):
        from bertprep.transforms.pretraining.instances import sentences_of

        if isinstance(value, tuple) and value and value[0] == "pair":
            self._pair(key, record, value[1], value[2], pairs, dead)
            return
        if isinstance(value, dict) and len(value) == 1:
            value = next(iter(value.values()))
        try:
            sentences = value if isinstance(value, list) and all(isinstance(v, str) for v in value) \
                else sentences_of(value)
        except ValueError as error:
            dead.append(formats.DeadLetter(record.source, record.line, "bad document: %s" % error, str(value)))
            return
        doc_records.append(record)
        doc_keys.append(key)
        doc_sentences.append(sentences)

    def _pair(self, key, record, wrong, correct, pairs, dead):
        tokenizer = self.tokenizer
        wrong_ids, correct_ids = (tokenizer.convert_tokens_to_ids(tokens)
                                  for tokens in tokenizer.tokenize_batch([wrong, correct]))
        if not wrong_ids:
            dead.append(formats.DeadLetter(record.source, record.line, "no tokens: empty sentence pair", wrong))
        elif len(wrong_ids) != len(correct_ids):
            dead.append(formats.DeadLetter(record.source, record.line, "unaligned pair: the wrong and correct "
                                           "sentences tokenize to %d and %d tokens" % (len(wrong_ids),
                                                                                        len(correct_ids)),
                                           wrong + "\t" + correct))
        else:
            pairs.append((key, wrong_ids, correct_ids))


class _BuildShard:
    """(bucket, records) → the bucket's shard on disk (WriteEveryShard calls it for every bucket, so an empty
    bucket is an empty shard); side outputs: stats (with the records used), dead letters, and (word, count)
    of the words that became [UNK]."""

    def __init__(self, options: PretrainingOptions):
        self._options = options  # resolved: num_shards is the bucket count

    def setup(self):
        self._parts = JobParts(self._options)
        builder = self._parts.builder
        if builder.uses_kernel:
            from bertprep.transforms.pretraining import kernel as instance_kernel

            if not instance_kernel.is_compiled():
                progress.notice_once("compiling", COMPILING_NOTICE)
        builder.warm()

    def __call__(self, bucket, items):
        from bertprep.transforms.pretraining.records import PretrainingStats
        from bertprep.transforms.tokenization.tokenizer import UnknownWordSample

        options = self._options
        suffix = output_lib.tfrecord_suffix(options.compression)
        path = output_lib.join(options.output, output_lib.shard_name(KIND, bucket, options.num_shards, suffix))
        if not items:  # a bucket no document reached: its shard exists, empty
            with output_lib.ShardWriter(path, options.compression) as writer:
                pass
            yield dict(writer.result, shard=bucket)
            return
        started_wall, started_cpu = time.time(), time.process_time()
        parts = self._parts
        unknown = UnknownWordSample(parts.tokenizer, UNKNOWN_WORD_SENTENCES)
        documents, pairs, dead = parts.tokenize(sorted(items, key=lambda item: item[0]), unknown)
        for letter in dead:
            yield beam.pvalue.TaggedOutput("dead", letter)
        for word_count in unknown_words.pairs(unknown.words):
            yield beam.pvalue.TaggedOutput("unknown", word_count)
        stats = PretrainingStats(options.max_seq_length)
        with output_lib.ShardWriter(path, options.compression) as writer:
            for records in parts.builder.passes(bucket, documents, pairs, stats):
                for record in records:
                    writer.write(record)
                progress.note_stage(BUILD_STAGE, done=0, items=len(records))
        progress.note_stage(BUILD_STAGE, at_once=True)
        finished_wall = time.time()
        yield dict(writer.result, shard=bucket)
        # Time in this stage (tokenize, build, mask, encode, write), summed over buckets, and the window from
        # the first bucket's start to the last one's end: throughput and scaling without start-up costs.
        yield beam.pvalue.TaggedOutput("stats", dict(
            stats.to_dict(),
            build_time={"cpu_seconds": time.process_time() - started_cpu,
                        "wall_seconds": finished_wall - started_wall},
            build_window={"first_started_at": started_wall, "last_finished_at": finished_wall},
            records_used={"count": len(documents) + len(pairs)},
            unknown_word_sample={"sentences": unknown.texts, "buckets_capped": int(unknown.capped)}))


@dataclasses.dataclass(frozen=True)
class PretrainingPlan:
    """What the job derives once, on the driver: the options resolved as info.json records them (the bucket
    count, the pair task), the files of --input and --wrong-input (listed once: sizes, reader choice, record
    keys and reads agree), the vocabulary, and the note for a kernel that is not compiled."""

    options: PretrainingOptions
    input_paths: Tuple[str, ...]
    wrong_paths: Tuple[str, ...]
    vocabulary_info: Mapping[str, Any]  # info.json's entries about the vocabulary (its fingerprint)
    vocabulary: Tuple[str, ...]  # its entries
    kernel_note: Optional[str]


def plan(options: PretrainingOptions) -> PretrainingPlan:
    """A bad vocabulary, mask-probs table or confusion-set file fails here with one line, before any output."""
    input_paths = tuple(fs.match(options.input))
    wrong_paths = tuple(fs.match(options.wrong_input)) if options.wrong_input else ()
    resolved = resolve_options(options, input_paths + wrong_paths)
    parts = JobParts(resolved)
    tokenizer = parts.tokenizer
    return PretrainingPlan(resolved, input_paths, wrong_paths, {"vocab_fingerprint": tokenizer.fingerprint},
                           tuple(tokenizer.vocab), parts.builder.missing_kernel_note())


def build_pipeline(pipeline, options: PretrainingOptions, plan: PretrainingPlan) -> JobOutputs:
    from bertprep.transforms.pretraining.records import PretrainingStats, merge_stats

    input_paths, wrong_paths = list(plan.input_paths), list(plan.wrong_paths)
    options = plan.options
    shards = options.num_shards
    progress.announce_stage(BUILD_STAGE, shards, unit="buckets", item="instances")
    config = options.to_config()  # what info.json records (and the schema's shaping lengths)

    reader = documents_format.iter_document_spans if spans_usable(options, input_paths) else _document_reader(options)
    read = pipeline | "Read" >> beam_io.ReadRecords(input_paths, reader)
    inputs = [read.records | "KeyDocuments" >> beam.Map(keyed_record, source_names(options.input, paths=input_paths))]
    dead = [read.dead_letters]
    counted = [read]
    if options.wrong_input:
        pairs = pipeline | "ReadPairs" >> beam_io.ReadRecords(wrong_paths, _pair_reader)
        inputs.append(pairs.records | "KeyPairs" >> beam.Map(
            keyed_record, source_names(options.wrong_input, WRONG_INPUT_NAMESPACE, wrong_paths)))
        dead.append(pairs.dead_letters)
        counted.append(pairs)
    records = tuple(inputs) | "AllRecords" >> beam.Flatten()
    built = (records
             | "Bucket" >> beam.Map(lambda item: (stable_hash("bucket", item[0]) % shards, item))
             | "BuildShards" >> beam_io.WriteEveryShard(shards, _BuildShard(options),
                                                       outputs=("stats", "dead", "unknown")))
    dead.append(built.dead)
    all_dead = tuple(dead) | "AllDead" >> beam.Flatten()
    dead_counts = all_dead | "WriteDead" >> beam_io.WriteDeadLetters(options.output)
    read_total = beam_io.count_inputs(counted)
    merged = built.stats | "MergeStats" >> beam.CombineGlobally(merge_stats)
    used = merged | "Used" >> beam.Map(lambda stats: stats.get("records_used", {}).get("count", 0))
    info = {"config": config, "schema": schemas.for_kind(KIND, config).to_json(),
            **plan.vocabulary_info,
            "scope": {"nsp_negatives": "documents of the same hash bucket (%d buckets)" % shards}}
    stat_items = merged | "StatItems" >> beam.FlatMap(
        lambda stats, names=PretrainingStats.REPORTED + ("unknown_word_sample",): [
            (n, stats.get(n, {})) for n in names] + [(n, stats[n]) for n in PretrainingStats.CONFUSION_REPORTED
                                                      if n in stats])
    unknown = (built.unknown | "UnknownWords" >> unknown_words.SummarizeUnknownWords()
               | "UnknownItem" >> beam.Map(lambda summary: ("unknown_words", summary)))
    return JobOutputs(
        KIND, info, shards=built.shards, dead_letter_counts=dead_counts, read=read_total, job_counts={"used": used},
        stats=(stat_items, unknown) | "AllStats" >> beam.Flatten(),
        timing=merged | "TimingItems" >> beam.FlatMap(
            lambda stats: [(n, stats[n]) for n in (statistics.BUILD_TIME, statistics.BUILD_WINDOW) if n in stats]),
        accounting=("read", "used", "dead_lettered"), vocabulary=plan.vocabulary)


def preload_worker() -> None:
    """What every local worker would load first (bertprep.runtime.local_worker's fork server runs it once)."""
    from bertprep.transforms.pretraining import kernel as instance_kernel
    from bertprep.transforms.pretraining.records import compile_kernel

    if not instance_kernel.is_compiled():
        progress.notice_once("compiling", COMPILING_NOTICE)
    compile_kernel()
