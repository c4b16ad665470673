"""A minimal job over the shared output protocol, used by the foundation tests.

Each non-empty line becomes one record holding its length; lines starting with "!" are dead-lettered.
A registry job (options, plan, build: `JOB`); `build_pipeline(pipeline, options)` is the same job with
its publishing, in the shape bertprep.runtime.beam_job.run_job takes, for the tests that run it directly.
"""
import dataclasses

import apache_beam as beam

from bertprep import schemas
from bertprep.io import beam_io, formats
from bertprep.options.common import CommonJobOptions, ShardedOutputOptions
from bertprep.pipelines.registry import Job, JobOutputs

KIND = "classifier"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToyOptions(ShardedOutputOptions, CommonJobOptions):
    """The common job options, nothing else."""


def _to_record(record, schema):
    text = record.value
    if text.startswith("!"):
        yield beam.pvalue.TaggedOutput("dead", formats.DeadLetter(record.source, record.line, "bang: starts with !",
                                                                  text))
        return
    length = len(text)
    values = {"input_ids": [length] + [0] * 3, "input_mask": [1, 0, 0, 0], "segment_ids": [0] * 4,
              "label_ids": length % 2, "is_real_example": 1, "example_id": record.line}
    yield (record.key.encode("utf-8"), schema.encode(values))


def plan(options):
    """Nothing to derive: the toy job reads its --input pattern as it is."""
    return None


def build(pipeline, options, plan) -> JobOutputs:
    schema = schemas.for_kind(KIND, {"max_seq_length": 4})
    read = pipeline | "Read" >> beam_io.ReadRecords(options.input, lambda path: formats.iter_file(path, "text"))
    converted = read.records | "Convert" >> beam.FlatMap(_to_record, schema).with_outputs("dead", main="records")
    dead = (read.dead_letters, converted.dead) | "AllDead" >> beam.Flatten()
    shards = converted.records | "Write" >> beam_io.WriteShardedRecords(options.output, KIND, options.num_shards,
                                                                       options.compression)
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(options.output)
    info = {"config": options.to_config(), "schema": schema.to_json()}
    return JobOutputs(KIND, info, shards=shards, dead_letter_counts=dead_counts, read=beam_io.count_inputs(read),
                      written=beam_io.count(converted.records, "CountWritten"))


JOB = Job("toy", "toy_job:ToyOptions", "toy_job:plan", build="toy_job:build")


def build_pipeline(pipeline, options):
    """The toy job's graph and its publishing (what bertprep.runtime.job_path runs for a registry job)."""
    from bertprep.runtime.job_path import BuildAndPublish

    BuildAndPublish(JOB, plan(options))(pipeline, options)


def _fail_on_poison(record):
    from bertprep.errors import BertprepError

    if record.value == "poison":
        raise BertprepError("%s:%d: poisoned line" % (record.source, record.line))
    return record


def build_failing_pipeline(pipeline, options):
    """The toy job with a step that fails on a line reading "poison" (a worker-side error)."""
    read = pipeline | "Read" >> beam_io.ReadRecords(options.input, lambda path: formats.iter_file(path, "text"))
    _ = read.records | "Check" >> beam.Map(_fail_on_poison)
