"""Flex Template specs and launch bodies, checked against the field lists of Google's documentation.

The shapes below are transcribed from the Dataflow v1b3 REST reference (ContainerSpec,
TemplateMetadata, ParameterMetadata, SDKInfo, FlexTemplateRuntimeEnvironment,
LaunchFlexTemplateRequest, LaunchFlexTemplateParameter) and the "Configure Flex Templates" guide.
Nothing contacts Google.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from bertprep import cli
from bertprep.errors import BertprepError
from bertprep.options import fields
from bertprep.service import catalog, dataflow, flex_main
from service_helpers import job_parser

IMAGE = "europe-west4-docker.pkg.dev/my-project/bertprep/bertprep:1.0"
JOBS = ("mask-probs", "pretraining", "classifier", "squad", "tagging", "embed")
ALL_JOBS = sorted(set(JOBS) | set(catalog.available_pipelines()))  # and any job registered later

# field: (type, required)
CONTAINER_SPEC = {"image": (str, True), "metadata": (dict, True), "sdkInfo": (dict, True),
                  "defaultEnvironment": (dict, False), "imageRepositoryUsernameSecretId": (str, False),
                  "imageRepositoryPasswordSecretId": (str, False), "imageRepositoryCertPath": (str, False)}
SDK_INFO = {"language": (str, True), "version": (str, False)}
SDK_LANGUAGES = {"UNKNOWN", "JAVA", "PYTHON", "GO"}
TEMPLATE_METADATA = {"name": (str, True), "description": (str, False), "parameters": (list, False),
                     "streaming": (bool, False), "supportsAtLeastOnce": (bool, False),
                     "supportsExactlyOnce": (bool, False), "defaultStreamingMode": (str, False)}
PARAMETER_METADATA = {"name": (str, True), "label": (str, True), "helpText": (str, True),
                      "isOptional": (bool, False), "regexes": (list, False), "paramType": (str, False),
                      "customMetadata": (dict, False), "groupName": (str, False), "parentName": (str, False),
                      "parentTriggerValues": (list, False), "enumOptions": (list, False),
                      "defaultValue": (str, False), "hiddenUi": (bool, False)}
PARAM_TYPES = {"DEFAULT", "TEXT", "GCS_READ_BUCKET", "GCS_WRITE_BUCKET", "GCS_READ_FILE", "GCS_WRITE_FILE",
               "GCS_READ_FOLDER", "GCS_WRITE_FOLDER", "PUBSUB_TOPIC", "PUBSUB_SUBSCRIPTION"}
RUNTIME_ENVIRONMENT = {"numWorkers": (int, False), "maxWorkers": (int, False), "zone": (str, False),
                       "serviceAccountEmail": (str, False), "tempLocation": (str, False),
                       "machineType": (str, False), "additionalExperiments": (list, False),
                       "network": (str, False), "subnetwork": (str, False), "additionalUserLabels": (dict, False),
                       "kmsKeyName": (str, False), "ipConfiguration": (str, False), "workerRegion": (str, False),
                       "workerZone": (str, False), "enableStreamingEngine": (bool, False),
                       "flexrsGoal": (str, False), "stagingLocation": (str, False),
                       "sdkContainerImage": (str, False), "diskSizeGb": (int, False),
                       "autoscalingAlgorithm": (str, False), "dumpHeapOnOom": (bool, False),
                       "saveHeapDumpsToGcsPath": (str, False), "launcherMachineType": (str, False),
                       "enableLauncherVmSerialPortLogging": (bool, False), "streamingMode": (str, False),
                       "additionalPipelineOptions": (list, False)}
LAUNCH_REQUEST = {"launchParameter": (dict, True), "validateOnly": (bool, False)}
LAUNCH_PARAMETER = {"jobName": (str, True), "containerSpecGcsPath": (str, False), "containerSpec": (dict, False),
                    "parameters": (dict, False), "launchOptions": (dict, False), "environment": (dict, False),
                    "update": (bool, False), "transformNameMappings": (dict, False)}
JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def check_fields(value: dict, fields: dict, where: str) -> None:
    assert isinstance(value, dict), where
    unknown = set(value) - set(fields)
    assert not unknown, "%s has fields Google does not document: %s" % (where, sorted(unknown))
    for name, (kind, required) in fields.items():
        if required:
            assert name in value, "%s lacks required %s" % (where, name)
        if name in value:
            assert isinstance(value[name], kind) and not (kind is int and isinstance(value[name], bool)), \
                "%s.%s should be %s, is %r" % (where, name, kind.__name__, value[name])


def check_environment(environment: dict, where: str) -> None:
    check_fields(environment, RUNTIME_ENVIRONMENT, where)
    for key in ("tempLocation", "stagingLocation"):
        if key in environment:
            assert environment[key].startswith("gs://")


def check_spec(spec: dict) -> None:
    check_fields(spec, CONTAINER_SPEC, "spec")
    check_fields(spec["sdkInfo"], SDK_INFO, "spec.sdkInfo")
    assert spec["sdkInfo"]["language"] in SDK_LANGUAGES
    check_environment(spec.get("defaultEnvironment", {}), "spec.defaultEnvironment")
    check_metadata(spec["metadata"])


def check_metadata(metadata: dict) -> None:
    check_fields(metadata, TEMPLATE_METADATA, "metadata")
    names = [parameter["name"] for parameter in metadata["parameters"]]
    assert len(names) == len(set(names)), "duplicate parameter names"
    for parameter in metadata["parameters"]:
        where = "metadata.parameters[%s]" % parameter.get("name")
        check_fields(parameter, PARAMETER_METADATA, where)
        assert parameter["label"].strip() and parameter["helpText"].strip(), where
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", parameter["name"]), where
        for regex in parameter.get("regexes", []):
            assert isinstance(regex, str)
            re.compile(regex)
        if "paramType" in parameter:
            assert parameter["paramType"] in PARAM_TYPES, where


def check_launch_body(body: dict) -> None:
    check_fields(body, LAUNCH_REQUEST, "body")
    launch = body["launchParameter"]
    check_fields(launch, LAUNCH_PARAMETER, "body.launchParameter")
    assert ("containerSpecGcsPath" in launch) != ("containerSpec" in launch)
    assert launch["containerSpecGcsPath"].startswith("gs://")
    assert JOB_NAME.match(launch["jobName"]) and len(launch["jobName"]) <= 1024
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in launch["parameters"].items())
    check_environment(launch.get("environment", {}), "body.launchParameter.environment")


def registered(job: str):
    if job not in catalog.available_pipelines():
        pytest.skip("the %s job is not in bertprep.pipelines.registry yet" % job)


def required_values(metadata: dict) -> dict:
    values = {"input": "gs://my-bucket/data/*.txt", "output": "gs://my-bucket/out/run-1"}
    return {parameter["name"]: values.get(parameter["name"], "x") for parameter in metadata["parameters"]
            if not parameter.get("isOptional") and parameter["name"] != dataflow.PIPELINE_PARAMETER}


@pytest.mark.parametrize("job", ALL_JOBS)
def test_template_files_have_the_documented_shape_for_every_job(job, tmp_path, capsys):
    registered(job)
    metadata = dataflow.template_metadata(job)
    params = ["--param=%s=%s" % item for item in required_values(metadata).items()]
    code = cli.main(["dataflow", "template", job, "--image", IMAGE, "--output-dir", str(tmp_path),
                     "--spec-gcs-path", "gs://my-bucket/templates/%s.json" % job,
                     "--temp-location", "gs://my-bucket/tmp", "--max-workers", "8", "--label", "team=nlp"] + params)
    assert code == 0
    name = "bertprep-" + job
    spec = json.loads((tmp_path / ("%s.flex-template.json" % name)).read_text())
    alone = json.loads((tmp_path / ("%s.metadata.json" % name)).read_text())
    body = json.loads((tmp_path / ("%s.launch-body.json" % name)).read_text())
    check_spec(spec)
    check_metadata(alone)
    check_launch_body(body)
    assert alone == spec["metadata"]
    assert spec["image"] == spec["defaultEnvironment"]["sdkContainerImage"] == IMAGE  # one image for both
    launch = body["launchParameter"]
    assert launch["parameters"][dataflow.PIPELINE_PARAMETER] == job
    assert launch["environment"] == {"tempLocation": "gs://my-bucket/tmp", "maxWorkers": 8,
                                     "sdkContainerImage": IMAGE, "additionalUserLabels": {"team": "nlp"}}
    assert dataflow.check_parameters(spec["metadata"], launch["parameters"]) == []
    assert "REQUIRED" not in capsys.readouterr().out


@pytest.mark.parametrize("job", ALL_JOBS)
def test_parameters_come_from_the_jobs_own_options(job):
    registered(job)
    metadata = dataflow.template_metadata(job)
    by_name = {parameter["name"]: parameter for parameter in metadata["parameters"]}
    options = [option for option in catalog.options_class(job).command_options()
               if option.name not in dataflow.NOT_TEMPLATE_PARAMETERS]
    named = {flex_main.template_parameter_name(option.name): option for option in options}
    assert set(by_name) == set(named) | {dataflow.PIPELINE_PARAMETER}
    for name, option in named.items():
        parameter = by_name[name]
        assert parameter["isOptional"] is (not option.spec.required)
        assert option.option in parameter["label"]
        assert " ".join(option.spec.help.split())[:40] in parameter["helpText"]
        default = option.default
        if default not in (None, "") and parameter.get("regexes"):
            text = ("true" if default else "false") if isinstance(default, bool) else str(default)
            assert all(re.fullmatch(regex, text) for regex in parameter["regexes"]), (option.name, text)
            assert "default %s" % text in parameter["helpText"], option.name
        if option.spec.choices:
            assert all(re.fullmatch(parameter["regexes"][0], str(choice)) for choice in option.spec.choices)
            assert not re.fullmatch(parameter["regexes"][0], "not-a-choice")
        elif option.spec.type is int:
            assert not re.fullmatch(parameter["regexes"][0], "1.5")
        elif option.spec.type is float:
            assert re.fullmatch(parameter["regexes"][0], "0.25") and not re.fullmatch(parameter["regexes"][0], "x")
    assert by_name["pipeline"]["regexes"] == ["^%s$" % re.escape(job)]
    assert not any(re.fullmatch(by_name["pipeline"]["regexes"][0], other) for other in JOBS if other != job)


@pytest.mark.parametrize("job", ALL_JOBS)
def test_the_launcher_turns_parameters_back_into_the_jobs_command_line(job):
    """Every parameter at a non-default value survives flex_main's translation to CLI options."""
    registered(job)
    metadata = dataflow.template_metadata(job)
    by_name = {flex_main.template_parameter_name(option.name): option
               for option in catalog.options_class(job).command_options()}
    parameters, expected = dict(required_values(metadata)), {}
    for name in list(parameters):
        expected[name] = parameters[name]
    for parameter in metadata["parameters"]:
        name = parameter["name"]
        option = by_name.get(name)
        if option is None or name in parameters:
            continue
        if option.spec.kind in (fields.FLAG, fields.SWITCH):
            value = not bool(option.default)
            parameters[name], expected[option.name] = ("true" if value else "false"), value
        elif option.spec.choices:
            choice = [c for c in option.spec.choices if c != option.default][0]
            parameters[name], expected[option.name] = str(choice), choice
        elif option.spec.type in (int, float):
            value = option.spec.type((option.default or 0) + 3)
            parameters[name], expected[option.name] = str(value), value
        elif option.spec.type is str:
            parameters[name] = expected[option.name] = "gs://my-bucket/%s" % option.name
    argv = ["--%s=%s" % item for item in sorted(parameters.items())]
    argv = ["--pipeline=" + job] + argv + ["--project=my-project", "--region=europe-west4",
                                           "--temp_location=gs://my-bucket/tmp"]
    pipeline, cli_argv = flex_main.translate(argv, environ={})
    assert pipeline == job and cli_argv[0] == job
    namespace, beam_args = job_parser(job).parse_known_args(cli_argv[1:])
    assert namespace.runner == "DataflowRunner"
    assert beam_args == ["--project=my-project", "--region=europe-west4", "--temp_location=gs://my-bucket/tmp"]
    for field, value in expected.items():
        assert getattr(namespace, field) == value, field


def test_launch_body_from_a_jobs_file_job(tmp_path, capsys):
    registered("pretraining")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("output_root: gs://my-bucket/out\njobs:\n  weekly:\n    pipeline: pretraining\n"
                    "    args: {input: 'gs://my-bucket/corpus/*.txt', vocab: gs://my-bucket/vocab.txt, "
                    "max-seq-length: 256, lower: false, whole-word-mask: true}\n")
    code = cli.main(["dataflow", "launch-body", "weekly", "--jobs", str(jobs), "--param", "output=gs://my-bucket/o",
                     "--spec-gcs-path", "gs://my-bucket/templates/weekly.json", "--job-name", "weekly-pretraining",
                     "--image", IMAGE, "--validate-only"])
    assert code == 0
    body = json.loads(capsys.readouterr().out)
    check_launch_body(body)
    assert body["validateOnly"] is True
    assert body["launchParameter"]["jobName"] == "weekly-pretraining"
    assert body["launchParameter"]["parameters"] == {
        "pipeline": "pretraining", "input": "gs://my-bucket/corpus/*.txt", "vocab": "gs://my-bucket/vocab.txt",
        "max_seq_length": "256", "lower": "false", "whole_word_mask": "true", "output": "gs://my-bucket/o"}


@pytest.mark.parametrize("params, message", [
    (["output=gs://b/o", "max_seq_length=12.5"], "does not match"),
    (["output=gs://b/o", "no_such_option=1"], "unknown template parameter 'no_such_option'"),
    ([], "missing required template parameter"),
    (["output"], "--param takes NAME=VALUE"),
])
def test_launch_body_refuses_bad_parameters(params, message, capsys):
    registered("pretraining")
    args = ["dataflow", "launch-body", "pretraining", "--param", "input=gs://b/in.txt"]
    for item in params:
        args += ["--param", item]
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err


def test_template_needs_an_image_path():
    registered("pretraining")
    with pytest.raises(BertprepError, match="container image path"):
        dataflow.template_spec("pretraining", "bertprep")


def test_dataflow_job_names_are_valid():
    assert dataflow.dataflow_job_name("Pretraining_Nightly.v2") == "pretraining-nightly-v2"
    assert dataflow.dataflow_job_name("2024 corpus") == "bertprep-2024-corpus"
    with pytest.raises(BertprepError, match="not valid"):
        dataflow.launch_body("Bad_Name", "gs://b/t.json", {})
    with pytest.raises(BertprepError, match="gs://"):
        dataflow.launch_body("ok", "/local/t.json", {})


def test_the_launcher_file_runs_by_path_and_reaches_the_jobs_parser(tmp_path):
    """As the Flex Template launcher runs it: `python .../flex_main.py --pipeline=... --name=value ...`."""
    registered("pretraining")
    script = flex_main.__file__
    bad_value = subprocess.run([sys.executable, script, "--pipeline=pretraining", "--input=gs://b/in.txt",
                                "--output=gs://b/out", "--max_seq_length=lots", "--project=p"],
                               capture_output=True, text=True, cwd=str(tmp_path), timeout=120)
    assert bad_value.returncode == 2
    assert "argument --max-seq-length: invalid int value: 'lots'" in bad_value.stderr
    assert "bertprep pretraining --input gs://b/in.txt --output gs://b/out --max-seq-length lots --project=p " \
           "--runner=DataflowRunner" in bad_value.stderr
    environment = {key: value for key, value in os.environ.items() if key != flex_main.PIPELINE_ENV}
    no_pipeline = subprocess.run([sys.executable, script, "--input=x"], capture_output=True, text=True,
                                 cwd=str(tmp_path), timeout=120, env=environment)
    assert no_pipeline.returncode == 2 and "no pipeline" in no_pipeline.stderr
