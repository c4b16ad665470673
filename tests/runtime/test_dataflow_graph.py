"""Each job's Dataflow job, built as DataflowRunner builds it for submission (a dry run: nothing leaves here).

What would otherwise fail on a user's cloud bill fails here: the job is built through the command line
with `--runner DataflowRunner --dry_run=True` (graph, side inputs, pickled steps, options), its steps
are unpickled again in a fresh interpreter (as a Dataflow worker does), and the Flex Template that
`bertprep dataflow template` writes is launched the way Dataflow's launcher runs it: the template's
parameters plus Dataflow's own options on one command line must build the same graph, consume every
parameter, and hand Dataflow's options to Beam.
"""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient",
                    reason="the Dataflow client comes with apache-beam[gcp] (the test extras)")

from apache_beam.runners.dataflow import dataflow_runner  # noqa: E402

from bertprep import cli  # noqa: E402
from bertprep.service import catalog, dataflow, flex_main  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from service_helpers import job_parser  # noqa: E402
from trainer_data import tiny_config  # noqa: E402

JOBS = ("pretraining", "classifier", "squad", "tagging", "mask-probs", "embed")
IMAGE = "us-central1-docker.pkg.dev/my-project/bertprep/bertprep:test"
TEMP_LOCATION = "gs://bertprep-test/tmp"
# What Dataflow needs to build a job, and what makes the build a dry run without credentials or network.
DATAFLOW_OPTIONS = ["--runner=DataflowRunner", "--dry_run=True", "--no_auth", "--sdk_location=container",
                    "--project=my-project", "--region=us-central1", "--temp_location=" + TEMP_LOCATION,
                    "--sdk_container_image=" + IMAGE]
# The launcher adds the job's labels to the template's parameters, under Beam's option name `labels`.
LAUNCHER_LABELS = '--labels={"goog-dataflow-provided-template-type":"flex"}'

# The transforms' steps, unpickled in a fresh interpreter as a worker does: ParDo's DoFns (with their side
# inputs) and combiners. Prints how many of each were loaded.
UNPICKLE_STEPS = r"""
import sys
import apache_beam as beam
from apache_beam.internal import pickler
from apache_beam.portability import common_urns, python_urns
from apache_beam.portability.api import beam_runner_api_pb2
proto = beam_runner_api_pb2.Pipeline.FromString(open(sys.argv[1], "rb").read())
pardo, combine = common_urns.primitives.PAR_DO.urn, common_urns.composites.COMBINE_PER_KEY.urn
loaded = {"dofns": 0, "combiners": 0, "side_inputs": 0}
for transform in proto.components.transforms.values():
    if transform.spec.urn == pardo:
        payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
        if payload.do_fn.urn != python_urns.PICKLED_DOFN_INFO:
            continue
        fn = pickler.loads(payload.do_fn.payload)[0]
        assert isinstance(fn, beam.DoFn), transform.unique_name
        loaded["dofns"] += 1
        loaded["side_inputs"] += len(payload.side_inputs)
    elif transform.spec.urn == combine:
        payload = beam_runner_api_pb2.CombinePayload.FromString(transform.spec.payload)
        assert isinstance(pickler.loads(payload.combine_fn.payload), beam.CombineFn), transform.unique_name
        loaded["combiners"] += 1
print(loaded)
"""


@pytest.fixture(scope="module")
def inputs(shared, tmp_path_factory):
    """{job: {option dest: value}}: small real inputs for each job (the graph does not depend on size)."""
    root = tmp_path_factory.mktemp("dataflow_inputs")
    data = shared / "data"
    with open(data / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        corpus = "".join(line for _, line in zip(range(400), handle))
    (root / "corpus.txt").write_text(corpus, encoding="utf-8")
    model = root / "model"
    model.mkdir()
    tiny_config(vocab_size=100).to_json_file(model / "bert_config.json")  # the graph needs only its sizes
    zh_vocab, en_vocab = str(data / "vocab" / "zh_vocab.txt"), str(data / "vocab" / "en_uncased_vocab.txt")
    return {
        "pretraining": {"input": str(root / "corpus.txt"), "vocab": zh_vocab, "max_seq_length": "64"},
        "classifier": {"input": str(data / "classifier" / "chnsenticorp" / "dev.tsv"), "vocab": zh_vocab,
                       "labels": "0,1"},
        "squad": {"input": str(data / "squad" / "vi_squad_v2_train_sub.json"), "vocab": en_vocab},
        "tagging": {"input": str(data / "ner" / "peopledaily_dev.bio"), "vocab": zh_vocab},
        "mask-probs": {"input": str(data / "csc" / "sighan15_train.tsv"), "vocab": zh_vocab},
        "embed": {"input": str(root / "corpus.txt"), "model": str(model), "vocab": zh_vocab},
    }


def command_line(job, options):
    """The job's command line for {field: value} options."""
    options_class = catalog.options_class(job)
    argv = [job]
    for field, value in options.items():
        argv += [options_class.command_option(field).option, value]
    return argv


@pytest.fixture
def built_jobs(monkeypatch):
    """Every Dataflow job the runner builds in this test (apiclient.Job: proto_pipeline, options)."""
    jobs = []
    run_pipeline = dataflow_runner.DataflowRunner.run_pipeline

    def recording(runner, pipeline, options):
        result = run_pipeline(runner, pipeline, options)
        jobs.append(result.job)
        return result

    monkeypatch.setattr(dataflow_runner.DataflowRunner, "run_pipeline", recording)
    return jobs


def graph(job):
    """Transform names and kinds, and the side inputs each one reads: what both launches must agree on."""
    transforms = job.proto_pipeline.components.transforms
    return sorted((t.unique_name, t.spec.urn, len(t.inputs), len(t.outputs)) for t in transforms.values())


def unpickled_steps(job, path):
    with open(path, "wb") as handle:
        handle.write(job.proto_pipeline.SerializeToString())
    done = subprocess.run([sys.executable, "-c", UNPICKLE_STEPS, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return eval(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("job", JOBS)
def test_the_job_builds_for_dataflow_and_its_steps_unpickle_in_a_fresh_interpreter(job, inputs, built_jobs,
                                                                                   tmp_path, capsys):
    output = tmp_path / "out"
    code = cli.main(command_line(job, dict(inputs[job], output=str(output))) + DATAFLOW_OPTIONS)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "dry run" in captured.err and "Traceback" not in captured.err
    assert len(built_jobs) == 1
    built = built_jobs[0]
    assert not (output / "_COMPLETE").exists() and not (output / "info.json").exists()  # nothing ran
    environments = built.proto_pipeline.components.environments
    assert environments and all(env.urn == "beam:env:docker:v1" for env in environments.values())
    from apache_beam.portability.api import beam_runner_api_pb2

    images = {beam_runner_api_pb2.DockerPayload.FromString(env.payload).container_image
              for env in environments.values()}
    assert images == {IMAGE}  # the workers run the image the template names
    names = {transform.unique_name for transform in built.proto_pipeline.components.transforms.values()}
    assert "Finalize/Publish" in names  # the step that publishes info.json and the marker, after everything
    loaded = unpickled_steps(built, tmp_path / "pipeline.pb")
    assert loaded["dofns"] >= 5 and loaded["side_inputs"] >= 4, loaded  # Finalize alone reads 5 side inputs


@pytest.mark.parametrize("job", JOBS)
def test_the_flex_template_launch_builds_the_command_lines_graph(job, inputs, built_jobs, tmp_path, capsys):
    # The job straight from the command line.
    options = dict(inputs[job], output=str(tmp_path / "cli"))
    assert cli.main(command_line(job, options) + DATAFLOW_OPTIONS) == 0
    # The template `bertprep dataflow template` writes, with the same options as its parameters.
    parameters = dataflow.parameters_from_args(job, dict(options, output=str(tmp_path / "flex")))
    assert cli.main(["dataflow", "template", job, "--image", IMAGE, "--output-dir", str(tmp_path),
                     "--temp-location", TEMP_LOCATION] + ["--param=%s=%s" % item for item in parameters.items()]) == 0
    capsys.readouterr()
    spec = json.loads((tmp_path / ("bertprep-%s.flex-template.json" % job)).read_text())
    body = json.loads((tmp_path / ("bertprep-%s.launch-body.json" % job)).read_text())["launchParameter"]
    names = {parameter["name"] for parameter in spec["metadata"]["parameters"]}
    assert set(body["parameters"]) <= names
    assert not names & flex_main.beam_option_names(), "template parameters named like Beam options"
    # Launched as Dataflow's launcher does: the parameters, then Dataflow's options (the environment's among them).
    environment = body["environment"]
    launcher_argv = (["--%s=%s" % item for item in body["parameters"].items()]
                     + ["--temp_location=" + environment["tempLocation"],
                        "--sdk_container_image=" + environment["sdkContainerImage"], LAUNCHER_LABELS]
                     + [option for option in DATAFLOW_OPTIONS
                        if not option.startswith(("--runner", "--temp_location", "--sdk_container_image"))])
    # The launcher becomes `python -m bertprep ...`; here the same command line runs in this process, where the
    # recording runner sees the graph.
    assert flex_main.main(launcher_argv, run_command=cli.main) == 0, capsys.readouterr().err
    assert len(built_jobs) == 2
    from_cli, from_template = built_jobs
    assert graph(from_template) == graph(from_cli)
    # Every parameter went to the job, none to Beam; Dataflow's options went to Beam.
    beam_options = from_template.options.get_all_options(retain_unknown_options=True)
    assert not names & set(beam_options)
    assert beam_options["project"] == "my-project" and beam_options["region"] == "us-central1"
    assert beam_options["sdk_container_image"] == spec["defaultEnvironment"]["sdkContainerImage"] == IMAGE
    assert from_template.options.get_all_options()["temp_location"].startswith(TEMP_LOCATION)


def test_dataflows_labels_do_not_become_a_jobs_own_labels_option():
    """classifier and tagging have --labels (their label list); Dataflow's launcher passes its job labels
    as --labels too. The template parameter is bertprep_labels, and Dataflow's value is not taken as it."""
    parameters = dataflow.parameters_from_args("classifier", {"input": "gs://b/in.tsv", "output": "gs://b/out",
                                                              "labels": "neg,pos"})
    assert parameters["bertprep_labels"] == "neg,pos" and "labels" not in parameters
    argv = ["--pipeline=classifier"] + ["--%s=%s" % item for item in parameters.items()] + [LAUNCHER_LABELS]
    _, cli_argv = flex_main.translate(argv, environ={})
    namespace, beam_args = job_parser("classifier").parse_known_args(cli_argv[1:])
    assert namespace.labels == "neg,pos"
    assert LAUNCHER_LABELS not in cli_argv
    # Without the template parameter, the launcher's labels still do not become the label list.
    _, cli_argv = flex_main.translate(["--pipeline=tagging", "--input=gs://b/x", "--output=gs://b/y",
                                       LAUNCHER_LABELS], environ={})
    assert job_parser("tagging").parse_known_args(cli_argv[1:])[0].labels is None


def test_bad_dataflow_options_are_one_line(inputs, tmp_path, capsys):
    options = [option if not option.startswith("--project") else "--project=p" for option in DATAFLOW_OPTIONS]
    code = cli.main(command_line("tagging", dict(inputs["tagging"], output=str(tmp_path / "out"))) + options)
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert error == ["bertprep: error: Beam options: Invalid Project ID (p). Please make sure you specified the "
                     "Project ID, not project description."]
