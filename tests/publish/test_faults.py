"""Faults: a run killed mid-write publishes nothing and reruns to the same bytes; lost records fail loudly.

The kill test runs the `pretraining` job when it is installed (tiny corpus and vocabulary made here),
else the toy job from tests/toy_job.py with shard writes slowed down, in a subprocess killed with
SIGKILL while a shard is still under its temporary name.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import apache_beam as beam
import pytest

from bertprep import cli, schemas
from bertprep.errors import BertprepError
from bertprep.publish import run_report
from bertprep.io import beam_io, formats
from bertprep.publish import finalize
from bertprep.io import output as output_lib
from bertprep.commands import inspect as inspect_command

import toy_job
from toy_command import TESTS_DIR, install_toy_command, output_files, write_toy_input

KILL_DRIVER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from bertprep import cli
    from bertprep.io import output as output_lib
    import toy_command as helpers

    sys.modules[helpers.TOY_MODULE] = helpers.make_toy_command()
    cli.COMMANDS.append(helpers.TOY_MODULE)
    real_write = output_lib.ShardWriter.write

    def slow_write(self, record):  # slow enough that the parent can kill us mid-shard
        real_write(self, record)
        self._handle.flush()
        time.sleep({delay!r})

    output_lib.ShardWriter.write = slow_write
    sys.exit(cli.main({argv!r}))
""")


def _temporaries(directory):
    found = []
    for root, _, names in os.walk(directory):
        found.extend(os.path.join(root, name) for name in names if output_lib.TEMP_INFIX in name)
    return found


def _kill_mid_write(argv, out, delay):
    """Run `bertprep ARGV` with slowed shard writes; SIGKILL it once a shard has bytes under its temporary name."""
    process = subprocess.Popen([sys.executable, "-c", KILL_DRIVER.format(tests=TESTS_DIR, argv=argv, delay=delay)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            partial = [path for path in _temporaries(out) if ".tfrecord" in path and os.path.getsize(path) > 0]
            if partial:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the run ended or never started a shard: %s" % process.stderr.read().decode()[-2000:])
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def _toy_case(tmp_path, shared):
    source = write_toy_input(tmp_path / "in.txt")
    with open(source, "ab") as handle:
        handle.write("".join("record %d of the kill test\n" % n for n in range(300)).encode("utf-8"))
    return ["toy", "--input", source], 0.05


def _pretraining_case(tmp_path, shared):
    pytest.importorskip("bertprep.pipelines.pretraining")
    pytest.importorskip("bertprep.transforms.tokenization.tokenizer")
    if shared is None:
        pytest.skip("../shared is not present")
    corpus = tmp_path / "docs.txt"
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        corpus.write_text("".join(handle.readline() for _ in range(400)), encoding="utf-8")
    return ["pretraining", "--input", str(corpus), "--vocab", str(shared / "data" / "vocab" / "zh_vocab.txt"),
            "--max-seq-length", "64", "--max-predictions-per-seq", "10", "--dupe-factor", "2",
            "--num-shards", "2"], 0.01


@pytest.fixture
def shared_or_none():
    from conftest import SHARED

    return SHARED if SHARED.is_dir() else None


@pytest.mark.parametrize("case", [_toy_case, _pretraining_case], ids=["toy", "pretraining"])
def test_sigkill_mid_write_leaves_no_marker_and_a_rerun_gives_the_same_bytes(case, tmp_path, monkeypatch, capsys,
                                                                             shared_or_none):
    install_toy_command(monkeypatch)
    argv, delay = case(tmp_path, shared_or_none)
    killed, clean = str(tmp_path / "killed"), str(tmp_path / "clean")

    _kill_mid_write(argv + ["--output", killed], killed, delay)
    assert not os.path.exists(os.path.join(killed, output_lib.COMPLETE_MARKER))
    assert _temporaries(killed), "the kill should have caught a shard under its temporary name"
    with pytest.raises(BertprepError, match="incomplete"):
        inspect_command.inspect_directory(killed)
    capsys.readouterr()
    assert cli.main(["inspect", killed]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "incomplete" in error and killed in error

    assert cli.main(argv + ["--output", clean]) == 0
    uninterrupted = output_files(clean)
    assert any(name.endswith(".tfrecord") and data for name, data in uninterrupted.items())
    # An incomplete output may be rerun as it is (the killed run's temporaries are cleared) ...
    assert cli.main(argv + ["--output", killed]) == 0
    assert not _temporaries(killed)
    rerun = output_files(killed)
    assert sorted(rerun) == sorted(uninterrupted)
    for name in uninterrupted:
        assert rerun[name] == uninterrupted[name], name
    # ... and once complete, replaced only with --overwrite, again to the same bytes.
    assert cli.main(argv + ["--output", killed]) == 2
    assert cli.main(argv + ["--output", killed, "--overwrite"]) == 0
    assert output_files(killed) == uninterrupted
    info_rerun = json.load(open(os.path.join(killed, "info.json")))
    info_clean = json.load(open(os.path.join(clean, "info.json")))
    for info in (info_rerun, info_clean):
        info["config"].pop("output")
        info["config"].pop("overwrite")
    assert info_rerun == info_clean
    assert cli.main(["inspect", killed]) == 0


def build_leaky_pipeline(pipeline, options):
    """The toy job with a bug: "!" lines are filtered out instead of dead-lettered."""
    schema = schemas.for_kind(toy_job.KIND, {"max_seq_length": 4})
    read = pipeline | "Read" >> beam_io.ReadRecords(options.input, lambda path: formats.iter_file(path, "text"))
    kept = read.records | "Leak" >> beam.Filter(lambda record: not record.value.startswith("!"))
    converted = kept | "Convert" >> beam.FlatMap(toy_job._to_record, schema).with_outputs("dead", main="records")
    dead = (read.dead_letters, converted.dead) | "AllDead" >> beam.Flatten()
    shards = converted.records | "Write" >> beam_io.WriteShardedRecords(options.output, toy_job.KIND,
                                                                       options.num_shards)
    dead_counts = dead | "WriteDead" >> beam_io.WriteDeadLetters(options.output)
    finalize_inputs = finalize.FinalizeInputs(shards=shards, dead_letter_counts=dead_counts,
                                             read=beam_io.count_inputs(read),
                                             written=beam_io.count(converted.records, "CountWritten"))
    info = {"config": options.to_config(), "schema": schema.to_json()}
    _ = pipeline | "Finalize" >> finalize.Finalize(options.output, toy_job.KIND, info, finalize_inputs,
                                                  report=run_report.write_run_report,
                                                  max_dead_letter_rate=options.max_dead_letter_rate)


def test_an_accounting_mismatch_fails_the_run_loudly(tmp_path, monkeypatch, capsys):
    install_toy_command(monkeypatch, build_leaky_pipeline)
    out = str(tmp_path / "out")
    assert cli.main(["toy", "--input", write_toy_input(tmp_path / "in.txt"), "--output", out]) == 2
    error = capsys.readouterr().err
    # 10 read: 7 written, 1 undecodable dead-lettered, 2 "!" lines silently lost.
    assert error == ("bertprep: error: accounting mismatch: read 10 != written 7 + dead_lettered 1; "
                     "records were lost\n")
    assert not os.path.exists(os.path.join(out, output_lib.COMPLETE_MARKER))
    assert not os.path.exists(os.path.join(out, output_lib.INFO_FILE))
    assert not os.path.exists(os.path.join(out, "report.html"))
