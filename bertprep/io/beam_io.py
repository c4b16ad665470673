"""Beam transforms for reading inputs and writing shards and dead letters, shared by every job.

Shard assignment and ordering depend only on record keys, never on which worker saw a record
first, so a job's output bytes are the same with one worker or many.
"""
import collections
import json
from typing import Callable, Sequence, Union

import apache_beam as beam

from bertprep import progress
from bertprep.io import output as output_lib
from bertprep.io import fs
from bertprep.io.records import DeadLetter
from bertprep.seeding import stable_hash

RECORDS = "records"
DEAD_LETTERS = "dead_letters"


class _ReadFile(beam.DoFn):
    def __init__(self, read_fn: Callable):
        self._read_fn = read_fn
        self._read = beam.metrics.Metrics.counter("bertprep", "records_read")
        self._dead = beam.metrics.Metrics.counter("bertprep", "records_dead_lettered_on_read")

    def process(self, path):
        for item in self._read_fn(path):
            progress.note_read()
            if isinstance(item, DeadLetter):
                self._dead.inc()
                yield beam.pvalue.TaggedOutput(DEAD_LETTERS, item)
            else:
                self._read.inc()
                yield item
        progress.flush(force=True)


class ReadRecords(beam.PTransform):
    """Files → tagged outputs `records` (Record) and `dead_letters` (DeadLetter).

    `files` is a pattern (matched here) or the files a job already listed (a job that also keys or sizes
    by its files matches once and passes the list, so every step sees the same files; mask-probs passes
    (format, path) sources). `read_fn(file)` yields Records and DeadLetters (see bertprep.io.formats).
    Files are spread over workers with a Reshuffle; one file is read by one worker, as a stream.
    """

    def __init__(self, files: Union[str, Sequence], read_fn: Callable):
        super().__init__()
        self._paths = fs.match(files) if isinstance(files, str) else list(files)
        self._read_fn = read_fn

    def expand(self, pipeline):
        return (
            pipeline
            | "ListFiles" >> beam.Create(self._paths)
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFile" >> beam.ParDo(_ReadFile(self._read_fn)).with_outputs(DEAD_LETTERS, main=RECORDS)
        )


def shard_of(sort_key: bytes, num_shards: int) -> int:
    return stable_hash(b"shard", sort_key) % num_shards


class _NoItem:
    """The marker WriteEveryShard adds to every shard, so a shard no element reached is still written."""

    def __eq__(self, other):
        return isinstance(other, _NoItem)

    def __hash__(self):
        return 0


class _WriteOneShard(beam.DoFn):
    def __init__(self, write_shard):
        self._write_shard = write_shard

    def setup(self):
        setup = getattr(self._write_shard, "setup", None)
        if setup is not None:
            setup()

    def process(self, shard_and_items):
        index, items = shard_and_items
        yield from self._write_shard(index, [item for item in items if not isinstance(item, _NoItem)])


class WriteEveryShard(beam.PTransform):
    """(shard index, item) → `write_shard(index, items)` once for every index in range(num_shards), with
    the items that shard received (none for a shard no element reached); yields what it yields.

    The one step that makes every shard of an output exist, empty or not, so -of-NNNNN names always add
    up: record shards, Parquet shards, side files, tables and the dead-letter file all go through it.
    `write_shard` is picklable; it may have a `setup()` (run once per worker) and may yield TaggedOutputs
    (name them in `outputs`, with `main` the name of its untagged output).
    """

    def __init__(self, num_shards: int, write_shard: Callable, outputs: Sequence[str] = (), main: str = "shards"):
        super().__init__()
        self._num_shards = int(num_shards)
        self._write_shard = write_shard
        self._outputs = tuple(outputs)
        self._main = main

    def expand(self, keyed):
        markers = keyed.pipeline | "EveryShard" >> beam.Create([(index, _NoItem())
                                                                for index in range(self._num_shards)])
        write = beam.ParDo(_WriteOneShard(self._write_shard))
        if self._outputs:
            write = write.with_outputs(*self._outputs, main=self._main)
        return ((keyed, markers)
                | "WithEmptyShards" >> beam.Flatten()
                | "GroupShard" >> beam.GroupByKey()
                | "WriteShard" >> write)


class _RecordShardWriter:
    """One TFRecord shard: its (sort key, record) pairs sorted by key, to a temporary name renamed on close."""

    def __init__(self, directory, prefix, num_shards, suffix, compression):
        self._args = (directory, prefix, num_shards, suffix, compression)

    def __call__(self, index, keyed):
        directory, prefix, num_shards, suffix, compression = self._args
        path = output_lib.join(directory, output_lib.shard_name(prefix, index, num_shards, suffix))
        with output_lib.ShardWriter(path, compression) as writer:
            for _, record in sorted(keyed):
                writer.write(record)
        beam.metrics.Metrics.counter("bertprep", "records_written").inc(writer.records)
        yield dict(writer.result, shard=index)


class WriteShardedRecords(beam.PTransform):
    """(sort_key: bytes, serialized record: bytes) → TFRecord shards; yields one result dict per shard.

    The shard is chosen by a stable hash of the sort key and records are sorted inside their shard, so
    the files do not depend on worker count or arrival order. Every shard is written, empty or not.
    Memory: one shard is sorted in one worker, so pick `num_shards` to keep shards to tens of MB.
    """

    def __init__(self, directory: str, prefix: str, num_shards: int, compression: str = "none"):
        super().__init__()
        self._directory = directory
        self._prefix = prefix
        self._num_shards = num_shards
        self._compression = compression

    def expand(self, keyed_records):
        num_shards = self._num_shards
        return (
            keyed_records
            | "AssignShard" >> beam.Map(lambda kv: (shard_of(kv[0], num_shards), kv))
            | WriteEveryShard(num_shards, _RecordShardWriter(self._directory, self._prefix, num_shards,
                                                             output_lib.tfrecord_suffix(self._compression),
                                                             self._compression))
        )


def dead_letter_path(directory: str) -> str:
    return output_lib.join(directory, output_lib.DEAD_LETTER_DIR, output_lib.shard_name("dead_letters", 0, 1, ".jsonl"))


class _DeadLetterFileWriter:
    """Writes all dead letters, sorted, and yields their counts by reason kind.

    The counts come out of the step that wrote the file, so Finalize (which takes them as a side input)
    cannot publish the completion marker before the dead-letter file is in place.
    """

    def __init__(self, directory):
        self._directory = directory

    def __call__(self, _, letters):
        rows = []
        counts = collections.Counter()
        for letter in letters:
            counts[letter.reason_kind] += 1
            beam.metrics.Metrics.counter("bertprep", "dead_lettered.%s" % letter.reason_kind).inc()
            rows.append((letter.source, letter.line, letter.reason,
                         json.dumps(letter.to_json(), ensure_ascii=False, sort_keys=True, default=str)))
        rows.sort()
        with output_lib.ShardWriter(dead_letter_path(self._directory), framing="lines") as writer:
            for row in rows:
                writer.write((row[3] + "\n").encode("utf-8"))
        yield dict(counts)


class WriteDeadLetters(beam.PTransform):
    """DeadLetters → one sorted JSONL file under dead_letters/; yields {reason_kind: count} once written.

    Dead letters are expected to be rare, so one file (written by one worker) keeps them easy to read.
    The file is always written (empty when there are none: a shard of one) and exactly one dict is yielded.
    """

    def __init__(self, directory: str):
        super().__init__()
        self._directory = directory

    def expand(self, letters):
        return (letters
                | "KeyAll" >> beam.Map(lambda letter: (0, letter))
                | "WriteFile" >> WriteEveryShard(1, _DeadLetterFileWriter(self._directory)))


def count(pcollection, label: str):
    """A one-element PCollection holding the number of elements (0 for an empty input)."""
    return pcollection | label >> beam.combiners.Count.Globally()


def count_inputs(read, label: str = "CountInputs"):
    """Inputs read, readable or not: the left side of the accounting check. `read` is one ReadRecords
    result or a list of them (counted together)."""
    reads = read if isinstance(read, (list, tuple)) else [read]
    parts = tuple(pcollection for item in reads for pcollection in (item[RECORDS], item[DEAD_LETTERS]))
    return parts | label + "Flatten" >> beam.Flatten() | label >> beam.combiners.Count.Globally()
