"""Publishing an output: accounting, publish gates, data warnings, info.json, the run report, `_COMPLETE` last.

Applied after a job's graph (see bertprep.pipelines.registry: a job's `build` returns what to publish),
so every job publishes the same way and no graph repeats these steps.
"""
import dataclasses
import time
from typing import Callable, Dict, Mapping, Optional, Sequence, Union

import apache_beam as beam

from bertprep import __version__, progress
from bertprep.errors import BertprepError
from bertprep.io import output as output_lib
from bertprep.io.beam_io import dead_letter_path
from bertprep.pipelines.registry import JobOutputs
from bertprep.publish import data_warnings, run_report
from bertprep.schemas import statistics


# The report step: called with (directory, info, timing) once info.json is written and before the
# completion marker (bertprep.publish.run_report.write_run_report, or None for no report).
ReportStep = Callable[[str, dict, dict], None]


class _Finalize(beam.DoFn):
    def __init__(self, directory, kind, info, accounting, learned_info, report, max_dead_letter_rate,
                 started_at=None):
        self._directory = directory
        self._kind = kind
        self._info = info
        self._accounting = accounting
        self._learned_info = learned_info
        self._report = report
        self._max_dead_letter_rate = max_dead_letter_rate
        self._started_at = started_at

    def process(self, _, shard_results, dead_letter_counts, counts, stats, stage_timing):
        # Every shard is there, empty or not (bertprep.io.beam_io.WriteEveryShard), so -of-NNNNN adds up.
        shard_results = sorted(shard_results, key=lambda result: result["shard"])
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
        if self._learned_info is not None:  # what only the run learns (labels), in the one write of info.json
            info.update(self._learned_info(info))
        directory = output_lib.OutputDirectory(self._directory)
        side_files = [name for names in (self._info.get("side_files") or {}).values() if isinstance(names, list)
                      for name in names]
        directory.remove_stale_shards([shard["file"] for shard in info["shards"]] + side_files)
        directory.write_json(output_lib.INFO_FILE, info)
        if self._report is not None:
            timing = progress.run_timing(self._started_at)
            timing.update(stage_timing)
            self._report(self._directory, info, timing)
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
    `data_warnings` (the messages of `bertprep.publish.data_warnings`) end the one-line error: they often say why.
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
    report=...)` (every job reaches it through `publish`). `accounting` names the counts that must balance,
    e.g. ("read", "written", "dead_lettered"). `learned_info(info)` returns what only the run learns (the
    labels a job discovered), merged in before info.json's one write. `report` writes
    report.json/report.html (bertprep.publish.run_report.write_run_report; None for no report);
    `max_dead_letter_rate` is the job's publish gate (--max-dead-letter-rate).
    """

    def __init__(self, directory: str, kind: str, info: dict, inputs: FinalizeInputs,
                 accounting=(statistics.READ, statistics.WRITTEN, statistics.DEAD_LETTERED),
                 learned_info: Optional[Callable[[dict], dict]] = None, *, report: Optional[ReportStep],
                 max_dead_letter_rate: float):
        super().__init__()
        if not isinstance(inputs, FinalizeInputs):
            raise TypeError("Finalize takes a FinalizeInputs, got %s" % type(inputs).__name__)
        self._inputs = inputs
        self._args = (directory, kind, info, tuple(accounting or ()), learned_info, report,
                      float(max_dead_letter_rate), time.time())

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


def publish(pipeline, outputs: JobOutputs, options, report: Optional[ReportStep] = run_report.write_run_report):
    """Publish what a job's graph returned (its `JobOutputs`) into `options.output`: the one publishing tail of
    every Beam job (bertprep.runtime.job_path applies it after the job's `build`)."""
    info = dict(outputs.info)
    if outputs.vocabulary is not None:
        info = _with_vocabulary_case(info, data_warnings.vocabulary_case(outputs.vocabulary))
    inputs = FinalizeInputs(shards=outputs.shards, read=outputs.read, dead_letter_counts=outputs.dead_letter_counts,
                            written=outputs.written, job_counts=dict(outputs.job_counts), stats=outputs.stats,
                            timing=outputs.timing)
    return pipeline | "Finalize" >> Finalize(options.output, outputs.kind, info, inputs,
                                             accounting=tuple(outputs.accounting), learned_info=outputs.learned_info,
                                             report=report, max_dead_letter_rate=options.max_dead_letter_rate)


def _with_vocabulary_case(info: dict, case: dict) -> dict:
    """`info` with "vocabulary_case" right after "vocab_fingerprint" (where info.json has always had it)."""
    placed = {}
    for name, value in info.items():
        placed[name] = value
        if name == "vocab_fingerprint":
            placed["vocabulary_case"] = case
    placed.setdefault("vocabulary_case", case)
    return placed
