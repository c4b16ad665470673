"""Two jobs added exactly as README's "How to add a job" says, for tests/runtime/test_job_contract.py.

`word-lengths` is a Beam job: options, `plan` (lists the input, counts the plan calls in PLAN_CALLS),
`build` (returns a JobOutputs; learns the longest word, which publishing puts in info.json). `line-tally`
is an in-process job: options, `plan`, `run`. The tests name this module in BERTPREP_EXTRA_PIPELINES.
"""
import dataclasses
from typing import Optional, Tuple

from bertprep.errors import BertprepError
from bertprep.options.common import CommonJobOptions, ShardedOutputOptions
from bertprep.options.fields import value_option
from bertprep.pipelines.registry import Job, JobOutputs

PLAN_CALLS = []  # the options each plan was made for, in this process


# 1. The options class.
@dataclasses.dataclass(frozen=True, kw_only=True)
class WordLengthsOptions(ShardedOutputOptions, CommonJobOptions):
    """one record per word with its length (a test job)"""

    min_length: int = value_option(1, type=int, help="words shorter than this are dead-lettered")


# 2. The plan: what needs I/O, once, on the driver.
@dataclasses.dataclass(frozen=True)
class WordLengthsPlan:
    input_paths: Tuple[str, ...]
    num_shards: int


def plan(options: WordLengthsOptions) -> WordLengthsPlan:
    from bertprep.io import fs

    PLAN_CALLS.append(options)
    paths = tuple(fs.match(options.input))
    return WordLengthsPlan(paths, options.num_shards or len(paths))


def _words(record, min_length):
    import apache_beam as beam

    from bertprep.io.records import DeadLetter

    for word in record.value.split():
        if len(word) < min_length:
            yield beam.pvalue.TaggedOutput("dead", DeadLetter(record.source, record.line, "short: %r" % word, word))
        else:
            yield ("%s:%08d:%s" % (record.source, record.line, word)).encode("utf-8"), str(len(word)).encode("ascii")


def _longest(info: dict) -> dict:
    return {"longest_word": info["stats"]["longest_word"]}


# 3. The graph: steps in, what to publish out.
def build(pipeline, options: WordLengthsOptions, plan: WordLengthsPlan) -> JobOutputs:
    import apache_beam as beam

    from bertprep.io import beam_io, formats

    read = pipeline | "Read" >> beam_io.ReadRecords(list(plan.input_paths),
                                                    lambda path: formats.iter_file(path, "text"))
    words = read.records | "Words" >> beam.FlatMap(_words, options.min_length).with_outputs("dead", main="words")
    shards = words.words | "Write" >> beam_io.WriteShardedRecords(options.output, "words", plan.num_shards)
    dead_counts = ((read.dead_letters, words.dead) | "AllDead" >> beam.Flatten()
                   | "WriteDead" >> beam_io.WriteDeadLetters(options.output))
    longest = (words.words | "Lengths" >> beam.Map(lambda kv: int(kv[1]))
               | "Longest" >> beam.CombineGlobally(lambda lengths: max(lengths, default=0)))
    lines = read.records | "Lines" >> beam.FlatMap(lambda record: [None] * len(record.value.split()))
    return JobOutputs("words", {"config": options.to_config()}, shards=shards, read=beam_io.count(lines, "CountWords"),
                      dead_letter_counts=dead_counts, written=beam_io.count(words.words, "CountWritten"),
                      stats={"longest_word": longest}, learned_info=_longest)


# An in-process job: the same options mechanism and plan, then `run(options, plan)` instead of a graph.
@dataclasses.dataclass(frozen=True, kw_only=True)
class LineTallyOptions(CommonJobOptions):
    """count the lines of the input files in this process (a test job)"""

    fail_after_plan: Optional[str] = value_option(help="fail in run with this message")


def tally_plan(options: LineTallyOptions) -> Tuple[str, ...]:
    from bertprep.io import fs

    PLAN_CALLS.append(options)
    return tuple(fs.match(options.input))


def tally(options: LineTallyOptions, paths: Tuple[str, ...]) -> dict:
    from bertprep.io import fs
    from bertprep.io import output as output_lib

    if options.fail_after_plan:
        raise BertprepError(options.fail_after_plan)
    lines = 0
    for path in paths:
        with fs.open_read(path) as handle:
            lines += sum(1 for _ in iter(handle.readline, b""))
    directory = output_lib.OutputDirectory(options.output)
    counts = {"read": lines, "written": lines, "dead_lettered": 0}
    directory.write_json(output_lib.INFO_FILE, {"kind": "tally", "counts": counts, "files": len(paths)})
    directory.mark_complete({"kind": "tally", "counts": counts})
    return counts


PIPELINES = {job.name: job for job in (
    Job("word-lengths", "contract_jobs:WordLengthsOptions", "contract_jobs:plan", build="contract_jobs:build"),
    Job("line-tally", "contract_jobs:LineTallyOptions", "contract_jobs:tally_plan", run="contract_jobs:tally"),
)}
