"""A fast Beam job for the service tests, following the real output protocol.

The service tests name this module in BERTPREP_EXTRA_PIPELINES, so the registry (and with it the jobs
file, the CLI's generic job command and the service's subprocess runs) knows `fake-count`. One DoFn
counts the input's lines into one shard (each line a record) and writes info.json and the completion
marker last, like every bertprep job. Options make it fail, fail a number of times, pause mid-write
(signalling a ready file) or detect overlapping runs.
"""
import dataclasses
import os
import time
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.options.common import CommonJobOptions
from bertprep.options.fields import flag_option, list_option, switch_option, value_option
from bertprep.pipelines.registry import Job

COMMAND = "fake-count"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FakeCountOptions(CommonJobOptions):
    """count input lines into one shard (service tests only)"""

    input: Optional[str] = value_option(required=True, help="input file or glob")
    label: str = value_option("", help="copied to info.json")
    fail: bool = flag_option(help="always fail")
    fail_times: int = value_option(0, type=int, help="fail this many runs (counted in --state-file)")
    state_file: Optional[str] = value_option(help="where --fail-times counts runs")
    pause_flag: Optional[str] = value_option(help="while this file exists, pause halfway through the shard (up to "
                                             "--sleep seconds)")
    sleep: float = value_option(60.0, type=float, help="longest pause")
    ready_file: Optional[str] = value_option(help="created (with the pid) when the pause starts")
    lock_file: Optional[str] = value_option(help="created exclusively for the run; a second run finding it records "
                                            "an overlap")
    upstream: Optional[str] = value_option(help="an upstream output directory to read LATEST data from")
    lower: bool = switch_option(True, help="a boolean option (unused)")
    print_env: Optional[str] = list_option(help="print whether this environment variable is set (repeatable)")


# An in-process job (no Beam): options, plan, run.
PIPELINES = {COMMAND: Job(COMMAND, "service_fake_job:FakeCountOptions", "service_fake_job:plan",
                          run="service_fake_job:count")}


def plan(options: FakeCountOptions):
    return None


def count(options: FakeCountOptions, plan=None) -> int:
    lock = None
    if options.lock_file:
        try:
            lock = os.open(options.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            with open(options.lock_file + ".overlap", "a") as handle:
                handle.write(options.output + "\n")
    try:
        return _count(options)
    finally:
        if lock is not None:
            os.close(lock)
            os.remove(options.lock_file)


def _count(options: FakeCountOptions) -> int:
    from bertprep.io import output as output_lib
    from bertprep.io import fs

    for name in (options.print_env or "").split(","):
        if name:
            print("env %s is %s" % (name, "set" if name in os.environ else "unset"), flush=True)
    if options.fail:
        raise BertprepError("asked to fail (--fail)")
    if options.fail_times:
        count = 0
        if os.path.exists(options.state_file):
            with open(options.state_file) as handle:
                count = int(handle.read() or 0)
        with open(options.state_file, "w") as handle:
            handle.write(str(count + 1))
        if count < options.fail_times:
            raise BertprepError("planned failure %d of %d" % (count + 1, options.fail_times))
    if options.upstream and not os.path.exists(os.path.join(options.upstream, output_lib.COMPLETE_MARKER)):
        raise BertprepError("upstream %s is not complete" % options.upstream)
    directory = output_lib.OutputDirectory(options.output, overwrite=False)
    directory.prepare()
    lines = []
    for path in fs.match(options.input):
        with open(path, encoding="utf-8") as handle:
            lines.extend(line.rstrip("\n") for line in handle)
    shard = directory.file(output_lib.shard_name("fake", 0, 1, ".tfrecord"))
    with output_lib.ShardWriter(shard) as writer:
        for index, line in enumerate(lines):
            writer.write(line.encode("utf-8"))
            if index == len(lines) // 2 and options.pause_flag and os.path.exists(options.pause_flag):
                writer._handle.flush()
                if options.ready_file:
                    with open(options.ready_file, "w") as handle:
                        handle.write(str(os.getpid()))
                end = time.monotonic() + options.sleep
                while os.path.exists(options.pause_flag) and time.monotonic() < end:
                    time.sleep(0.05)
    counts = {"read": len(lines), "written": len(lines), "dead_lettered": 0}
    directory.write_json(output_lib.INFO_FILE, {"kind": "fake", "counts": counts, "label": options.label,
                                                "upstream": options.upstream,
                                                "stats": {"line_lengths": sorted({len(l) for l in lines})}})
    directory.mark_complete({"kind": "fake", "counts": counts})
    print("wrote %d records to %s" % (len(lines), options.output))
    return len(lines)
