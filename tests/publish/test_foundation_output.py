"""The output protocol end to end through the CLI, with the toy job from tests/toy_job.py.

Covers: a whole run (shards, dead letters, info.json, report, marker, summary), the same bytes with one
worker or two, refusal to clobber a complete output without --overwrite, `inspect` naming the file and
byte offset of a truncated or corrupted record, and disk-full / permission errors as one line naming
the path.
"""
import errno
import json
import os

import pytest

from bertprep import cli
from bertprep.publish import finalize
from bertprep.io import output as output_lib
from bertprep.io import tfrecord
from bertprep.runtime import beam_job

import toy_job
from toy_command import install_toy_command, output_files, toy, write_toy_input  # noqa: F401  (toy: a fixture)


def test_toy_job_end_to_end_through_the_cli(toy, tmp_path, capsys):
    source = write_toy_input(tmp_path / "in.txt")
    out = str(tmp_path / "out")
    assert toy("--input", source, "--output", out) == 0
    printed = capsys.readouterr().out
    names = sorted(os.listdir(out))
    assert names == ["_COMPLETE", "classifier-00000-of-00003.tfrecord", "classifier-00001-of-00003.tfrecord",
                     "classifier-00002-of-00003.tfrecord", "dead_letters", "info.json", "report.html", "report.json"]
    info = json.load(open(os.path.join(out, "info.json")))
    # 7 good lines, 2 "!" lines, 1 undecodable line; the blank line is not a record.
    assert info["counts"]["read"] == 10
    assert info["counts"]["written"] == 7
    assert info["counts"]["dead_lettered"] == 3
    assert info["dead_letters_by_reason"] == {"bang": 2, "undecodable": 1}
    assert sum(shard["records"] for shard in info["shards"]) == 7
    letters = [json.loads(line) for line in
               open(os.path.join(out, "dead_letters", "dead_letters-00000-of-00001.jsonl"), encoding="utf-8")]
    assert sorted((letter["line"], letter["reason"].split(":")[0]) for letter in letters) == [
        (2, "bang"), (7, "bang"), (11, "undecodable")]
    assert all(letter["source"] == source for letter in letters)
    assert letters[0]["record"] == "!dropped on purpose"
    # The end-of-run summary names the counts and the files written.
    assert "read" in printed and "10" in printed
    for name in ("classifier-00000-of-00003.tfrecord", "info.json", "report.html", "_COMPLETE",
                 "dead_letters/dead_letters-00000-of-00001.jsonl"):
        assert name in printed
    # inspect agrees.
    assert cli.main(["inspect", out, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 7 and summary["complete"] is True


def test_a_run_without_dead_letters_still_publishes_an_empty_dead_letter_file(toy, tmp_path):
    source = tmp_path / "clean.txt"
    source.write_text("alpha\nbeta\n", encoding="utf-8")
    out = str(tmp_path / "out")
    assert toy("--input", str(source), "--output", out) == 0
    path = os.path.join(out, "dead_letters", "dead_letters-00000-of-00001.jsonl")
    assert os.path.exists(path) and os.path.getsize(path) == 0
    info = json.load(open(os.path.join(out, "info.json")))
    assert info["counts"]["dead_lettered"] == 0 and info["dead_letters_by_reason"] == {}


def test_same_bytes_with_one_worker_or_two(toy, tmp_path):
    source = write_toy_input(tmp_path / "in.txt")
    with open(source, "ab") as handle:  # enough lines that every shard gets some
        handle.write("".join("line number %d\n" % n for n in range(200)).encode("utf-8"))
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    assert toy("--input", source, "--output", one, "--workers", "1") == 0
    assert toy("--input", source, "--output", two, "--workers", "2") == 0
    first, second = output_files(one), output_files(two)
    assert sorted(first) == sorted(second)
    assert len([name for name in first if name.endswith(".tfrecord")]) == 3
    for name in first:
        assert first[name] == second[name], name
    info_one = json.load(open(os.path.join(one, "info.json")))
    info_two = json.load(open(os.path.join(two, "info.json")))
    assert info_one["counts"] == info_two["counts"]
    assert info_one["shards"] == info_two["shards"]


def test_a_worker_error_with_two_workers_is_one_line_and_no_worker_log_noise(monkeypatch, tmp_path, capfd):
    install_toy_command(monkeypatch, toy_job.build_failing_pipeline)
    source = tmp_path / "in.txt"
    source.write_text("fine\npoison\nfine too\n", encoding="utf-8")
    capfd.readouterr()
    assert cli.main(["toy", "--input", str(source), "--output", str(tmp_path / "out"), "--workers", "2"]) == 2
    # Captured at the file descriptors: the worker processes' own stderr is included.
    error = capfd.readouterr().err
    lines = [line for line in error.splitlines() if line.strip()]
    assert lines[-1].startswith("bertprep: error: ") and "in.txt:2: poisoned line" in lines[-1]
    assert not [line for line in lines if line.startswith(("INFO:", "WARNING:"))], lines[:5]
    assert not os.path.exists(tmp_path / "out" / output_lib.COMPLETE_MARKER)


def test_second_run_refuses_a_complete_output_unless_overwrite(toy, tmp_path, capsys):
    source = write_toy_input(tmp_path / "in.txt")
    out = str(tmp_path / "out")
    assert toy("--input", source, "--output", out) == 0
    before = output_files(out)
    marker = open(os.path.join(out, "_COMPLETE"), "rb").read()
    capsys.readouterr()
    assert toy("--input", source, "--output", out) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert out in error and "--overwrite" in error
    assert output_files(out) == before
    assert open(os.path.join(out, "_COMPLETE"), "rb").read() == marker
    # With --overwrite the run replaces it (same input, same bytes).
    assert toy("--input", source, "--output", out, "--overwrite") == 0
    assert output_files(out) == before


def test_overwrite_removes_a_jobs_side_outputs_and_leaves_other_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "_COMPLETE").write_text("{}")
    (out / "squad_features-00000-of-00001.jsonl").write_text("old")
    (out / "notes.txt").write_text("the user's")
    output_lib.OutputDirectory(str(out), overwrite=True).prepare(side_outputs=["squad_features-*"])
    assert sorted(os.listdir(out)) == ["dead_letters", "notes.txt"]


def _shard_with_records(out):
    info = json.load(open(os.path.join(out, "info.json")))
    shard = max(info["shards"], key=lambda item: item["records"])
    path = os.path.join(out, shard["file"])
    with open(path, "rb") as handle:
        offsets = [offset for offset, _ in tfrecord.iter_records(handle, path)]
    assert len(offsets) >= 2
    return path, offsets


def test_inspect_names_file_and_offset_of_a_truncated_record(toy, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert toy("--input", write_toy_input(tmp_path / "in.txt"), "--output", out) == 0
    path, offsets = _shard_with_records(out)
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(size - 3)
    capsys.readouterr()
    assert cli.main(["inspect", out]) == 2
    error = capsys.readouterr().err.strip()
    assert path in error and "truncated" in error
    assert error.endswith("byte offset %d (expected %d bytes, found %d)" % (
        offsets[-1], size - offsets[-1] - 12, size - offsets[-1] - 12 - 3))
    # A cut inside a header is reported at that header's offset too.
    with open(path, "r+b") as handle:
        handle.truncate(offsets[-1] + 5)
    assert cli.main(["inspect", out]) == 2
    assert "truncated record header at byte offset %d" % offsets[-1] in capsys.readouterr().err


def test_inspect_names_file_and_offset_of_a_corrupted_record(toy, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert toy("--input", write_toy_input(tmp_path / "in.txt"), "--output", out) == 0
    path, offsets = _shard_with_records(out)
    original = open(path, "rb").read()
    data = bytearray(original)
    data[offsets[1] + 12 + 2] ^= 0x40  # a byte of the second record's payload
    open(path, "wb").write(bytes(data))
    capsys.readouterr()
    assert cli.main(["inspect", out]) == 2
    error = capsys.readouterr().err
    assert "%s: corrupted record data (CRC mismatch) at byte offset %d" % (path, offsets[1]) in error
    data = bytearray(original)
    data[offsets[1]] ^= 0x01  # the second record's length
    open(path, "wb").write(bytes(data))
    assert cli.main(["inspect", out]) == 2
    assert "corrupted record length (CRC mismatch) at byte offset %d" % offsets[1] in capsys.readouterr().err


def test_inspect_detects_a_truncated_gzip_shard(toy, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert toy("--input", write_toy_input(tmp_path / "in.txt"), "--output", out, "--compression", "gzip") == 0
    info = json.load(open(os.path.join(out, "info.json")))
    shard = max(info["shards"], key=lambda item: item["records"])["file"]
    assert shard.endswith(".tfrecord.gz")
    path = os.path.join(out, shard)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    capsys.readouterr()
    assert cli.main(["inspect", out]) == 2
    error = capsys.readouterr().err
    assert path in error and "gzip" in error


class _FullDiskHandle:
    """A file handle whose writes fail the way a full disk does."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self):
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def test_disk_full_ends_with_one_line_naming_the_path(toy, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "out")
    source = write_toy_input(tmp_path / "in.txt")
    real_create = output_lib.fs.open_write

    def create(path, *args, **kwargs):
        handle = real_create(path, *args, **kwargs)
        return _FullDiskHandle(handle) if path.startswith(out) and ".tfrecord" in path else handle

    monkeypatch.setattr(output_lib.fs, "open_write", create)
    assert toy("--input", source, "--output", out) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert error.startswith("bertprep: error: cannot write %s" % os.path.join(out, "classifier-0000"))
    assert error.rstrip().endswith(os.strerror(errno.ENOSPC))
    assert not os.path.exists(os.path.join(out, output_lib.COMPLETE_MARKER))


def test_permission_error_ends_with_one_line_naming_the_path(toy, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "locked" / "out")
    source = write_toy_input(tmp_path / "in.txt")
    real_makedirs = os.makedirs

    def makedirs(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "locked")):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "locked"))
        return real_makedirs(path, *args, **kwargs)

    monkeypatch.setattr(output_lib.fs.os, "makedirs", makedirs)
    assert toy("--input", source, "--output", out) == 2
    error = capsys.readouterr().err
    assert error == "bertprep: error: cannot write %s: Permission denied\n" % (tmp_path / "locked")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_read_only_directory_ends_with_one_line_naming_the_path(toy, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert toy("--input", write_toy_input(tmp_path / "in.txt"), "--output", str(locked / "out")) == 2
    finally:
        locked.chmod(0o755)
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(locked / "out") in error


def test_unwritable_system_path_ends_with_one_line_naming_the_path(toy, tmp_path, capsys):
    """/sys refuses new directories even to root: a real (not simulated) permission error."""
    target = "/sys/bertprep-test-output"
    if not os.path.isdir("/sys") or os.path.exists(target):
        pytest.skip("no /sys here")
    assert toy("--input", write_toy_input(tmp_path / "in.txt"), "--output", target) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("bertprep: error: cannot write /sys/bertprep-test-output")


def test_beam_metrics_count_read_written_and_dead_letters_by_reason(tmp_path):
    options = toy_job.ToyOptions(input=write_toy_input(tmp_path / "in.txt"), output=str(tmp_path / "out"), num_shards=2)
    output_lib.OutputDirectory(options.output).prepare()
    result, _ = beam_job.run_job(toy_job.build_pipeline, options, summary=False)
    counters = {}
    for counter in result.metrics().query()["counters"]:
        if counter.key.metric.namespace == "bertprep":
            counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + counter.committed
    assert counters["records_read"] + counters["records_dead_lettered_on_read"] == 10
    assert counters["records_written"] == 7
    assert counters["dead_lettered.bang"] == 2 and counters["dead_lettered.undecodable"] == 1


def test_finalize_takes_its_inputs_by_name():
    """Finalize's inputs are a FinalizeInputs, not a dict keyed by strings; the accounting counts are fields,
    a job's own counts cannot shadow them."""
    read, written, used = object(), object(), object()
    inputs = finalize.FinalizeInputs(shards=object(), read=read, written=written, job_counts={"used": used})
    assert inputs.counts() == {"read": read, "written": written, "used": used}
    assert finalize.FinalizeInputs(shards=object(), read=read).counts() == {"read": read}
    with pytest.raises(ValueError, match="read"):
        finalize.FinalizeInputs(shards=object(), read=read, job_counts={"read": used}).counts()
    with pytest.raises(TypeError, match="FinalizeInputs"):
        finalize.Finalize("out", "classifier", {}, {"shards": object(), "counts": {}}, report=None, max_dead_letter_rate=0.5)
