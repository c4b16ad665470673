"""What the user typed is what ran: an argument no job option and no Beam PipelineOptions class defines
stops the command (exit 2, one line with the closest option, nothing written), on the command line, in
a jobs file and in the Flex Template launcher; real Beam options pass; the summary lists what ran."""
import json
import textwrap

import pytest

from bertprep import cli
from bertprep.errors import BertprepError
from bertprep.runtime import beam_arguments
from bertprep.service import flex_main
from bertprep.service.jobs_file import parse_jobs

from toy_command import install_toy_command, write_toy_input


def error_lines(captured):
    return [line for line in captured.err.splitlines() if line.strip()]


@pytest.mark.parametrize("typo, meant", [
    (["--max-seq-lenght", "64"], "--max-seq-length"),
    (["--max-seq-lenght=64"], "--max-seq-length"),
    (["--whole-word-mak"], "--whole-word-mask"),
    (["--mask-probabilty", "probs/"], "--mask-probability"),
    (["--max_seq_length", "64"], "--max-seq-length"),  # Beam's spelling of a job option
    (["--temp-location", "gs://b/tmp"], "--temp_location"),  # a job's spelling of a Beam option
    (["--max-seq", "64"], "--max-seq-length"),  # jobs take no abbreviations
])
def test_a_misspelled_option_exits_2_naming_the_closest_and_writes_nothing(typo, meant, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["pretraining", "--input", str(tmp_path / "corpus.txt"), "--vocab", str(tmp_path / "vocab.txt"),
                     "--output", str(out)] + typo)
    assert code == 2
    name = typo[0].split("=")[0]
    assert error_lines(capsys.readouterr()) == ["bertprep: error: unknown option %s; did you mean %s?" % (name, meant)]
    assert not out.exists()


def test_an_unknown_runner_or_a_stray_value_or_a_bad_beam_value_is_one_line(tmp_path, capsys):
    base = ["pretraining", "--input", "c.txt", "--vocab", "v.txt", "--output", str(tmp_path / "out")]
    for extra, message in ((["--runner", "DataflowRuner"],
                            "unknown runner DataflowRuner; did you mean DataflowRunner?"),
                           (["stray"], "unexpected argument 'stray'"),
                           (["--num_workers=many"], "argument --num_workers: invalid int value: 'many'"),
                           (["--frobnicate"], "unknown option --frobnicate: neither an option of this command")):
        assert cli.main(base + extra) == 2
        lines = error_lines(capsys.readouterr())
        assert len(lines) == 1 and lines[0].startswith("bertprep: error: " + message), lines
    assert not (tmp_path / "out").exists()


def test_a_beam_option_that_starts_a_job_option_is_ambiguous(tmp_path, capsys):
    """tagging's --labels against Beam's --label (Dataflow job labels): argparse used to complete --label
    to --labels; now that job options are never abbreviated, Beam must not take it silently."""
    out = tmp_path / "out"
    code = cli.main(["tagging", "--input", "t.txt", "--vocab", "v.txt", "--output", str(out), "--label", "B-PER"])
    assert code == 2 and not out.exists()
    assert error_lines(capsys.readouterr()) == [
        "bertprep: error: ambiguous option --label: a Beam pipeline option, and short for this job's --labels "
        "(job options are never abbreviated: write --labels)"]
    # A job with no option that starts so passes Beam's --label on (a Dataflow job label).
    beam_arguments.check_beam_arguments(["--label", "team=nlp"], own_options=["--max-seq-length", "--input"])


def test_real_beam_options_pass_and_the_summary_says_what_ran(monkeypatch, tmp_path, capsys):
    install_toy_command(monkeypatch)
    out = tmp_path / "out"
    code = cli.main(["toy", "--input", write_toy_input(tmp_path / "in.txt"), "--output", str(out), "--seed", "7",
                     "--project", "my-project", "--temp_location", "gs://my-bucket/tmp", "--experiments=a",
                     "--experiments", "b"])
    assert code == 0
    assert (out / "_COMPLETE").exists()
    lines = capsys.readouterr().out.splitlines()
    # After the counts: the options not at their defaults (job options in --help order, then Beam's), the runner.
    start = lines.index("options (not at their defaults):")
    assert [line.split() for line in lines[1:5]] == [["read", "10"], ["written", "7"], ["dead_lettered", "3"],
                                                      ["records_out", "7"]]
    assert [line.split(":")[0] for line in lines[5:start]] == ["    dead letter"] * 2
    runner = lines.index("runner: FnApiRunner (local, in this process)")
    assert lines[runner + 1] == "wrote %s:" % out
    options = lines[start + 1:runner]
    assert options == ["  --input %s" % (tmp_path / "in.txt"), "  --seed 7", "  --num-shards 3",
                       "  --project my-project", "  --temp_location gs://my-bucket/tmp", "  --experiments a",
                       "  --experiments b"]
    info = json.loads((out / "info.json").read_text())
    assert info["config"]["seed"] == 7


def test_beam_options_of_every_kind_pass_the_check():
    beam_arguments.check_beam_arguments(["--runner=DataflowRunner", "--project", "p", "--region=europe-west4",
                                 "--temp_location", "gs://b/tmp", "--staging_location=gs://b/staging",
                                 "--sdk_container_image", "europe-west4-docker.pkg.dev/p/r/bertprep:1",
                                 "--no_auth", "--dry_run=True", "--num_workers", "3", "--labels", "team=nlp",
                                 "--dataflow_service_options=enable_prime", "--flink_master=localhost:8081",
                                 "--save_main_session"])
    beam_arguments.check_beam_arguments([])


GOOD_JOBS = """\
output_root: out
jobs:
  nightly:
    pipeline: pretraining
    args:
      input: corpus/*.txt
      vocab: vocab.txt
    runner_options:
      runner: DataflowRunner
      project: my-project
      temp_location: gs://my-bucket/tmp
      experiments: [a, b]
"""


@pytest.mark.parametrize("old, new, message", [
    ("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      max-seq-lenght: 64\n",
     "jobs.yaml:8: jobs.nightly.args.max-seq-lenght: unknown option --max-seq-lenght for pipeline pretraining; "
     "did you mean --max-seq-length?"),
    ("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      project: p\n",
     "jobs.yaml:8: jobs.nightly.args.project: project is a Beam pipeline option: give it under runner_options"),
    ("temp_location:", "temp_locaton:",
     "jobs.yaml:11: jobs.nightly.runner_options.temp_locaton: unknown option --temp_locaton; did you mean "
     "--temp_location?"),
    ("      experiments: [a, b]\n", "      experiments: [a, b]\n      max_seq_length: 64\n",
     "jobs.yaml:13: jobs.nightly.runner_options.max_seq_length: unknown option --max_seq_length; did you mean "
     "--max-seq-length?"),
    ("runner: DataflowRunner", "runner: Dataflow-Runner",
     "jobs.yaml:9: jobs.nightly.runner_options.runner: unknown runner Dataflow-Runner; did you mean DataflowRunner?"),
])
def test_a_jobs_file_typo_names_the_file_line_and_closest_option(old, new, message):
    parse_jobs(GOOD_JOBS, "jobs.yaml")  # the file as written is valid
    text = GOOD_JOBS.replace(old, new)
    assert text != GOOD_JOBS
    with pytest.raises(BertprepError) as caught:
        parse_jobs(textwrap.dedent(text), "jobs.yaml")
    assert str(caught.value) == message


def test_flex_template_parameters_are_checked_like_the_command_line():
    common_argv = ["--pipeline=pretraining", "--input=gs://b/in.txt", "--output=gs://b/out"]
    launcher = ["--project=p", "--region=europe-west4", "--temp_location=gs://b/tmp", "--job_name=j"]
    _, argv = flex_main.translate(common_argv + ["--max_seq_length=64"] + launcher, environ={})
    assert "--max-seq-length" in argv and argv[-1] == "--runner=DataflowRunner"
    with pytest.raises(BertprepError) as caught:
        flex_main.translate(common_argv + ["--max_seq_lenght=64"] + launcher, environ={})
    assert str(caught.value) == "unknown option --max_seq_lenght; did you mean --max_seq_length?"
