"""A fast pipeline command for the service tests, following the real output protocol.

It counts the input's lines into one shard (each line a record), writes info.json and the
completion marker last, like every bertprep job, without starting Beam. Options make it fail,
fail a number of times, pause mid-write (signalling a ready file) or detect overlapping runs.
"""
import os
import time

from bertprep.errors import BertprepError
from bertprep.io import output as output_lib
from bertprep.io.beam_io import match_files

COMMAND = "fake-count"
HELP = "count input lines into one shard (service tests only)"
ACCEPTS_BEAM_ARGS = True


def add_arguments(parser):
    parser.add_argument("--input", required=True, help="input file or glob")
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument("--label", default="", help="copied to info.json")
    parser.add_argument("--fail", action="store_true", help="always fail")
    parser.add_argument("--fail-times", type=int, default=0, help="fail this many runs (counted in --state-file)")
    parser.add_argument("--state-file", default=None, help="where --fail-times counts runs")
    parser.add_argument("--pause-flag", default=None, help="while this file exists, pause halfway through the "
                        "shard (up to --sleep seconds)")
    parser.add_argument("--sleep", type=float, default=60.0, help="longest pause")
    parser.add_argument("--ready-file", default=None, help="created (with the pid) when the pause starts")
    parser.add_argument("--lock-file", default=None, help="created exclusively for the run; a second run "
                        "finding it records an overlap")
    parser.add_argument("--upstream", default=None, help="an upstream output directory to read LATEST data from")
    parser.add_argument("--lower", action=__import__("argparse").BooleanOptionalAction, default=True,
                        help="a boolean option (unused)")
    parser.add_argument("--print-env", action="append", default=[], help="print whether this environment "
                        "variable is set (repeatable)")


def run(args) -> int:
    lock = None
    if args.lock_file:
        try:
            lock = os.open(args.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            with open(args.lock_file + ".overlap", "a") as handle:
                handle.write(args.output + "\n")
    try:
        return _run(args)
    finally:
        if lock is not None:
            os.close(lock)
            os.remove(args.lock_file)


def _run(args) -> int:
    for name in args.print_env:
        print("env %s is %s" % (name, "set" if name in os.environ else "unset"), flush=True)
    if args.fail:
        raise BertprepError("asked to fail (--fail)")
    if args.fail_times:
        count = 0
        if os.path.exists(args.state_file):
            with open(args.state_file) as handle:
                count = int(handle.read() or 0)
        with open(args.state_file, "w") as handle:
            handle.write(str(count + 1))
        if count < args.fail_times:
            raise BertprepError("planned failure %d of %d" % (count + 1, args.fail_times))
    if args.upstream and not os.path.exists(os.path.join(args.upstream, output_lib.COMPLETE_MARKER)):
        raise BertprepError("upstream %s is not complete" % args.upstream)
    directory = output_lib.OutputDirectory(args.output, overwrite=False)
    directory.prepare()
    lines = []
    for path in match_files(args.input):
        with open(path, encoding="utf-8") as handle:
            lines.extend(line.rstrip("\n") for line in handle)
    shard = directory.file(output_lib.shard_name("fake", 0, 1, ".tfrecord"))
    with output_lib.ShardWriter(shard) as writer:
        for index, line in enumerate(lines):
            writer.write(line.encode("utf-8"))
            if index == len(lines) // 2 and args.pause_flag and os.path.exists(args.pause_flag):
                writer._handle.flush()
                if args.ready_file:
                    with open(args.ready_file, "w") as handle:
                        handle.write(str(os.getpid()))
                end = time.monotonic() + args.sleep
                while os.path.exists(args.pause_flag) and time.monotonic() < end:
                    time.sleep(0.05)
    counts = {"read": len(lines), "written": len(lines), "dead_lettered": 0}
    directory.write_json(output_lib.INFO_FILE, {"kind": "fake", "counts": counts, "label": args.label,
                                                "upstream": args.upstream,
                                                "stats": {"line_lengths": sorted({len(l) for l in lines})}})
    directory.mark_complete({"kind": "fake", "counts": counts})
    print("wrote %d records to %s" % (len(lines), args.output))
    return 0
