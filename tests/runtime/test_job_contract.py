"""The job contract: a job added as options + plan + build (or run) is a command, planned once on the
driver, published by the one publishing step; info.json is written once, complete; the registry lists
every job's help."""
import json
import os

import pytest

import contract_jobs
from bertprep import cli
from bertprep.io import output as output_lib
from bertprep.pipelines import registry

EXTRA = "contract_jobs"


@pytest.fixture
def contract_registry(monkeypatch):
    monkeypatch.setenv(registry.EXTRA_PIPELINES_ENV, EXTRA)
    contract_jobs.PLAN_CALLS.clear()


def _count_info_writes(monkeypatch):
    writes = []
    real = output_lib.OutputDirectory.write_json

    def counting(self, name, data):
        if name == output_lib.INFO_FILE:
            writes.append(dict(data))
        return real(self, name, data)

    monkeypatch.setattr(output_lib.OutputDirectory, "write_json", counting)
    return writes


def test_a_beam_job_added_as_options_plan_build_runs_as_a_command(contract_registry, tmp_path, monkeypatch, capsys):
    source = tmp_path / "words.txt"
    source.write_text("alpha be gamma\nd epsilon\n", encoding="utf-8")
    out = tmp_path / "out"
    writes = _count_info_writes(monkeypatch)
    assert cli.main(["word-lengths", "--input", str(source), "--output", str(out), "--min-length", "2"]) == 0
    assert len(contract_jobs.PLAN_CALLS) == 1  # planned once, on the driver
    assert len(writes) == 1  # info.json written once, with what the run learned
    info = json.loads((out / output_lib.INFO_FILE).read_text())
    assert info["longest_word"] == 7 and writes[0]["longest_word"] == 7
    assert info["counts"]["read"] == 5 and info["counts"]["written"] == 4 and info["counts"]["dead_lettered"] == 1
    # One shard per input file by this job's plan: every shard exists, and so does the dead-letter file.
    assert [shard["file"] for shard in info["shards"]] == ["words-00000-of-00001.tfrecord"]
    assert (out / "dead_letters" / "dead_letters-00000-of-00001.jsonl").read_text().count("\n") == 1
    assert (out / output_lib.COMPLETE_MARKER).exists() and (out / "report.json").exists()
    assert "bertprep words: complete" in capsys.readouterr().out


def test_a_plan_that_fails_leaves_no_output_directory(contract_registry, tmp_path, capsys):
    out = tmp_path / "never"
    assert cli.main(["word-lengths", "--input", str(tmp_path / "missing-*.txt"), "--output", str(out)]) == 2
    assert "missing-*.txt" in capsys.readouterr().err
    assert not out.exists()


def test_an_in_process_job_runs_through_the_same_path(contract_registry, tmp_path, capsys):
    (tmp_path / "a.txt").write_text("1\n2\n3\n", encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["line-tally", "--input", str(tmp_path / "*.txt"), "--output", str(out)]) == 0
    assert len(contract_jobs.PLAN_CALLS) == 1
    assert json.loads((out / output_lib.INFO_FILE).read_text())["counts"]["written"] == 3
    assert "bertprep tally: complete" in capsys.readouterr().out
    # The generic path refuses a complete output before running, as for every Beam job.
    assert cli.main(["line-tally", "--input", str(tmp_path / "*.txt"), "--output", str(out)]) == 2
    assert "already holds a complete output" in capsys.readouterr().err
    failing = tmp_path / "failing"
    assert cli.main(["line-tally", "--input", str(tmp_path / "*.txt"), "--output", str(failing),
                     "--fail-after-plan", "no tally today"]) == 2
    assert capsys.readouterr().err == "bertprep: error: no tally today\n"
    assert os.path.isdir(failing) and not (failing / output_lib.COMPLETE_MARKER).exists()
    # No Beam behind it: a Beam option is an unknown one, and a typo names the job's closest option.
    assert cli.main(["line-tally", "--input", str(tmp_path / "*.txt"), "--output", str(failing), "--project", "p"]) == 2
    assert capsys.readouterr().err == "bertprep: error: unknown option --project (see --help)\n"
    assert cli.main(["line-tally", "--input", str(tmp_path / "*.txt"), "--output", str(failing), "--fail-after",
                     "x"]) == 2
    assert "unknown option --fail-after; did you mean --fail-after-plan?" in capsys.readouterr().err


def test_a_job_is_exactly_one_of_a_graph_and_an_in_process_run():
    with pytest.raises(ValueError, match="exactly one"):
        registry.Job("both", "m:Options", "m:plan", build="m:build", run="m:run")
    with pytest.raises(ValueError, match="exactly one"):
        registry.Job("neither", "m:Options", "m:plan")


def test_the_registry_lists_every_jobs_help(contract_registry):
    helps = {name: job.help_line() for name, job in registry.pipelines().items()}
    assert helps["word-lengths"] == "one record per word with its length (a test job)"
    for name in registry.PIPELINES:
        module = __import__("bertprep.commands." + name.replace("-", "_"), fromlist=["HELP"])
        assert helps[name] == module.HELP and len(helps[name]) > 20


def test_a_classifier_run_writes_info_json_once_with_its_discovered_labels(zh_vocab, tmp_path, monkeypatch):
    """Before, Finalize wrote info.json and a publish hook rewrote it with the labels (a multi-label schema
    first said num_labels=1)."""
    source = tmp_path / "rows.tsv"
    source.write_text("text_a\tlabel\n好\tb,c\n差\ta\n", encoding="utf-8")
    writes = _count_info_writes(monkeypatch)
    out = tmp_path / "out"
    assert cli.main(["classifier", "--input", str(source), "--output", str(out), "--vocab", zh_vocab,
                     "--multi-label", "--max-seq-length", "8"]) == 0
    assert len(writes) == 1
    info = json.loads((out / output_lib.INFO_FILE).read_text())
    assert info["labels"] == ["a", "b", "c"] and info["num_labels"] == 3
    assert info == json.loads(json.dumps(writes[0]))
    (label_ids,) = [feature for feature in info["schema"]["features"] if feature["name"] == "label_ids"]
    assert label_ids["shape"] == [3], label_ids


def test_the_classifier_resolves_lists_and_loads_its_tokenizer_once_on_the_driver(zh_vocab, tmp_path, monkeypatch):
    """Planning and building the graph (what the driver does before Beam runs) resolve the row layout, list
    the input and load the tokenizer once each (before, twice each: in the command and in the graph)."""
    import collections

    import apache_beam as beam

    from bertprep.io import fs
    from bertprep.options.classifier import ClassifierOptions
    from bertprep.options.common import TokenizerOptions
    from bertprep.pipelines import classifier
    from bertprep.runtime import job_path

    calls = collections.Counter()

    def counted(name, function):
        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(fs, "match", counted("match", fs.match))
    monkeypatch.setattr(classifier, "plan_for", counted("plan_for", classifier.plan_for))
    monkeypatch.setattr(TokenizerOptions, "load_tokenizer", counted("load_tokenizer", TokenizerOptions.load_tokenizer))
    source = tmp_path / "rows.tsv"
    source.write_text("text_a\tlabel\n好\tpos\n", encoding="utf-8")
    options = ClassifierOptions(input=str(source), output=str(tmp_path / "out"), vocab=zh_vocab, max_seq_length=8)
    job = registry.pipeline("classifier")
    job_path.BuildAndPublish(job, job_path.plan(job, options))(beam.Pipeline(), options)
    assert calls == {"match": 1, "plan_for": 1, "load_tokenizer": 1}
