"""The `bertprep` console script: after a Beam job it leaves with os._exit (no interpreter teardown), so
what a user sees must already be on disk and on the terminal by then, and the exit status must carry."""
import json
import os
import subprocess
import sys

from bertprep.commands.demo import build_vocabulary, demo_corpus_path

CONSOLE = [sys.executable, "-c", "from bertprep.cli import console_main; console_main()"]


def run_console(*args):
    return subprocess.run(CONSOLE + list(args), capture_output=True, text=True, timeout=600)


def test_a_job_run_by_the_console_script_is_complete_and_its_summary_printed(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(build_vocabulary(demo_corpus_path())) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    finished = run_console("pretraining", "--input", demo_corpus_path(), "--vocab", str(vocab),
                           "--output", str(out), "--dupe-factor", "2", "--max-seq-length", "64")
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert (out / "_COMPLETE").exists() and (out / "report.html").stat().st_size > 1000
    info = json.loads((out / "info.json").read_text())
    assert info["counts"]["records_out"] > 0
    # The end-of-run summary reached the pipe before the process left.
    assert str(out) in finished.stdout and "%d" % info["counts"]["records_out"] in finished.stdout.replace(",", "")


def test_a_failed_job_exits_with_its_status_and_one_line(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(build_vocabulary(demo_corpus_path())) + "\n", encoding="utf-8")
    missing = str(tmp_path / "no_such_corpus.txt")
    finished = run_console("pretraining", "--input", missing, "--vocab", str(vocab), "--output", str(tmp_path / "o"))
    assert finished.returncode == 2
    errors = [line for line in finished.stderr.splitlines() if line.startswith("bertprep: error:")]
    assert len(errors) == 1 and "no_such_corpus.txt" in errors[0]
    assert not os.path.exists(tmp_path / "o" / "_COMPLETE")


def test_other_commands_exit_normally_with_their_status():
    finished = run_console("tokenize", "--no-such-option")
    assert finished.returncode == 2 and "unrecognized arguments" in finished.stderr
