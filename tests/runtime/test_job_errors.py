"""A failing job ends in one line naming the path (the cause kept for --verbose); reruns publish no stale shards.

Covers issue 13's findings: a directory given as --input, an error raised inside a Beam step (a
classifier input without its label column), a full disk while writing shards (the abort used to fail
again on the same error), and a rerun after a kill with another --num-shards.
"""
import errno
import json
import os
import subprocess
import sys

import pytest

from bertprep import cli
from bertprep.io import output as output_lib
from toy_command import TESTS_DIR, toy, write_toy_input  # noqa: F401

REPO_ROOT = os.path.dirname(TESTS_DIR)
NO_LABEL = "text_a\tother\nhello\tbar\n"


def run_cli_process(args, cwd):
    """`python -m bertprep.cli ARGS` in its own process: what a user sees on the terminal."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "bertprep.cli"] + [str(arg) for arg in args], cwd=str(cwd),
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_directory_as_input_is_one_line(tmp_path, zh_vocab, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("一句话。\n", encoding="utf-8")
    status = cli.main(["pretraining", "--input", str(corpus), "--output", str(tmp_path / "out"), "--vocab", zh_vocab])
    assert status == 2
    assert capsys.readouterr().err == "bertprep: error: input %s is a directory, not a file (give its files, e.g. " \
                                      "%s)\n" % (corpus, corpus / "*")


@pytest.mark.parametrize("job", ["classifier", "tagging", "squad"])
def test_an_input_that_matches_nothing_fails_before_the_output_directory_is_made(tmp_path, zh_vocab, capsys, job):
    out = tmp_path / "out"
    status = cli.main([job, "--input", str(tmp_path / "missing.txt"), "--output", str(out), "--vocab", zh_vocab])
    assert status == 2
    assert capsys.readouterr().err.strip() == "bertprep: error: no input file matches %s" % (tmp_path / "missing.txt")
    assert not out.exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_inside_a_beam_step_is_one_line_without_beam_logs(tmp_path, zh_vocab, workers):
    # With 2 workers the failing step runs in a worker process, whose Beam harness prints the traceback itself.
    (tmp_path / "rows.tsv").write_text(NO_LABEL, encoding="utf-8")
    done = run_cli_process(["classifier", "--input", "rows.tsv", "--output", "out", "--vocab", zh_vocab,
                            "--header", "--workers", workers], tmp_path)
    assert done.returncode == 2
    assert done.stderr == "bertprep: error: rows.tsv: no column 'label' in the header ['text_a', 'other']\n"


def test_verbose_keeps_the_cause(tmp_path, zh_vocab, capsys):
    (tmp_path / "rows.tsv").write_text(NO_LABEL, encoding="utf-8")
    status = cli.main(["classifier", "--input", str(tmp_path / "rows.tsv"), "--output", str(tmp_path / "out"),
                       "--vocab", zh_vocab, "--header", "--verbose"])
    assert status == 2
    error = capsys.readouterr().err
    assert "Traceback (most recent call last)" in error and "_resolve_columns" in error
    assert error.splitlines()[-1].startswith("bertprep: error: %s: no column 'label'" % (tmp_path / "rows.tsv"))


def test_a_worker_process_error_keeps_the_whole_message(tmp_path, zh_vocab, capfd):
    (tmp_path / "rows.tsv").write_text(NO_LABEL, encoding="utf-8")
    status = cli.main(["classifier", "--input", str(tmp_path / "rows.tsv"), "--output", str(tmp_path / "out"),
                       "--vocab", zh_vocab, "--header", "--workers", "2"])
    assert status == 2
    last = capfd.readouterr().err.splitlines()[-1]
    # The message ends in `']`, which used to be stripped with the quotes around Beam's text.
    assert last == "bertprep: error: %s: no column 'label' in the header ['text_a', 'other']" % (tmp_path / "rows.tsv")


def test_a_full_disk_is_one_line_naming_the_shard(toy, tmp_path, capfd, monkeypatch):
    real_create = output_lib.fs.open_write

    def create(path, *args, **kwargs):  # shards go to /dev/full: every flush fails with ENOSPC, as on a full disk
        if ".tfrecord" + output_lib.TEMP_INFIX in path:
            open(path, "wb").close()
            return open("/dev/full", "wb")
        return real_create(path, *args, **kwargs)

    monkeypatch.setattr(output_lib.fs, "open_write", create)
    source = tmp_path / "in.txt"
    source.write_text("".join("line number %d is long enough to fill a buffer\n" % n for n in range(3000)))
    out = tmp_path / "out"
    capfd.readouterr()
    assert toy("--input", str(source), "--output", str(out), "--num-shards", "1") == 2
    error = capfd.readouterr().err
    assert "Traceback" not in error
    shard = out / "classifier-00000-of-00001.tfrecord"
    assert error.splitlines()[-1] == "bertprep: error: cannot write %s: %s" % (shard, os.strerror(errno.ENOSPC))
    assert not (out / output_lib.COMPLETE_MARKER).exists()
    assert not [name for name in os.listdir(out) if output_lib.TEMP_INFIX in name]  # the abort removed it


def test_a_rerun_after_a_kill_with_other_num_shards_publishes_no_stale_shards(toy, tmp_path):
    source = write_toy_input(tmp_path / "in.txt")
    out = tmp_path / "out"
    assert toy("--input", source, "--output", str(out), "--num-shards", "4") == 0
    # What a run killed after renaming its shards leaves: shards, no info.json, no marker.
    for name in (output_lib.COMPLETE_MARKER, output_lib.INFO_FILE, "report.json", "report.html"):
        (out / name).unlink()
    (out / "notes.txt").write_text("not ours")
    (out / "other-00000-of-00002.tfrecord").write_bytes(b"not ours either")
    assert toy("--input", source, "--output", str(out), "--num-shards", "2") == 0
    names = sorted(os.listdir(out))
    assert [name for name in names if name.startswith("classifier-")] == [
        "classifier-00000-of-00002.tfrecord", "classifier-00001-of-00002.tfrecord"]
    assert "notes.txt" in names and "other-00000-of-00002.tfrecord" in names
    info = json.loads((out / output_lib.INFO_FILE).read_text())
    assert [shard["file"] for shard in info["shards"]] == ["classifier-00000-of-00002.tfrecord",
                                                           "classifier-00001-of-00002.tfrecord"]
    assert cli.main(["inspect", str(out)]) == 0
