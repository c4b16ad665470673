"""Progress for local runs: per-process counts, the monitor (log lines and rich), the end-of-run summary."""
import io
import json
import os
import re
import threading
import time

from bertprep import progress
from bertprep.runtime import progress_monitor

from bertprep.runtime import run_summary
from bertprep.io import output as output_lib
from bertprep.runtime import beam_job

import toy_job
from toy_command import install_toy_command, write_toy_input


def test_counts_are_published_per_process_and_summed(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    progress.flush(force=True)  # start this process's count for this directory at zero
    for _ in range(1000):
        progress.note_read()
    progress.flush(force=True)
    assert progress_monitor.records_read(str(tmp_path)) == 1000
    # Another worker process publishes its own file; the monitor adds them up.
    (tmp_path / "read-999999").write_text("234")
    (tmp_path / "read-888888.123.tmp").write_text("5")  # a half-written temporary is ignored
    assert progress_monitor.records_read(str(tmp_path)) == 1234
    # A new run (another directory) starts again from zero.
    other = tmp_path / "next"
    other.mkdir()
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(other))
    progress.note_read(3)
    progress.flush(force=True)
    assert progress_monitor.records_read(str(other)) == 3


def test_no_progress_directory_means_no_files(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    progress.note_read(600)
    progress.flush(force=True)
    assert progress.read_run_timeline() is None


def _work(records, seconds):
    """Read-like work in a background thread: `records` counted over about `seconds`."""
    def run():
        for _ in range(10):
            progress.note_read(records // 10)
            time.sleep(seconds / 10)
        progress.flush(force=True)
    worker = threading.Thread(target=run)
    worker.start()
    return worker


def test_log_mode_prints_plain_lines_and_keeps_a_timeline(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    with progress_monitor.ProgressMonitor(mode="log", stream=stream, poll_seconds=0.02, log_seconds=0.05) as monitor:
        directory = monitor.directory
        assert os.environ[progress.PROGRESS_DIR_ENV] == directory
        _work(5000, 0.4).join()
        timeline = progress.read_run_timeline()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    pattern = re.compile(r"^bertprep: (done: )?[\d,]+ records read, [\d,]+ records/s, \d+:\d\d:\d\d elapsed$")
    assert all(pattern.match(line) for line in lines), lines
    assert lines[-1].startswith("bertprep: done: 5,000 records read")
    assert "\x1b[" not in stream.getvalue()  # no terminal escapes when not a terminal
    # The timeline starts at zero, never goes back, and ends at the total.
    samples = monitor.samples
    assert samples[0] == [0.0, 0] and samples[-1][1] == 5000
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(samples, samples[1:]))
    assert timeline["started_at"] > 0 and timeline["samples"][0] == [0.0, 0]
    # Leaving the monitor restores the environment and removes its directory.
    assert progress.PROGRESS_DIR_ENV not in os.environ
    assert not os.path.exists(directory)


def test_rich_mode_draws_a_live_progress_line(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    with progress_monitor.ProgressMonitor(mode="rich", stream=stream, poll_seconds=0.02):
        _work(2000, 0.3).join()
        time.sleep(0.1)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "records read" in text and "records/s" in text
    assert "2,000 records read" in text


def test_a_short_run_is_quiet_in_log_mode(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    with progress_monitor.ProgressMonitor(mode="log", stream=stream, poll_seconds=0.02, log_seconds=60):
        progress.note_read(10)
    assert stream.getvalue() == ""


def test_worker_processes_report_progress_to_the_launching_process(tmp_path, monkeypatch, capsys):
    """With --workers 2 the readers run in subprocesses; their counts still reach the monitor."""
    install_toy_command(monkeypatch)
    monkeypatch.setenv(progress_monitor.LOG_INTERVAL_ENV, "0.01")
    source = write_toy_input(tmp_path / "in.txt")
    options = toy_job.ToyOptions(input=source, output=str(tmp_path / "out"), num_shards=2, workers=2)
    output_lib.OutputDirectory(options.output).prepare()
    beam_job.run_job(toy_job.build_pipeline, options)
    captured = capsys.readouterr()
    info = json.load(open(tmp_path / "out" / "info.json"))
    done = [line for line in captured.err.splitlines() if line.startswith("bertprep: done:")]
    assert done == [done[-1]] and done[0].startswith("bertprep: done: %d records read" % info["counts"]["read"])
    # ... and the run's summary follows, naming the counts and paths.
    assert "bertprep classifier: complete in" in captured.out
    assert str(tmp_path / "out") in captured.out


def test_summary_fits_one_screen_and_names_the_paths(tmp_path):
    source = write_toy_input(tmp_path / "in.txt")
    options = toy_job.ToyOptions(input=source, output=str(tmp_path / "out"), num_shards=12)
    output_lib.OutputDirectory(options.output).prepare()
    beam_job.run_job(toy_job.build_pipeline, options, summary=False)
    text = run_summary.format_summary(options.output, elapsed=2.0)
    lines = text.splitlines()
    assert len(lines) <= 25
    assert lines[0] == "bertprep classifier: complete in 2.0 s (5 read/s, 3 written/s)"
    assert lines[1].split() == ["read", "10"] and lines[2].split() == ["written", "7"]
    assert lines[3].split() == ["dead_lettered", "3"]
    assert "classifier-00000-of-00012.tfrecord  (" in text
    assert "… 6 more shards" in text
    for name in ("info.json", "report.html", "report.json", "_COMPLETE",
                 "dead_letters/dead_letters-00000-of-00001.jsonl"):
        assert "\n  %s" % name in text
    assert "dead letter: bang" in text and "dead letter: undecodable" in text
