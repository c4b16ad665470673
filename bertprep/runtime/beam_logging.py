"""Beam's logging, kept quiet on the terminal: what a user needs reaches them as one line."""
import logging


def quiet_beam_logging() -> None:
    """Beam logs a warning per missing GCP client at import; users of local runs don't need it."""
    logging.getLogger().setLevel(logging.ERROR)
    for name in ("apache_beam", "root"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Worker processes' log records relayed by the local runner: a failing bundle's traceback reaches the
    # user as the exception `run_job` raises (one line; --verbose prints the trace behind it), so the
    # relayed copy would only print it again.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.CRITICAL)
    # A failing step logs its exception with a traceback here, before run_job turns it into one line (the
    # traceback stays available as that line's cause: `--verbose` prints it).
    logging.getLogger("apache_beam.runners.common").setLevel(logging.CRITICAL)
