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


def test_a_registry_job_without_a_command_module_gets_a_command(tmp_path, monkeypatch, capsys):
    """A job a deployment adds with BERTPREP_EXTRA_PIPELINES (here tests/service_fake_job.py) is a command:
    its options class's arguments, suggestions from those options, and a run through runtime.beam_job."""
    from bertprep import cli

    monkeypatch.setenv("BERTPREP_EXTRA_PIPELINES", "service_fake_job")
    source = tmp_path / "in.txt"
    source.write_text("one\ntwo\nthree\n", encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["fake-count", "--input", str(source), "--output", str(out), "--lable", "x"]) == 2
    assert capsys.readouterr().err.strip() == "bertprep: error: unknown option --lable; did you mean --label?"
    assert not out.exists()
    assert cli.main(["fake-count", "--input", str(source), "--output", str(out), "--label", "nightly"]) == 0
    info = json.loads((out / "info.json").read_text())
    assert (out / "_COMPLETE").exists() and info["counts"]["written"] == 3 and info["label"] == "nightly"
    assert "options (not at their defaults):" in capsys.readouterr().out  # run_job's summary
    # A second run onto the complete output is refused before the job starts, as for every job command.
    assert cli.main(["fake-count", "--input", str(source), "--output", str(out)]) == 2
    assert "already holds a complete output; pass --overwrite" in capsys.readouterr().err
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [tests, os.path.dirname(tests), os.environ.get("PYTHONPATH")]))
    finished = subprocess.run([sys.executable, "-m", "bertprep", "--help"], capture_output=True, text=True,
                              timeout=300, env=dict(os.environ, BERTPREP_EXTRA_PIPELINES="service_fake_job",
                                                    PYTHONPATH=path))
    assert finished.returncode == 0 and "count input lines into one shard" in finished.stdout


def test_an_extra_pipelines_module_that_cannot_load_is_one_line(monkeypatch, capsys):
    from bertprep import cli

    monkeypatch.setenv("BERTPREP_EXTRA_PIPELINES", "no_such_pipelines_module")
    assert cli.main(["no-such-command"]) == 2
    assert capsys.readouterr().err.strip() == ("bertprep: error: BERTPREP_EXTRA_PIPELINES=no_such_pipelines_module: "
                                               "No module named 'no_such_pipelines_module'")


def test_the_demo_runs_the_pretraining_command_in_its_own_process(tmp_path, capsys):
    """`bertprep demo` calls the pretraining command directly (it used to go back through bertprep.cli)."""
    from bertprep import cli

    out = tmp_path / "demo"
    assert cli.main(["demo", "--output", str(out), "--dupe-factor", "1", "--max-seq-length", "32"]) == 0
    printed = capsys.readouterr().out
    assert "bertprep demo finished" in printed and "complete" in printed
    assert (out / "pretraining" / "_COMPLETE").exists() and (out / "vocab.txt").exists()
    info = json.loads((out / "pretraining" / "info.json").read_text())
    assert info["config"]["dupe_factor"] == 1 and info["config"]["max_seq_length"] == 32
