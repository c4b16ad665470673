"""`bertprep scheduler run --jobs jobs.yaml`: the long-running scheduler; `scheduler check` validates.

SIGTERM (or Ctrl-C) stops it cleanly: no new run starts, running pipelines get --grace-seconds to
finish and are then stopped and marked `interrupted`; a second signal stops them at once. Nothing
half-written is ever published: LATEST moves only after a run's completion marker exists.
"""
import signal
import sys

COMMAND = "scheduler"
HELP = "run scheduled pipeline jobs from a jobs file (cron, retries, dependencies, run registry)"
DESCRIPTION = __doc__


def add_arguments(parser):
    actions = parser.add_subparsers(dest="scheduler_action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="start the scheduler loop", description=__doc__)
    _common(run)
    run.add_argument("--trigger", action="append", default=[], metavar="JOB",
                     help="queue a run of JOB at start-up (repeatable)")
    run.add_argument("--once", action="store_true", help="run what is queued (see --trigger), wait for it, its "
                     "retries and the jobs depending on it, then exit (status 1 when a job's last run did not "
                     "succeed)")
    run.add_argument("--force", action="store_true", help="run even when inputs and parameters equal the last "
                     "successful run's (otherwise such runs are `skipped`)")
    run.add_argument("--poll-seconds", type=float, default=5.0, help="how often the loop looks for due runs")
    run.add_argument("--grace-seconds", type=float, default=30.0, help="on SIGTERM, how long running pipelines "
                     "may take to finish before they are stopped and marked interrupted")
    add_lease_argument(run)
    check = actions.add_parser("check", help="validate the jobs file and print each job's next run time")
    _common(check)


def _common(parser):
    parser.add_argument("--jobs", required=True, help="the YAML jobs file")
    parser.add_argument("--registry", default=None, help="SQLite run registry (default: the jobs file's "
                        "`registry`, else bertprep-runs.sqlite beside it)")


def add_lease_argument(parser):
    import argparse
    import os

    from bertprep.errors import BertprepError

    try:
        default = _positive_seconds(os.environ.get("BERTPREP_LEASE_SECONDS", "60"))
    except argparse.ArgumentTypeError as error:
        raise BertprepError("BERTPREP_LEASE_SECONDS %s" % error) from None
    parser.add_argument("--lease-seconds", type=_positive_seconds, default=default,
                        help="a running run's lease: renewed every quarter of it while the run lives; a run whose "
                        "owner died (crash, container restart, lost host) is taken over by any scheduler this long "
                        "after its last renewal (default: $BERTPREP_LEASE_SECONDS, else 60)")


def _positive_seconds(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if not math.isfinite(value) or not 0.1 <= value <= 86400:
        raise argparse.ArgumentTypeError("must be between 0.1 and 86400 seconds, got %r" % text)
    return value


def load_config(args):
    """The jobs file of --jobs, with --registry in place of its `registry` when given (scheduler and serve)."""
    from bertprep.service.jobs_file import load_jobs_file

    config = load_jobs_file(args.jobs)
    if args.registry:
        config.registry = args.registry
    return config


def run(args) -> int:
    from bertprep.service.scheduler import Scheduler, log_to_stderr

    config = load_config(args)
    if args.scheduler_action == "check":
        return _check(config)
    scheduler = Scheduler(config, force=args.force, lease_seconds=args.lease_seconds)
    log_to_stderr()
    for job in args.trigger:
        run_id = scheduler.trigger(job, trigger="cli")
        print("queued %s (%s)" % (run_id, job), flush=True)
    received = []

    def on_signal(number, _frame):
        received.append(number)
        if len(received) == 1:
            print("bertprep scheduler: %s received; finishing running pipelines (up to %.0f s)"
                  % (signal.Signals(number).name, args.grace_seconds), file=sys.stderr, flush=True)
            scheduler.request_stop()
        else:
            print("bertprep scheduler: stopping running pipelines now", file=sys.stderr, flush=True)
            scheduler.interrupt_now()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        print("bertprep scheduler: %d job(s) from %s; registry %s; outputs under %s"
              % (len(config.jobs), config.path, config.registry, config.output_root), flush=True)
        scheduler.run_forever(poll_seconds=args.poll_seconds, grace_seconds=args.grace_seconds, once=args.once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    counts = scheduler.registry.counts_by_status()
    print("bertprep scheduler: stopped; runs by status: %s"
          % ", ".join("%s %d" % item for item in sorted(counts.items())), flush=True)
    if args.once:
        # A one-shot run (cron, CI) must not exit 0 when what it ran failed: the last run of each job counts,
        # after its retries ("skipped": inputs unchanged since the last success, which is no failure).
        unsuccessful = sorted("%s (%s: %s)" % (job, run_id, status)
                              for job, (run_id, status) in scheduler.last_outcomes.items()
                              if status not in ("succeeded", "skipped"))
        if unsuccessful:
            print("bertprep: error: %d job(s) did not succeed: %s (see `bertprep runs show RUN_ID`)"
                  % (len(unsuccessful), ", ".join(unsuccessful)), file=sys.stderr, flush=True)
            return 1
    return 0


def _check(config) -> int:
    """Validation happened while loading; show what will run when (the registry is not touched)."""
    from bertprep.service.clock import SystemClock
    from bertprep.service.scheduler import next_fire_time

    now = SystemClock().now()
    next_times = {spec.name: next_fire_time(spec.schedule, spec.timezone, now)
                  for spec in config.jobs.values() if spec.schedule and spec.enabled}
    print("%s: %d job(s), outputs under %s, registry %s" % (config.path, len(config.jobs), config.output_root,
                                                           config.registry))
    for spec in config.jobs.values():
        when = next_times.get(spec.name)
        timing = "next %s (%s, %s)" % (when.isoformat(), spec.schedule, spec.timezone) if when else \
            ("after %s" % ", ".join(spec.after) if spec.after else "on trigger only")
        print("  %-28s %-12s %s%s" % (spec.name, spec.pipeline, timing, "" if spec.enabled else "  [disabled]"))
    return 0
