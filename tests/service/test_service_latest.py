"""LATEST is replaced atomically: a reader polling it never finds it missing (issue 29, item 5); a directory
named LATEST is refused in one line, never deleted."""
import threading
import time

import pytest

from bertprep.errors import BertprepError
from bertprep.service.run_process import publish_latest, read_latest


def test_a_reader_in_a_loop_never_finds_latest_missing(tmp_path):
    root = str(tmp_path)
    publish_latest(root, "job", "run-0")
    stop = threading.Event()
    reads = {"total": 0, "missing": 0, "other": 0}

    def reader():
        while not stop.is_set():
            value = read_latest(root, "job")
            reads["total"] += 1
            if value is None:
                reads["missing"] += 1
            elif value not in ("run-0", "run-1"):
                reads["other"] += 1

    thread = threading.Thread(target=reader)
    thread.start()
    publishes = 0
    end = time.monotonic() + 1.5
    try:
        while time.monotonic() < end:
            publish_latest(root, "job", "run-%d" % (publishes % 2))
            publishes += 1
    finally:
        stop.set()
        thread.join()
    assert reads["total"] > 1000 and publishes > 100, (reads, publishes)
    assert reads["missing"] == 0 and reads["other"] == 0, (reads, publishes)
    assert sorted(path.name for path in (tmp_path / "job").iterdir()) == ["LATEST"]  # no temporary left


def test_a_directory_named_latest_is_refused_and_kept(tmp_path):
    directory = tmp_path / "job" / "LATEST"
    directory.mkdir(parents=True)
    (directory / "somebody's file").write_text("keep me")
    with pytest.raises(BertprepError, match="LATEST is a directory"):
        publish_latest(str(tmp_path), "job", "run-1")
    with pytest.raises(BertprepError, match="LATEST is a directory"):
        read_latest(str(tmp_path), "job")
    assert (directory / "somebody's file").read_text() == "keep me"
