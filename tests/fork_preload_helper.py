"""A job module for tests/runtime/test_local_workers.py: its preload_worker notes which process ran it."""
import os


def preload_worker():
    with open(os.environ["PRELOAD_LOG"], "a") as handle:
        handle.write("%d\n" % os.getpid())
