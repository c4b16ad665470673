"""Beam transforms for reading inputs and publishing outputs, shared by every job.

Shard assignment and ordering depend only on record keys, never on which worker saw a record
first, so a job's output bytes are the same with one worker or many.
"""
import collections
import dataclasses
import json
import time
from typing import Callable, Dict, Mapping, Optional, Sequence, Union

import apache_beam as beam

from bertprep import __version__, data_warnings

from bertprep.runtime import progress
from bertprep.errors import BertprepError
from bertprep.io import output as output_lib
from bertprep.io import fs
from bertprep.io.records import DeadLetter
from bertprep.schemas import statistics
from bertprep.seeding import stable_hash

RECORDS = "records"
DEAD_LETTERS = "dead_letters"


class _ReadFile(beam.DoFn):
    def __init__(self, read_fn: Callable):
        self._read_fn = read_fn
        self._read = beam.metrics.Metrics.counter("bertprep", "records_read")
        self._dead = beam.metrics.Metrics.counter("bertprep", "records_dead_lettered_on_read")

    def process(self, path):
        progress.mark_stage(progress.READING_STAGE)
        for item in self._read_fn(path):
            progress.note_read()
            if isinstance(item, DeadLetter):
                self._dead.inc()
                yield beam.pvalue.TaggedOutput(DEAD_LETTERS, item)
            else:
                self._read.inc()
                yield item
        progress.flush(force=True)
        progress.mark_stage(progress.READING_STAGE, at_once=True)


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


class _WriteShard(beam.DoFn):
    def __init__(self, directory, prefix, num_shards, suffix, compression):
        self._args = (directory, prefix, num_shards, suffix, compression)

    def process(self, shard_and_records):
        directory, prefix, num_shards, suffix, compression = self._args
        index, keyed = shard_and_records
        path = output_lib.join(directory, output_lib.shard_name(prefix, index, num_shards, suffix))
        with output_lib.ShardWriter(path, compression) as writer:
            for _, record in sorted(keyed):
                writer.write(record)
        beam.metrics.Metrics.counter("bertprep", "records_written").inc(writer.records)
        yield dict(writer.result, shard=index)


class WriteShardedRecords(beam.PTransform):
    """(sort_key: bytes, serialized record: bytes) → TFRecord shards; yields one result dict per shard.

    The shard is chosen by a stable hash of the sort key and records are sorted inside their shard, so
    the files do not depend on worker count or arrival order. Memory: one shard is sorted in one worker,
    so pick `num_shards` to keep shards to tens of MB.
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
            | "GroupShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self._directory, self._prefix, num_shards,
                                                     output_lib.tfrecord_suffix(self._compression), self._compression))
        )


def dead_letter_path(directory: str) -> str:
    return output_lib.join(directory, output_lib.DEAD_LETTER_DIR, output_lib.shard_name("dead_letters", 0, 1, ".jsonl"))


class _WriteDeadLetterFile(beam.DoFn):
    """Writes all dead letters, sorted, and yields their counts by reason kind.

    The counts come out of the step that wrote the file, so Finalize (which takes them as a side input)
    cannot publish the completion marker before the dead-letter file is in place.
    """

    def __init__(self, directory):
        self._directory = directory

    def process(self, keyed):
        _, letters = keyed
        rows = []
        counts = collections.Counter()
        for letter in letters:
            if letter is None:  # the marker that makes the group exist when there are no dead letters
                continue
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
    The file is always written (empty when there are none) and exactly one dict is always yielded.
    """

    def __init__(self, directory: str):
        super().__init__()
        self._directory = directory

    def expand(self, letters):
        keyed = letters | "KeyAll" >> beam.Map(lambda letter: (None, letter))
        marker = letters.pipeline | "EmptyGroup" >> beam.Create([(None, None)])
        return ((keyed, marker)
                | "WithMarker" >> beam.Flatten()
                | "GroupAll" >> beam.GroupByKey()
                | "WriteFile" >> beam.ParDo(_WriteDeadLetterFile(self._directory)))


def count(pcollection, label: str):
    """A one-element PCollection holding the number of elements (0 for an empty input)."""
    return pcollection | label >> beam.combiners.Count.Globally()


def count_inputs(read, label: str = "CountInputs"):
    """Inputs read, readable or not: the left side of the accounting check. `read` is one ReadRecords
    result or a list of them (counted together)."""
    reads = read if isinstance(read, (list, tuple)) else [read]
    parts = tuple(pcollection for item in reads for pcollection in (item[RECORDS], item[DEAD_LETTERS]))
    return parts | label + "Flatten" >> beam.Flatten() | label >> beam.combiners.Count.Globally()


# The report step: called with (directory, info, timing) once info.json is written and before the
# completion marker. The runtime supplies it (bertprep.runtime.run_report), so io/ never imports report/.
ReportStep = Callable[[str, dict, dict], None]


class _Finalize(beam.DoFn):
    def __init__(self, directory, kind, shard_prefix, num_shards, compression, info, accounting, publish_hooks,
                 report, max_dead_letter_rate, started_at=None):
        self._directory = directory
        self._kind = kind
        self._shard_prefix = shard_prefix
        self._num_shards = num_shards
        self._compression = compression
        self._info = info
        self._accounting = accounting
        self._publish_hooks = publish_hooks
        self._report = report
        self._max_dead_letter_rate = max_dead_letter_rate
        self._started_at = started_at

    def process(self, _, shard_results, dead_letter_counts, counts, stats, stage_timing):
        publishing_started = time.time()  # the publishing stage on the report's time axis
        shard_results = list(shard_results)
        written_shards = {result["shard"] for result in shard_results}
        if self._num_shards:
            # Shards that received no record still exist, so the -of-NNNNN names always add up.
            suffix = output_lib.tfrecord_suffix(self._compression)
            for index in range(self._num_shards):
                if index not in written_shards:
                    path = output_lib.join(self._directory,
                                           output_lib.shard_name(self._shard_prefix, index, self._num_shards, suffix))
                    with output_lib.ShardWriter(path, self._compression) as writer:
                        pass
                    shard_results.append(dict(writer.result, shard=index))
        shard_results.sort(key=lambda result: result["shard"])
        counts = dict(counts)
        counts[statistics.DEAD_LETTERED] = int(sum(dead_letter_counts.values())) if dead_letter_counts else 0
        counts[statistics.RECORDS_OUT] = int(sum(result["records"] for result in shard_results))
        info = dict(self._info)
        info.update({
            "kind": self._kind,
            "tool_version": __version__,
            "counts": counts,
            "dead_letters_by_reason": dict(sorted((dead_letter_counts or {}).items())),
            "shards": [{"file": result["path"].rsplit("/", 1)[-1], "records": result["records"]}
                       for result in shard_results],
            "stats": stats,
            "accounting": list(self._accounting or ()),
        })
        check_accounting(counts, self._accounting)
        # The gates' message carries what the data says (e.g. SQuAD 2.0 read without its option), so a refused
        # run names the fix as a published one would.
        found = data_warnings.warnings_for(info)  # once: for the gates' message and for info.json
        check_publish_gates(counts, self._directory, self._max_dead_letter_rate,
                            self._accounting, [warning.message for warning in found
                                               if warning.code not in data_warnings.SAID_BY_THE_GATES])
        data_warnings.check(info, found)  # info["warnings"]; with --strict, fails here before anything is published
        directory = output_lib.OutputDirectory(self._directory)
        side_files = [name for names in (self._info.get("side_files") or {}).values() if isinstance(names, list)
                      for name in names]
        directory.remove_stale_shards([shard["file"] for shard in info["shards"]] + side_files)
        directory.write_json(output_lib.INFO_FILE, info)
        if self._report is not None:
            timing = progress.run_timing(self._started_at, publishing_started)
            timing.update(stage_timing)
            self._report(self._directory, info, timing)
        for hook in self._publish_hooks:
            hook(self._directory, info)
        directory.mark_complete({"kind": self._kind, "counts": counts, "finished_at": time.time()})
        yield info


def check_accounting(counts: Dict[str, int], accounting: Optional[tuple]) -> None:
    """`read == written + dead_lettered`, or the run fails loudly: no input may vanish."""
    if not accounting:
        return
    read_name, *parts = accounting
    read = counts.get(read_name, 0)
    accounted = sum(counts.get(name, 0) for name in parts)
    if read != accounted:
        detail = " + ".join("%s %d" % (name, counts.get(name, 0)) for name in parts)
        raise BertprepError("accounting mismatch: %s %d != %s; records were lost" % (read_name, read, detail))


def check_publish_gates(counts: Dict[str, int], directory: str, max_dead_letter_rate: float,
                        accounting: Optional[tuple] = None, data_warnings: Sequence[str] = ()) -> None:
    """Refuse to publish an output that holds nothing, or that dead-lettered more than the job allows.

    Without these gates a job whose every input was unreadable (a truncated JSON file) exited 0 and
    published an empty output, and a scheduler moved LATEST onto it. Raised before info.json and
    _COMPLETE exist, so nothing is published; the dead-letter file is already in place to read.
    `data_warnings` (the messages of `bertprep.data_warnings`) end the one-line error: they often say why.
    """
    rate_limit = float(max_dead_letter_rate)
    read = counts.get(accounting[0] if accounting else statistics.READ, 0)
    written = counts.get(statistics.WRITTEN, counts.get(statistics.RECORDS_OUT, 0))
    dead = counts.get(statistics.DEAD_LETTERED, 0)
    letters = dead_letter_path(directory)
    because = "".join(" | " + message for message in data_warnings)
    if written == 0:
        raise BertprepError("no records written (read %d, dead-lettered %d; see %s); nothing was published%s"
                            % (read, dead, letters, because))
    if read and dead / read > rate_limit:
        raise BertprepError("%d of %d input records dead-lettered (%.1f%%), more than --max-dead-letter-rate %g "
                            "allows (see %s); nothing was published%s"
                            % (dead, read, 100.0 * dead / read, rate_limit, letters, because))


@dataclasses.dataclass(frozen=True)
class FinalizeInputs:
    """What Finalize waits for and publishes, by name.

    `shards`: the shard results (WriteShardedRecords, or a job's own table/Parquet writers);
    `dead_letter_counts`: WriteDeadLetters' {reason kind: count} (none: nothing was dead-lettered);
    `read` and `written`: one-element counts for the accounting (`read` counts readable and unreadable
    inputs); `job_counts`: the job's other counts by name ("used", "filtered", ...), each one element;
    `stats`: for the report, {name: one-element PCollection of a JSON-able value} or one PCollection of
    (name, value) pairs (fewer transforms when one combiner makes them all), names from
    bertprep.schemas.statistics; `timing`: (name, value) pairs such as a stage's CPU time, which differ
    from run to run and so go to report.json, never info.json (info.json stays reproducible).
    """

    shards: beam.PCollection
    read: beam.PCollection
    dead_letter_counts: Optional[beam.PCollection] = None
    written: Optional[beam.PCollection] = None
    job_counts: Mapping[str, beam.PCollection] = dataclasses.field(default_factory=dict)
    stats: Union[Mapping[str, beam.PCollection], beam.PCollection] = dataclasses.field(default_factory=dict)
    timing: Optional[beam.PCollection] = None

    def counts(self) -> Dict[str, beam.PCollection]:
        """Every count Finalize publishes, by its info.json name."""
        named = {statistics.READ: self.read}
        if self.written is not None:
            named[statistics.WRITTEN] = self.written
        clash = set(named) & set(self.job_counts)
        if clash:
            raise ValueError("job_counts repeats the named counts %s" % sorted(clash))
        named.update(self.job_counts)
        return named


class Finalize(beam.PTransform):
    """Write info.json, the report, then the completion marker, after every shard and dead letter is written.

    Applied to the pipeline: `pipeline | "Finalize" >> Finalize(directory, kind, info, FinalizeInputs(...),
    report=...)`. `accounting` names the counts that must balance, e.g. ("read", "written",
    "dead_lettered"). `report` writes report.json/report.html (bertprep.runtime.run_report.write_run_report;
    None for no report); `max_dead_letter_rate` is the job's publish gate (--max-dead-letter-rate);
    `publish_hooks` add side files to info.json's directory before the marker.
    """

    def __init__(self, directory: str, kind: str, info: dict, inputs: FinalizeInputs, num_shards: int = 0,
                 compression: str = "none", shard_prefix: Optional[str] = None,
                 accounting=(statistics.READ, statistics.WRITTEN, statistics.DEAD_LETTERED),
                 publish_hooks=(), *, report: Optional[ReportStep], max_dead_letter_rate: float):
        super().__init__()
        if not isinstance(inputs, FinalizeInputs):
            raise TypeError("Finalize takes a FinalizeInputs, got %s" % type(inputs).__name__)
        self._inputs = inputs
        self._args = (directory, kind, shard_prefix or kind, num_shards, compression, info, accounting,
                      tuple(publish_hooks), report, float(max_dead_letter_rate), time.time())

    def expand(self, pipeline_begin):
        inputs = self._inputs
        pipeline = inputs.shards.pipeline
        counts = inputs.counts()
        stats = inputs.stats
        count_items = [(counts[name] | "Name_%s" % name >> beam.Map(lambda value, n=name: (n, int(value))))
                       for name in sorted(counts)]
        empty = pipeline | "NoItems" >> beam.Create([])
        counts_dict = tuple(count_items) | "FlattenCounts" >> beam.Flatten()
        if isinstance(stats, beam.PCollection):
            stats_dict = stats
        else:
            stat_items = [(stats[name] | "Stat_%s" % name >> beam.Map(lambda value, n=name: (n, value)))
                          for name in sorted(stats)]
            stats_dict = (tuple(stat_items) or (empty,)) | "FlattenStats" >> beam.Flatten()
        dead = inputs.dead_letter_counts
        if dead is None:
            dead = pipeline | "NoDeadLetters" >> beam.Create([{}])
        return (
            pipeline
            | "Trigger" >> beam.Create([None])
            | "Publish" >> beam.ParDo(
                _Finalize(*self._args),
                beam.pvalue.AsList(inputs.shards),
                beam.pvalue.AsSingleton(dead, default_value={}),
                beam.pvalue.AsDict(counts_dict),
                beam.pvalue.AsDict(stats_dict),
                beam.pvalue.AsDict(inputs.timing if inputs.timing is not None else empty))
        )
