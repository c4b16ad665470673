"""Publish gates: a run that wrote nothing, or dead-lettered too much, fails and publishes nothing.

Before the gates, a job whose every input was unreadable exited 0 with an empty but complete output.
The toy job (tests/toy_job.py) dead-letters lines starting with "!".
"""
import json
import os

import pytest

from bertprep.io import output as output_lib
from toy_command import toy  # noqa: F401  (fixture)

LETTERS = os.path.join(output_lib.DEAD_LETTER_DIR, "dead_letters-00000-of-00001.jsonl")


def published_nothing(out):
    names = set(os.listdir(out))
    return not names & {output_lib.COMPLETE_MARKER, output_lib.INFO_FILE, "report.json", "report.html"}


def test_a_run_whose_every_record_is_dead_lettered_fails_naming_the_dead_letter_file(toy, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("!one\n!two\n!three\n", encoding="utf-8")
    out = tmp_path / "out"
    assert toy("--input", str(source), "--output", str(out)) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("bertprep: error: no records written")
    assert "read 3, dead-lettered 3" in error and str(out / LETTERS) in error
    assert published_nothing(out)
    # The dead letters the message points to are there to read.
    assert len((out / LETTERS).read_text(encoding="utf-8").splitlines()) == 3


def test_an_empty_input_fails_too(toy, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("\n\n", encoding="utf-8")
    out = tmp_path / "out"
    assert toy("--input", str(source), "--output", str(out)) == 2
    assert "no records written (read 0, dead-lettered 0" in capsys.readouterr().err
    assert published_nothing(out)


def test_the_dead_letter_rate_gate_defaults_to_half_and_is_an_option(toy, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("kept\n!dropped\n!dropped too\n", encoding="utf-8")
    out = tmp_path / "out"
    assert toy("--input", str(source), "--output", str(out)) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "2 of 3 input records dead-lettered (66.7%), more than --max-dead-letter-rate 0.5 allows" in error
    assert str(out / LETTERS) in error and published_nothing(out)

    assert toy("--input", str(source), "--output", str(out), "--max-dead-letter-rate", "0.7") == 0
    info = json.loads((out / output_lib.INFO_FILE).read_text())
    assert info["config"]["max_dead_letter_rate"] == 0.7 and info["counts"]["written"] == 1
    assert (out / output_lib.COMPLETE_MARKER).exists()


@pytest.mark.parametrize("value", ["1.5", "-0.1", "half"])
def test_the_rate_must_be_a_share(toy, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        toy("--input", "x", "--output", str(tmp_path / "out"), "--max-dead-letter-rate", value)
    assert exit_info.value.code == 2
    assert "--max-dead-letter-rate: expected a number from 0 to 1" in capsys.readouterr().err
