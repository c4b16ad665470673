"""One bucket of documents → serialized pre-training records, and the statistics the run report shows.

A bucket is a set of documents chosen by a stable hash of their keys. Inside it, documents are sorted by
key; each pass (`dupe_factor` of them) builds instances for every document with a stream seeded by
(seed, document key, pass), masks them with the same stream, encodes them, and shuffles the pass's
records with a stream seeded by (seed, "order", bucket, pass). The output therefore depends on the seed,
the inputs and the bucket count, never on the worker count or on arrival order. Memory holds one
bucket's token ids and one pass of its encoded records. Every stream is `seeding.SplitMix64`.

In the common configuration (segment pairs or single segments, plain masking) a pass runs through the
compiled kernel (`transforms/pretraining/kernel.py`: one call builds, masks and serializes every instance) when numba
is installed; it draws the same numbers in the same order as the Python path here, so the bytes are the
same either way (tests/transforms/test_instance_kernel.py). Every other option (whole words, n-grams, weighted or
confusion masking, full-sentence packing) runs in Python.
"""
import importlib.util
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from bertprep import schemas
from bertprep.schemas import example_codec, statistics
from bertprep.seeding import stable_hash, stream_for, streams_for
from bertprep.transforms.csc import confusion_masking
from bertprep.transforms.pretraining.instances import InstanceOptions, TokenizedDocument, document_instances, pack_full_sentences
from bertprep.transforms.pretraining.masking import KIND_NAMES, MaskedInstance, num_to_predict

# ---------------------------------------------------------------- encoding


class PretrainingEncoder:
    """Pre-training records, byte for byte as `schemas.for_kind("pretraining", ...).encode()` writes them.

    `example_codec` stays the one definition of the bytes: every piece here is made by it. The layout is
    fixed, so the features that depend only on a length or a count (input_mask, segment_ids,
    masked_lm_weights, next_sentence_labels) are cached whole entries, and each id list's header (the
    bytes before its packed varints) is cut from an entry of that packed size. A record is then one
    `join` of cached pieces, the ids' varints (a table look-up each) and zero padding. The compiled
    kernel writes with tables taken from this object (`CompiledEncoder`); tests check both against the
    schema's encoder.
    """

    # The schema's features in its on-disk (sorted) order: the order of the pieces `encode_lists` joins.
    LAYOUT = ("input_ids", "input_mask", "masked_lm_ids", "masked_lm_positions", "masked_lm_weights",
              "next_sentence_labels", "segment_ids")

    def __init__(self, max_seq_length: int, max_predictions_per_seq: int):
        schema = schemas.for_kind("pretraining", {"max_seq_length": max_seq_length,
                                                  "max_predictions_per_seq": max_predictions_per_seq})
        if tuple(schema.names) != self.LAYOUT:
            raise RuntimeError("the pretraining schema's features changed (%s); update PretrainingEncoder"
                               % ", ".join(schema.names))
        self.max_seq_length = max_seq_length
        self.max_predictions = max_predictions_per_seq
        self._table = example_codec.varint_table()
        self._zeros = [b"\x00" * n for n in range(max(max_seq_length, max_predictions_per_seq) + 1)]
        entry = example_codec.encode_feature_entry
        int64, float32 = example_codec.INT64, example_codec.FLOAT32
        length, predictions = max_seq_length, max_predictions_per_seq
        # Whole entries for the features that depend on a length or a count only.
        self._mask_entries = [entry("input_mask", int64, [1] * n + [0] * (length - n)) for n in range(length + 1)]
        self._weight_entries = [entry("masked_lm_weights", float32, [1.0] * n + [0.0] * (predictions - n))
                                for n in range(predictions + 1)]
        self._label_entries = [entry("next_sentence_labels", int64, [label]) for label in (0, 1)]
        self._segment_entries: Dict[tuple, bytes] = {}
        # Entry headers (everything before the packed varints) by packed byte length, filled on demand.
        self._headers = {name: {} for name in ("input_ids", "masked_lm_ids", "masked_lm_positions")}
        self._record_prefixes: Dict[int, bytes] = {}

    def _header(self, name: str, size: int) -> bytes:
        """The bytes of an int64 list entry that come before its `size` (at least 1) bytes of packed varints."""
        headers = self._headers[name]
        header = headers.get(size)
        if header is None:
            if size < 1:
                raise ValueError("a padded id list has at least one value")
            # `size` zeros are `size` one-byte varints, written last in the entry.
            entry = example_codec.encode_feature_entry(name, example_codec.INT64, [0] * size)
            header = headers[size] = entry[:len(entry) - size]
        return header

    def _varints(self, values: Sequence[int]) -> bytes:
        try:
            return b"".join(map(self._table.__getitem__, values))
        except (IndexError, TypeError):
            return b"".join(example_codec.encode_varint(int(v)) for v in values)

    def _segment_entry(self, len_a: int, length: int) -> bytes:
        key = (len_a, length)
        entry = self._segment_entries.get(key)
        if entry is None:
            if len_a + 2 >= length:
                segments = [0] * self.max_seq_length
            else:
                segments = [0] * (len_a + 2) + [1] * (length - len_a - 2) + [0] * (self.max_seq_length - length)
            entry = example_codec.encode_feature_entry("segment_ids", example_codec.INT64, segments)
            self._segment_entries[key] = entry
        return entry

    def encode(self, tokens: Sequence[int], len_a: int, label: int, masked: MaskedInstance) -> bytes:
        return self.encode_lists(masked.tokens, len(tokens), len_a, label, masked.positions, masked.labels)

    def encode_lists(self, output: Sequence[int], length: int, len_a: int, label: int, positions: Sequence[int],
                     labels: Sequence[int]) -> bytes:
        """One record from the masked token ids (`length` of them), the pair layout and the predictions."""
        count = len(positions)
        max_seq_length, max_predictions = self.max_seq_length, self.max_predictions
        if length > max_seq_length or count > max_predictions or len(output) != length:
            raise ValueError("instance longer than the schema allows")
        zeros = self._zeros
        ids = self._varints(output)
        size = len(ids) + max_seq_length - length
        ids_header = self._headers["input_ids"].get(size) or self._header("input_ids", size)
        label_ids = self._varints(labels)
        size = len(label_ids) + max_predictions - count
        labels_header = self._headers["masked_lm_ids"].get(size) or self._header("masked_lm_ids", size)
        if count and 0 <= positions[0] and positions[-1] < 128:
            position_bytes = bytes(positions)  # sorted, so all are one-byte varints
        else:
            position_bytes = self._varints(positions)
        size = len(position_bytes) + max_predictions - count
        positions_header = (self._headers["masked_lm_positions"].get(size)
                            or self._header("masked_lm_positions", size))
        segments = self._segment_entries.get((len_a, length)) or self._segment_entry(len_a, length)
        body = b"".join((ids_header, ids, zeros[max_seq_length - length], self._mask_entries[length],
                         labels_header, label_ids, zeros[max_predictions - count],
                         positions_header, position_bytes, zeros[max_predictions - count],
                         self._weight_entries[count], self._label_entries[label], segments))
        size = len(body)
        prefix = self._record_prefixes.get(size)
        if prefix is None:
            prefix = self._record_prefixes[size] = example_codec.example_prefix(size)
        return prefix + body


# ---------------------------------------------------------------- statistics


class PretrainingStats:
    """Counts for info.json["stats"]; buckets' stats are merged with `merge_stats`."""

    # The entries of `to_dict()` that info.json and the run report show (the rest are merge inputs).
    REPORTED = (statistics.SEQUENCE_LENGTH_HISTOGRAM, statistics.TOKENS_PER_INSTANCE, "predictions_per_instance",
                statistics.MASKED_POSITION_KINDS, statistics.NEXT_SENTENCE_LABELS, statistics.UNK_RATE,
                "mean_sequence_length",
                "full_length_share", "mean_segment_a_tokens", "mean_predictions_per_instance")
    # Reported too when confusion masking ran (the realized mix and what it could not give).
    CONFUSION_REPORTED = (statistics.CONFUSION_MIX_REALIZED, statistics.CONFUSION_MIX_SHORTFALL)

    def __init__(self, max_seq_length: int = 128):
        self.length_histogram = [0] * (max_seq_length + 1)
        self.text_token_histogram = [0] * (max_seq_length + 1)
        self.predictions_histogram: Dict[int, int] = {}
        self.kinds = [0] * len(KIND_NAMES)
        self.mix_realized: Dict[str, int] = {}  # confusion masking only
        self.mix_shortfall: Dict[str, int] = {}
        self.labels = [0, 0]
        self.unk = 0
        self.text_tokens = 0
        self.segment_a_tokens = 0

    def add(self, tokens: Sequence[int], len_a: int, label: int, masked: MaskedInstance, specials: int,
            unk_id: int) -> None:
        self.add_counts(len(tokens), len_a, label, specials, tokens.count(unk_id), masked.kinds)
        if masked.mix_kinds is not None:
            for into, names in ((self.mix_realized, masked.mix_kinds), (self.mix_shortfall, masked.shortfall)):
                for name in names:
                    into[name] = into.get(name, 0) + 1

    def add_counts(self, length: int, len_a: int, label: int, specials: int, unk: int, kinds: Sequence[int]) -> None:
        """One instance: its length, segment A length, pair label, [CLS]/[SEP] count, [UNK] count and the
        kind of each prediction."""
        self.length_histogram[length] += 1
        self.text_token_histogram[length - specials] += 1
        self.text_tokens += length - specials
        self.segment_a_tokens += len_a
        self.unk += unk
        self.labels[label] += 1
        count = len(kinds)
        histogram = self.predictions_histogram
        histogram[count] = histogram.get(count, 0) + 1
        totals = self.kinds
        if count:
            for kind in set(kinds):
                totals[kind] += kinds.count(kind)

    def add_arrays(self, lengths: np.ndarray, a_lengths: np.ndarray, labels: np.ndarray, unk: int,
                   kinds: np.ndarray, counts: np.ndarray) -> None:
        """Several pair instances at once (two or three [CLS]/[SEP] each, as `add` counts them): their
        lengths, segment A lengths, labels, total [UNK]s, prediction kinds ([instances, max_predictions],
        valid up to each instance's count) and prediction counts."""
        size = len(self.length_histogram)
        self.length_histogram = (np.array(self.length_histogram)
                                 + np.bincount(lengths, minlength=size)[:size]).tolist()
        text_lengths = lengths - np.where(a_lengths + 2 < lengths, 3, 2)
        self.text_token_histogram = (np.array(self.text_token_histogram)
                                     + np.bincount(text_lengths, minlength=size)[:size]).tolist()
        self.text_tokens += int(text_lengths.sum())
        self.segment_a_tokens += int(a_lengths.sum())
        self.unk += unk
        ones = int(labels.sum())
        self.labels[0] += len(labels) - ones
        self.labels[1] += ones
        histogram = self.predictions_histogram
        for count, n in enumerate(np.bincount(counts).tolist()):
            if n:
                histogram[count] = histogram.get(count, 0) + n
        valid = np.arange(kinds.shape[1]) < counts[:, None]
        for kind, n in enumerate(np.bincount(kinds[valid], minlength=len(KIND_NAMES)).tolist()):
            self.kinds[kind] += n

    def to_dict(self) -> dict:
        instances = sum(self.labels)
        real = sum(length * n for length, n in enumerate(self.length_histogram))
        predictions = sum(self.kinds)
        full = self.length_histogram[-1]
        totals = {"real_tokens": real, "full_length": full, "segment_a_tokens": self.segment_a_tokens,
                  "predictions": predictions}
        return dict({
            "instances": instances,
            statistics.SEQUENCE_LENGTH_HISTOGRAM: {str(k): n for k, n in enumerate(self.length_histogram) if n},
            statistics.TOKENS_PER_INSTANCE: {str(k): n for k, n in enumerate(self.text_token_histogram) if n},
            "predictions_per_instance": {str(k): n for k, n in sorted(self.predictions_histogram.items())},
            statistics.MASKED_POSITION_KINDS: {name: self.kinds[k] for k, name in enumerate(KIND_NAMES)},
            statistics.NEXT_SENTENCE_LABELS: {"0": self.labels[0], "1": self.labels[1]},
            statistics.UNK_RATE: {"unk": self.unk, "tokens": self.text_tokens},
            "totals": totals,
        }, **_means(totals, instances), **({statistics.CONFUSION_MIX_REALIZED: dict(self.mix_realized),
                                             statistics.CONFUSION_MIX_SHORTFALL: dict(self.mix_shortfall)}
                                            if self.mix_realized or self.mix_shortfall else {}))


# Means of the run report, each an integer total over the instance count.
_MEAN_OF = {"mean_sequence_length": "real_tokens", "full_length_share": "full_length",
            "mean_segment_a_tokens": "segment_a_tokens", "mean_predictions_per_instance": "predictions"}


def _means(totals: dict, instances: int) -> dict:
    return {name: totals.get(total, 0) / instances if instances else 0.0 for name, total in _MEAN_OF.items()}


def merge_stats(dicts: Iterable[dict]) -> dict:
    """Sum the count fields of several `to_dict()` results and recompute the means.

    Means come from summed integer totals, never from summed float means, so the result does not depend
    on the order Beam combines partial results in (info.json is the same with any worker count).
    """
    total: dict = {}
    instances = 0
    window: dict = {}
    for stats in dicts:
        instances += stats.get("instances", 0)
        for name, value in stats.items():
            if name == "build_window":  # the earliest start and the latest end over buckets
                window["first_started_at"] = min(window.get("first_started_at", value["first_started_at"]),
                                                 value["first_started_at"])
                window["last_finished_at"] = max(window.get("last_finished_at", value["last_finished_at"]),
                                                 value["last_finished_at"])
            elif isinstance(value, dict):
                into = total.setdefault(name, {})
                for key, count in value.items():
                    into[key] = into.get(key, 0) + count
    result = {name: dict(sorted(value.items(), key=lambda kv: _sort_key(kv[0]))) for name, value in total.items()}
    result["instances"] = instances
    if window:
        result["build_window"] = window
    result.update(_means(result.get("totals", {}), instances))
    return result


def _sort_key(key: str):
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


# ---------------------------------------------------------------- one bucket


class BucketBuilder:
    """Turns one bucket's tokenized documents (and FASPell pairs) into records, pass by pass."""

    def __init__(self, seed: int, dupe_factor: int, instance_options: InstanceOptions, masker, encoder,
                 cls_id: int, sep_id: int, unk_id: int, max_predictions: int,
                 pair_probabilities: Optional[Dict[int, float]] = None):
        self.seed = seed
        self.dupe_factor = dupe_factor
        self.options = instance_options
        self.masker = masker
        self.encoder = encoder
        self.cls_id = cls_id
        self.sep_id = sep_id
        self.unk_id = unk_id
        self.max_predictions = max_predictions
        self.pair_probabilities = pair_probabilities or {}
        self._kernel = None
        self.compiled = True  # False keeps every document on the plain-Python path (tests compare the two)
        # (sentence-end ids, closing-quote ids) when pairs make FASPell's own documents and instances
        # (csc/faspell_documents.py); None: one instance per pair (confusion_masking.faspell_instance)
        self.faspell_documents: Optional[tuple] = None

    def passes(self, bucket: int, documents: List[TokenizedDocument], pairs: Sequence[tuple],
               stats: PretrainingStats) -> Iterator[List[bytes]]:
        """One list of encoded records per pass, already in their shuffled output order."""
        documents = sorted(documents, key=lambda document: document.key)
        compiled = None
        if documents and self.uses_kernel:
            compiled = BucketArrays(documents)
        pair_documents = []
        if self.faspell_documents is not None and pairs:
            from bertprep.transforms.csc import faspell_documents

            pair_documents = faspell_documents.pair_documents(pairs, self.seed, *self.faspell_documents,
                                                              self.masker.vocab_size)
        for pass_index in range(self.dupe_factor):
            records: List[bytes] = []
            if compiled is not None:
                self._documents_compiled(pass_index, compiled, records, stats)
            else:
                self._documents(bucket, pass_index, documents, records, stats)
            if self.faspell_documents is not None:
                self._faspell_pass(pass_index, pair_documents, records, stats)
            for key, wrong_ids, correct_ids in (pairs if self.faspell_documents is None else ()):
                rng = stream_for(self.seed, key, pass_index)
                tokens, masked = confusion_masking.faspell_instance(
                    wrong_ids, correct_ids, self.pair_probabilities, self.options.max_seq_length,
                    self.max_predictions, self.cls_id, self.sep_id, rng)
                self._emit(tokens, len(tokens) - 2, 0, masked, records, stats)
            stream_for(self.seed, "order", bucket, pass_index).shuffle(records)
            yield records

    def _faspell_pass(self, pass_index, pair_documents, records, stats):
        """FASPell's instances of the pairs' documents, B drawn from the bucket's other pair documents."""
        from bertprep.transforms.csc import faspell_documents

        masker = self.masker
        streams = streams_for(self.seed, [document.key for document in pair_documents], "faspell", pass_index)
        for index, rng in enumerate(streams):
            for instance in document_instances(pair_documents, index, self.options, rng, self.cls_id, self.sep_id):
                tokens, masked = faspell_documents.mask_instance(
                    instance.tokens, masker.vocab_size, self.pair_probabilities, self.max_predictions,
                    masker.options.masked_lm_prob, masker.mask_id, masker.random_ids, instance.special_positions(),
                    rng)
                self._emit(tokens, instance.len_a, instance.label, masked, records, stats)

    @property
    def kernel_covers(self) -> bool:
        """Whether the compiled kernel implements these options: segment pairs (or single segments) masked
        position by position with no weights, whole words or n-grams."""
        return self.options.packing != "full_sentences" and self.masker.single_positions

    @property
    def uses_kernel(self) -> bool:
        """Whether documents go through the compiled kernel: options it covers, ids below 2**28 (its
        buffers assume varints of at most 4 bytes), and numba installed."""
        if not (self.compiled and self.kernel_covers):
            return False
        kernel = _instance_kernel()
        return kernel.available() and self.masker.vocab_size < kernel.MAX_ID

    def missing_kernel_note(self) -> Optional[str]:
        """A line for the user when the kernel covers these options but numba is not installed (checked
        without importing numba, which the main process of a multi-worker run does not need)."""
        if self.compiled and self.kernel_covers and importlib.util.find_spec("numba") is None:
            return ("numba is not installed, so pretraining runs its plain-Python path: the same bytes, "
                    "several times slower (pip install numba)")
        return None

    def warm(self) -> None:
        """Load the compiled kernel now (from numba's cache, about 0.4 s a process) instead of inside the
        first bucket, so a worker's start-up is not counted as build time."""
        if self.uses_kernel:
            compile_kernel()

    def _documents(self, bucket, pass_index, documents, records, stats):
        if not documents:
            return
        mask = self.masker.mask
        if self.options.packing == "full_sentences":
            order = list(documents)
            rng = stream_for(self.seed, "full_sentences", bucket, pass_index)
            rng.shuffle(order)
            for instance in pack_full_sentences(order, self.options, self.cls_id, self.sep_id):
                self._emit(instance.tokens, instance.len_a, 0,
                           mask(instance.tokens, instance.flags, rng, instance.special_positions()), records, stats)
            return
        streams = streams_for(self.seed, [document.key for document in documents], pass_index)
        for index, (document, rng) in enumerate(zip(documents, streams)):
            for instance in document_instances(documents, index, self.options, rng, self.cls_id, self.sep_id):
                self._emit(instance.tokens, instance.len_a, instance.label,
                           mask(instance.tokens, instance.flags, rng, instance.special_positions()), records, stats)

    def _documents_compiled(self, pass_index, compiled: "BucketArrays", records, stats):
        """`_documents` through `instance_kernel`: one call builds, masks and serializes the whole pass."""
        if self._kernel is None:
            self._kernel = KernelSettings(self)
        kernel = self._kernel
        seeds = np.array([stable_hash(self.seed, key, pass_index) for key in compiled.keys], dtype=np.uint64)
        out = PassArrays(compiled.sentences, self.options.max_seq_length, self.max_predictions)
        n = _instance_kernel().build_pass(
            compiled.tokens, compiled.sentence_starts, compiled.document_starts, seeds, kernel.mode,
            self.options.max_seq_length, self.options.short_seq_prob, self.cls_id, self.sep_id, self.unk_id,
            self.masker.mask_id, kernel.random_ids, kernel.budgets, out.ids, out.length, out.len_a, out.label,
            out.positions, out.label_ids, out.kinds, out.count, out.unk)
        records.extend(kernel.encoder.encode(out, n))
        stats.add_arrays(out.length[:n], out.len_a[:n], out.label[:n], int(out.unk[:n].sum()),
                         out.kinds[:n], out.count[:n])

    def _emit(self, tokens, len_a, label, masked, records, stats):
        specials = 3 if len_a + 2 < len(tokens) else 2
        if self.options.packing == "full_sentences":
            specials = tokens.count(self.sep_id) + 1
        stats.add(tokens, len_a, label, masked, specials, self.unk_id)
        records.append(self.encoder.encode(tokens, len_a, label, masked))


def _instance_kernel():
    """The compiled kernel's module, imported on first use: numba costs about 0.3 s to import, and a
    process that only validates a config (the main process of a multi-worker run) never needs it."""
    from bertprep.transforms.pretraining import kernel as instance_kernel

    return instance_kernel


class BucketArrays:
    """A bucket's documents as the flat arrays `instance_kernel` reads (built once, used by every pass)."""

    def __init__(self, documents: Sequence[TokenizedDocument]):
        self.keys = [document.key for document in documents]
        sentence_lengths = [len(sentence) for document in documents for sentence in document.sentences]
        self.sentences = len(sentence_lengths)
        self.sentence_starts = np.zeros(self.sentences + 1, np.int64)
        np.cumsum(sentence_lengths, out=self.sentence_starts[1:])
        self.document_starts = np.zeros(len(documents) + 1, np.int64)
        np.cumsum([len(document.sentences) for document in documents], out=self.document_starts[1:])
        self.tokens = np.fromiter((token for document in documents for sentence in document.sentences
                                   for token in sentence), np.int32, count=int(self.sentence_starts[-1]))


class PassArrays:
    """Output arrays of one kernel pass: a row per sentence, the most instances a pass can make."""

    def __init__(self, rows: int, max_seq_length: int, max_predictions: int):
        self.ids = np.zeros((rows, max_seq_length), np.int32)
        self.length = np.zeros(rows, np.int64)
        self.len_a = np.zeros(rows, np.int64)
        self.label = np.zeros(rows, np.int64)
        self.positions = np.zeros((rows, max_predictions), np.int64)
        self.label_ids = np.zeros((rows, max_predictions), np.int32)
        self.kinds = np.zeros((rows, max_predictions), np.int8)
        self.count = np.zeros(rows, np.int64)
        self.unk = np.zeros(rows, np.int64)


class KernelSettings:
    """What the kernel needs from the job's masker and encoder, as arrays (built once per worker)."""

    def __init__(self, builder: BucketBuilder):
        self.mode = _instance_kernel().MODES[builder.options.next_sentence]
        self.random_ids = np.asarray(builder.masker.random_ids, np.int32)
        self.budgets = np.array([num_to_predict(length, builder.masker.options)
                                 for length in range(builder.options.max_seq_length + 1)], np.int64)
        self.encoder = CompiledEncoder(builder.encoder)


class CompiledEncoder:
    """`instance_kernel.encode_records` with the byte tables of a `PretrainingEncoder`: the same bytes.

    The tables are cut from the encoder's own cached entries: headers of the packed id lists by byte
    size, the headers of input_mask and segment_ids (whose packed bytes are always max_seq_length long),
    whole weight entries by prediction count and label entries by label.
    """

    def __init__(self, encoder: PretrainingEncoder):
        length, predictions = encoder.max_seq_length, encoder.max_predictions
        self.max_seq_length, self.max_predictions = length, predictions
        # Rows by packed byte size (ids below MAX_ID take at most 4 bytes); row 0 is never used.
        self.ids = self._table([b""] + [encoder._header("input_ids", size) for size in range(1, 5 * length + 1)])
        self.labels = self._table([b""] + [encoder._header("masked_lm_ids", size)
                                           for size in range(1, 5 * predictions + 1)])
        self.positions = self._table([b""] + [encoder._header("masked_lm_positions", size)
                                              for size in range(1, 5 * predictions + 1)])
        mask_entry = encoder._mask_entries[length]
        self.mask_header = np.frombuffer(mask_entry[:len(mask_entry) - length], np.uint8).copy()
        segment_entry = encoder._segment_entry(0, length)
        self.segment_header = np.frombuffer(segment_entry[:len(segment_entry) - length], np.uint8).copy()
        self.weights = self._table(encoder._weight_entries)
        self.label_entries = self._table(encoder._label_entries)
        self.record_bound = _instance_kernel().record_size_bound(length, predictions)

    @staticmethod
    def _table(entries):
        """(rows of bytes zero-padded to the longest, their lengths) for the kernel."""
        table = np.zeros((len(entries), max(len(entry) for entry in entries)), np.uint8)
        sizes = np.zeros(len(entries), np.int64)
        for k, entry in enumerate(entries):
            table[k, :len(entry)] = np.frombuffer(entry, np.uint8)
            sizes[k] = len(entry)
        return table, sizes

    def encode(self, out: PassArrays, n: int) -> List[bytes]:
        """The first n instances of a kernel pass as serialized Examples."""
        buffer = np.empty(max(n, 1) * self.record_bound, np.uint8)
        offsets = np.empty(n + 1, np.int64)
        end = _instance_kernel().encode_records(
            n, self.max_seq_length, self.max_predictions, out.ids, out.length, out.len_a, out.label,
            out.positions, out.label_ids, out.count, *self.ids, *self.labels, *self.positions,
            self.mask_header, self.segment_header, *self.weights, *self.label_entries, buffer, offsets)
        data = buffer[:end].tobytes()
        bounds = offsets.tolist()
        return [data[bounds[k]:bounds[k + 1]] for k in range(n)]


def compile_kernel() -> int:
    """Compile the kernel (or load it from numba's cache) by running one tiny bucket through it.

    The first run after installing compiles for about 10 s; a worker image runs this while it is built
    (Dockerfile) so its workers start warm. Returns the number of records made (a sanity check).
    """
    from bertprep.transforms.pretraining.masking import Masker, MaskingOptions

    options = InstanceOptions(max_seq_length=16, short_seq_prob=0.1)
    masker = Masker(MaskingOptions(0.15, 3), mask_id=3, excluded_ids=(1, 2), vocab_size=20, random_ids=range(4, 20))
    builder = BucketBuilder(0, 1, options, masker, PretrainingEncoder(16, 3), cls_id=1, sep_id=2, unk_id=0,
                            max_predictions=3)
    if not builder.uses_kernel:
        raise RuntimeError("the compiled kernel is unavailable: is numba installed?")
    documents = [TokenizedDocument("a", [[5, 6, 7], [8, 9]]), TokenizedDocument("b", [[10, 11], [12, 13, 14]])]
    return sum(len(records) for records in builder.passes(0, documents, [], PretrainingStats(16)))
