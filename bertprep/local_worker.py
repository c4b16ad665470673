"""The SDK worker process of local multi-worker runs: Beam's own harness, then an exit without teardown.

Why not Beam's default worker command: when a run ends, FnApiRunner stops its worker processes one
after another and waits for each to exit; Beam's worker then finalizes Beam's, gRPC's and numba's
modules, about 0.4 s a process that does nothing for the run (the outputs are published by then).
Here the harness runs exactly as in `apache_beam.runners.worker.sdk_worker_main`; only the exit and the
terminal's log level differ.
"""
import logging
import os
import sys
import traceback


def command_line() -> str:
    """The worker command for `SubprocessSDKEnvironment` (the form Beam's own default takes)."""
    return "%s -m bertprep.local_worker" % sys.executable


def main() -> None:
    # Only a crashing harness on the terminal: Beam's worker logs a score of INFO/WARNING start-up lines
    # per process (they still reach the runner through Beam's logging service), and a failing bundle's
    # error reaches the user through the runner, as the job's own one-line error.
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.CRITICAL)
    logging.getLogger().addHandler(terminal)
    code = 0
    try:
        from apache_beam.runners.worker import sdk_worker_main

        sdk_worker_main.main(sys.argv)
    except BaseException:  # Beam has logged it to the runner; keep a trace on this process's stderr too
        traceback.print_exc()
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
