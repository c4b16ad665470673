"""The jobs file: every mistake is reported with the file, the line and the key at fault."""
import pathlib
import textwrap

import pytest

from bertprep import cli
from bertprep.errors import BertprepError
from bertprep.service import catalog
from bertprep.service.jobs_file import load_jobs_file, parse_jobs, resolve_placeholders
from service_helpers import job_parser

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "bertprep" / "data" / "jobs.example.yaml"

GOOD_JOB = """\
output_root: out
jobs:
  nightly:
    pipeline: pretraining
    schedule: "0 2 * * *"
    args:
      input: corpus/*.txt
      vocab: vocab.txt
"""


def error_for(text: str) -> str:
    with pytest.raises(BertprepError) as caught:
        parse_jobs(textwrap.dedent(text), "jobs.yaml")
    return str(caught.value)


@pytest.mark.parametrize("text, expected", [
    ("output_root: out\njobs: [unclosed\n", "jobs.yaml:3: invalid YAML"),
    ("", "jobs.yaml:1: the jobs file is empty"),
    ("output_root: out\njobs:\n  a: {pipeline: pretraining, args: {input: x}}\nextra: 1\n",
     "jobs.yaml:4: extra: unknown key"),
    ("jobs:\n  a: {pipeline: pretraining, args: {input: x}}\n", "jobs.yaml:1: output_root: missing"),
    ("output_root: out\njobs: {}\n", "jobs.yaml:2: jobs: no jobs defined"),
    ("output_root: out\nregistry: gs://b/runs.sqlite\njobs:\n  a: {pipeline: pretraining, args: {input: x}}\n",
     "jobs.yaml:2: registry: must be a local file"),
    (GOOD_JOB.replace("    schedule:", "    scheduel:"), "jobs.yaml:5: jobs.nightly.scheduel: unknown key"),
    (GOOD_JOB.replace("0 2 * * *", "61 2 * * *"), "jobs.yaml:5: jobs.nightly.schedule: '61 2 * * *' is not a "
                                                  "valid cron expression"),
    (GOOD_JOB.replace('    schedule: "0 2 * * *"\n', '    schedule: "0 2 * * *"\n    timezone: Mars/Olympus\n'),
     "jobs.yaml:6: jobs.nightly.timezone: unknown time zone 'Mars/Olympus'"),
    (GOOD_JOB.replace("pipeline: pretraining", "pipeline: pretrain"),
     "jobs.yaml:4: jobs.nightly.pipeline: unknown pipeline 'pretrain' (available: "),
    (GOOD_JOB.replace("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      max-seq-lenght: 128\n"),
     "jobs.yaml:9: jobs.nightly.args.max-seq-lenght: unknown option --max-seq-lenght for pipeline pretraining"),
    (GOOD_JOB.replace("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      lower: maybe\n"),
     "jobs.yaml:9: jobs.nightly.args.lower: --lower takes true or false, not 'maybe'"),
    (GOOD_JOB.replace("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      max-seq-length: lots\n"),
     "jobs.yaml:9: jobs.nightly.args.max-seq-length: --max-seq-length: invalid literal for int() with base 10: "
     "'lots' for pipeline pretraining"),
    (GOOD_JOB.replace("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      compression: zip\n"),
     "jobs.yaml:9: jobs.nightly.args.compression: --compression: 'zip' is not one of none, gzip for pipeline "
     "pretraining"),
    (GOOD_JOB.replace("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      output: /tmp/x\n"),
     "jobs.yaml:9: jobs.nightly.args.output: set by the service"),
    (GOOD_JOB.replace("      input: corpus/*.txt\n", ""),
     "jobs.yaml:6: jobs.nightly.args: missing required option --input for pipeline pretraining"),
    (GOOD_JOB.replace("    args:", "    retries: -1\n    args:"), "jobs.yaml:6: jobs.nightly.retries: must be at "
                                                                  "least 0"),
    (GOOD_JOB.replace("    args:", "    retries: two\n    args:"), "jobs.yaml:6: jobs.nightly.retries: expected an "
                                                                   "integer, got text 'two'"),
    (GOOD_JOB.replace("    args:", "    after: upstream\n    args:"), "jobs.yaml:6: jobs.nightly.after: no job "
                                                                       "named 'upstream'"),
    (GOOD_JOB.replace("  nightly:", "  night/ly:"), "jobs.yaml:3: jobs.night/ly: job names are letters"),
    (GOOD_JOB.replace("      vocab: vocab.txt\n", "      vocab: vocab.txt\n      input: other\n"),
     "jobs.yaml:9: duplicate key 'input' (first at line 7)"),
    (GOOD_JOB.replace("corpus/*.txt", "${after}/x"), "jobs.yaml:7: jobs.nightly.args.input: ${after} needs exactly "
                                                     "one job in `after`"),
    (GOOD_JOB.replace("corpus/*.txt", "${foo}"), "jobs.yaml:7: jobs.nightly.args.input: unknown placeholder ${foo}"),
])
def test_errors_name_the_line_and_key(text, expected):
    assert expected in error_for(text)


def test_dependency_cycles_and_placeholders_naming_other_jobs():
    cycle = """\
        output_root: out
        jobs:
          a:
            pipeline: pretraining
            after: b
            args: {input: x}
          b:
            pipeline: pretraining
            after: [a]
            args: {input: x}
    """
    assert "jobs.yaml:5: jobs.a.after: dependency cycle: a -> b -> a" in error_for(cycle)
    stranger = """\
        output_root: out
        jobs:
          a:
            pipeline: mask-probs
            args: {input: x}
          b:
            pipeline: pretraining
            args: {input: x, mask-probability: "${latest:a}"}
    """
    assert "${latest:a} names a job that is not in `after`" in error_for(stranger)


def test_the_example_jobs_file_is_valid_and_defaults_merge():
    config = load_jobs_file(str(EXAMPLE))
    assert list(config.jobs) == ["confusions-nightly", "pretraining-nightly", "pretraining-dataflow-weekly"]
    nightly = config.jobs["pretraining-nightly"]
    assert nightly.after == ["confusions-nightly"]
    assert nightly.after_roots == {"confusions-nightly": str(EXAMPLE.parent / "outputs")}
    assert nightly.args["vocab"] == "/data/vocab/zh_vocab.txt" and nightly.args["workers"] == 2  # from defaults
    assert nightly.retries == 2 and nightly.schedule is None
    weekly = config.jobs["pretraining-dataflow-weekly"]
    assert weekly.args["vocab"].startswith("gs://")  # the job's own value wins over the default
    assert weekly.runner_options["runner"] == "DataflowRunner" and weekly.content_hash
    assert config.jobs["confusions-nightly"].timezone == "Asia/Shanghai"
    assert config.registry == str(EXAMPLE.parent / "bertprep-runs.sqlite")


def test_args_become_the_pipelines_own_options():
    argv = catalog.args_to_argv("pretraining", {"input": ["a.txt", "b.txt"], "lower": False, "whole_word_mask": True,
                                                "reference-compatible": False, "max-seq-length": 256, "vocab": None})
    assert argv == ["--input=a.txt,b.txt", "--no-lower", "--whole-word-mask", "--max-seq-length=256"]
    namespace, _ = job_parser("pretraining").parse_known_args(argv + ["--output", "o"])
    assert (namespace.input, namespace.lower, namespace.whole_word_mask, namespace.max_seq_length) == \
        ("a.txt,b.txt", False, True, 256)
    assert catalog.beam_options_to_argv({"runner": "DataflowRunner", "experiments": ["a", "b"], "streaming": False,
                                         "save_main_session": True}) == \
        ["--runner=DataflowRunner", "--experiments=a", "--experiments=b", "--save_main_session"]


def test_placeholders_resolve_to_upstream_outputs():
    args, missing = resolve_placeholders({"mask-probability": "${after}", "other": ["${latest:up}/x", 3]},
                                         {"up": "/out/up/run1"})
    assert args == {"mask-probability": "/out/up/run1", "other": ["/out/up/run1/x", 3]} and missing == []
    _, missing = resolve_placeholders({"x": "${latest:up}"}, {"up": None})
    assert missing == ["up"]


def test_scheduler_check_prints_next_times_without_creating_a_registry(tmp_path, capsys):
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD_JOB)
    assert cli.main(["scheduler", "check", "--jobs", str(jobs)]) == 0
    out = capsys.readouterr().out
    assert "nightly" in out and "0 2 * * *, UTC" in out
    assert not (tmp_path / "bertprep-runs.sqlite").exists()
    jobs.write_text(GOOD_JOB.replace("0 2 * * *", "every night"))
    assert cli.main(["scheduler", "check", "--jobs", str(jobs)]) == 2
    assert "jobs.yaml:5: jobs.nightly.schedule" in capsys.readouterr().err


def test_the_service_reads_jobs_and_templates_without_importing_the_cli(tmp_path):
    """Pipelines come from bertprep.pipelines.registry: checking a jobs file, writing template metadata and
    translating launcher parameters load no bertprep.cli and no job graph (no Beam pipeline module)."""
    import subprocess
    import sys

    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(GOOD_JOB)
    script = (
        "import sys\n"
        "from bertprep.service import dataflow, flex_main, jobs_file\n"
        "jobs_file.load_jobs_file(sys.argv[1])\n"
        "dataflow.template_metadata('classifier')\n"
        "flex_main.translate(['--pipeline=tagging', '--input=gs://b/x', '--output=gs://b/y', '--project=p'], {})\n"
        "loaded = sorted(name for name in sys.modules if name == 'bertprep.cli' or name.startswith("
        "('bertprep.commands', 'bertprep.pipelines.') ) and name != 'bertprep.pipelines.registry')\n"
        "print(loaded)\n")
    finished = subprocess.run([sys.executable, "-c", script, str(jobs)], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip().splitlines()[-1] == "[]"


def test_an_extra_pipelines_module_that_cannot_load_is_one_line_for_the_service_too(monkeypatch):
    """The service lists the pipelines itself (no CLI in between): a bad BERTPREP_EXTRA_PIPELINES is a
    BertprepError naming the variable, not an ImportError traceback from `scheduler check` or `serve`."""
    monkeypatch.setenv("BERTPREP_EXTRA_PIPELINES", "no_such_pipelines_module")
    with pytest.raises(BertprepError, match=r"^BERTPREP_EXTRA_PIPELINES=no_such_pipelines_module: No module named"):
        parse_jobs("output_root: out\njobs:\n  a:\n    pipeline: pretraining\n    args: {input: x.txt}\n")
