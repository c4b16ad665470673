"""`bertprep runs list|show RUN_ID|retry RUN_ID|prune --keep N`: read and manage the run registry.

The registry is found from --registry, else the jobs file's `registry` (--jobs), else the
BERTPREP_REGISTRY environment variable. A retry queues a new run with the same job definition
(forced: it runs even if nothing changed); the scheduler starts it, or `--now` runs it here.
"""
import json
import os
import sys

from bertprep.errors import BertprepError

COMMAND = "runs"
HELP = "list, show, retry and prune runs recorded in the run registry"
DESCRIPTION = __doc__
REGISTRY_ENV = "BERTPREP_REGISTRY"


def add_arguments(parser):
    actions = parser.add_subparsers(dest="runs_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="runs, newest first")
    _where(listing)
    listing.add_argument("--job", help="only this job's runs")
    listing.add_argument("--status", choices=("queued", "running", "succeeded", "failed", "skipped", "interrupted"),
                         help="only runs with this status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many runs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one run with its parameters, fingerprint, counters and error")
    _where(show)
    show.add_argument("run_id", metavar="RUN_ID", help="a run id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="print JSON")
    retry = actions.add_parser("retry", help="queue a new run with the same job definition as RUN_ID")
    _where(retry)
    retry.add_argument("run_id", metavar="RUN_ID", help="the run to retry")
    retry.add_argument("--now", action="store_true", help="run it here and wait, instead of leaving it to the "
                       "scheduler")
    prune = actions.add_parser("prune", help="delete old runs' outputs, logs and records")
    _where(prune)
    prune.add_argument("--keep", type=int, required=True, help="runs to keep per job (newest first); the run "
                       "LATEST names and queued or running runs are always kept")
    prune.add_argument("--job", help="only prune this job")
    prune.add_argument("--dry-run", action="store_true", help="print what would be deleted")


def _where(parser):
    parser.add_argument("--registry", help="SQLite run registry file")
    parser.add_argument("--jobs", help="a jobs file, to find the registry it names")


def open_registry(args):
    from bertprep.service.run_registry import Registry

    path = args.registry
    if not path and args.jobs:
        from bertprep.service.jobs_file import load_jobs_file
        path = load_jobs_file(args.jobs, check_pipelines=False).registry
    path = path or os.environ.get(REGISTRY_ENV)
    if not path:
        raise BertprepError("give --registry PATH or --jobs FILE (or set %s)" % REGISTRY_ENV)
    if not os.path.exists(path):
        raise BertprepError("no run registry at %s" % path)
    return Registry(path)


def run(args) -> int:
    registry = open_registry(args)
    return {"list": _list, "show": _show, "retry": _retry, "prune": _prune}[args.runs_action](registry, args)


def _list(registry, args) -> int:
    from bertprep.service.run_registry import public_view

    runs = [public_view(run) for run in registry.list(job=args.job, status=args.status, limit=args.limit)]
    if args.json:
        print(json.dumps(runs, indent=2, sort_keys=True, ensure_ascii=False))
        return 0
    if not runs:
        print("no runs")
        return 0
    print("%-24s %-24s %-11s %-9s %-20s %9s  %s" % ("RUN", "JOB", "STATUS", "TRIGGER", "STARTED", "SECONDS", "NOTE"))
    for run in runs:
        note = "published" if run["published"] else ""
        if run.get("error"):  # why a run failed is the point of listing it: its whole first line
            note = (run["error"].splitlines() or [""])[0][:400]
        elif run.get("counters"):
            counts = ["%s=%s" % item for item in sorted(run["counters"].items()) if not isinstance(item[1], dict)]
            while len(" ".join(counts)) > 60:  # whole counts only
                counts.pop()
            note = " ".join(([note] if note else []) + counts)
        print("%-24s %-24s %-11s %-9s %-20s %9s  %s" % (
            run["run_id"], run["job"][:24], run["status"], run["trigger"][:9], run["started_at"] or "-",
            "%.1f" % run["duration_seconds"] if run["duration_seconds"] is not None else "-", note))
    return 0


def _show(registry, args) -> int:
    from bertprep.service import run_process
    from bertprep.service.run_registry import public_view

    run = registry.get(args.run_id, prefix=True)
    view = public_view(run, with_spec=True)
    view["report"] = run_process.read_report(run["output_path"]) if run.get("output_path") else None
    if args.json:
        print(json.dumps(view, indent=2, sort_keys=True, ensure_ascii=False, default=str))
        return 0
    for key in ("run_id", "job", "pipeline", "status", "trigger", "attempt", "retry_of", "forced", "queued_at",
                "started_at", "ended_at", "duration_seconds", "output_path", "published", "log_path", "error"):
        if view.get(key) not in (None, ""):
            print("%-17s %s" % (key + ":", view[key]))
    if view.get("counters"):
        print("counters:")
        for name, value in sorted(view["counters"].items()):
            print("  %-20s %s" % (name, json.dumps(value, ensure_ascii=False, sort_keys=True)))
    if view.get("parameters", {}).get("argv"):
        print("command:          %s" % " ".join(view["parameters"]["argv"]))
    fingerprint = view.get("input_fingerprint") or {}
    if fingerprint.get("files") is not None:
        print("inputs:           %d file(s), %s bytes (%s)" % (len(fingerprint["files"]),
              sum(entry.get("size", 0) for entry in fingerprint["files"]), fingerprint.get("mode")))
    return 0


def _retry(registry, args) -> int:
    from bertprep.service import run_upkeep
    from bertprep.service.clock import SystemClock

    clock = SystemClock()
    original, run_id = run_upkeep.enqueue_retry(registry, args.run_id, clock)
    print("queued %s (retry of %s, job %s)" % (run_id, original["run_id"], original["job"]))
    if not args.now:
        return 0
    status, run = run_upkeep.run_now(registry, original, run_id, clock)
    print("%s %s%s" % (run_id, status, (": " + run["error"]) if run.get("error") else ""))
    return 0 if status in ("succeeded", "skipped") else 1


def _prune(registry, args) -> int:
    from bertprep.service import run_upkeep

    doomed = run_upkeep.runs_to_prune(registry.list(job=args.job), args.keep)
    refused = []
    deleted = 0
    for run in doomed:
        # Checked before anything of the run is deleted: a run whose output is not its own directory
        # (a symlink, a path outside <root>/<job>/<run_id>) is left alone with a line saying why, and the
        # runs after it are still pruned, each removed from the registry as soon as its files are gone.
        problem = run_upkeep.not_prunable(run)
        if problem:
            refused.append(run)
            print("not deleting %s %s: %s" % (run["run_id"], run["job"], problem), file=sys.stderr)
            continue
        print("%s %s %s %s" % ("would delete" if args.dry_run else "deleting", run["run_id"], run["job"],
                                run.get("output_path") or ""))
        if not args.dry_run:
            run_upkeep.delete_run_files(run)
            registry.delete([run["run_id"]])
        deleted += 1
    print("%d run(s) %s" % (deleted, "to delete" if args.dry_run else "deleted"))
    if refused:
        print("bertprep: error: %d run(s) not pruned (see above); move their outputs away or delete them by hand"
              % len(refused), file=sys.stderr)
        return 1
    return 0
