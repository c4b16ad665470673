"""Dataflow Flex Template files derived from each job's typed options class.

The template spec (the JSON `gcloud dataflow flex-template build` would upload) holds the image,
`sdkInfo`, and `metadata`: the template name, description and one parameter per job option
(`JobOptions.template_parameters`) with `name` (the option's field name, as the launcher passes
`--name=value`), `label`, `helpText`, `isOptional` and `regexes` (from the option's type or choices).
The same image serves the launcher and the workers: `defaultEnvironment.sdkContainerImage` names it.

One image holds every job, so each template carries a required `pipeline` parameter pinned by
its regex to the template's job; `bertprep.service.flex_main` (the launcher's Python file) reads it
and turns the template parameters back into the job's command-line options.

The launch request body is what `POST .../locations/REGION/flexTemplates:launch` takes:
{"launchParameter": {"jobName", "containerSpecGcsPath", "parameters", "environment"}}.
Nothing here talks to Google.
"""
import datetime
import re
from typing import Dict, List, Optional

from bertprep.errors import BertprepError
from bertprep.options.fields import option_for_key, value_text
from bertprep.service import catalog

PIPELINE_PARAMETER = "pipeline"
# Options that make no sense on Dataflow: the launcher always runs DataflowRunner, and --workers is local.
NOT_TEMPLATE_PARAMETERS = ("runner", "workers")
JOB_NAME_REGEX = re.compile(r"^[a-z]([-a-z0-9]{0,1022}[a-z0-9])?$")
# Where the Dataflow console offers a Cloud Storage picker.
PARAMETER_TYPES = {"input": "GCS_READ_FILE", "output": "GCS_WRITE_FOLDER"}


def template_parameters(pipeline: str) -> List[dict]:
    """One ParameterMetadata per option of the pipeline's options class, plus the `pipeline` selector first.

    Each is named by its field, except a field named like a Beam option (see flex_main.template_parameter_name).
    """
    from bertprep.service.flex_main import template_parameter_name

    catalog.require_beam_pipeline(pipeline)
    parameters = [{
        "name": PIPELINE_PARAMETER,
        "label": "Pipeline",
        "helpText": "The bertprep pipeline this template runs; always %s." % pipeline,
        "isOptional": False,
        "regexes": ["^%s$" % re.escape(pipeline)],
        "paramType": "TEXT",
    }]
    for parameter in catalog.options_class(pipeline).template_parameters(leave_out=NOT_TEMPLATE_PARAMETERS):
        field = parameter["name"]
        parameters.append(dict(parameter, name=template_parameter_name(field),
                               paramType=PARAMETER_TYPES.get(field, "TEXT")))
    return parameters


def template_metadata(pipeline: str, name: Optional[str] = None) -> dict:
    return {
        "name": name or "bertprep-%s" % pipeline,
        "description": "bertprep %s on Dataflow: one template parameter per option of `bertprep %s --help`"
                       % (pipeline, pipeline),
        "streaming": False,
        "parameters": template_parameters(pipeline),
    }


def template_spec(pipeline: str, image: str, name: Optional[str] = None) -> dict:
    """The Flex Template spec file (ContainerSpec JSON) for one pipeline."""
    if not image or "/" not in image:
        raise BertprepError("--image must be a container image path such as "
                            "REGION-docker.pkg.dev/PROJECT/REPO/bertprep:TAG, got %r" % image)
    try:
        from apache_beam.version import __version__ as beam_version
    except ImportError:  # pragma: no cover - Beam is a hard dependency
        beam_version = None
    sdk_info = {"language": "PYTHON"}
    if beam_version:
        sdk_info["version"] = beam_version
    return {
        "image": image,
        "sdkInfo": sdk_info,
        "metadata": template_metadata(pipeline, name),
        "defaultEnvironment": {"sdkContainerImage": image},
    }


def parameters_from_args(pipeline: str, args: dict) -> Dict[str, str]:
    """A jobs-file `args` mapping → template parameters ({name: text}), like the launcher expects."""
    from bertprep.service.flex_main import template_parameter_name

    options_class = catalog.options_class(pipeline)
    known = options_class.option_strings()
    parameters = {}
    for key, value in args.items():
        option = options_class.command_option(key)
        if option is None:
            raise BertprepError("unknown option %s for pipeline %s%s" % (
                option_for_key(key), pipeline, _did_you_mean(option_for_key(key), known)))
        if value is None or option.name in NOT_TEMPLATE_PARAMETERS:
            continue
        text = ",".join(map(value_text, value)) if isinstance(value, (list, tuple)) else value_text(value)
        if "${" in text:
            raise BertprepError("%s=%s uses a scheduler placeholder; give the upstream output path with --param %s=..."
                                % (key, text, option.name))
        parameters[template_parameter_name(option.name)] = text
    return parameters


def _did_you_mean(name: str, known: List[str]) -> str:
    from bertprep.runtime import beam_arguments

    suggestion = beam_arguments.closest_option(name, known)
    return "; did you mean %s?" % suggestion if suggestion else ""


def check_parameters(metadata: dict, parameters: Dict[str, str], allow_missing: bool = False) -> List[str]:
    """Raise BertprepError for an unknown name or a value failing a regex; return missing required names."""
    by_name = {parameter["name"]: parameter for parameter in metadata["parameters"]}
    for name, value in parameters.items():
        if name not in by_name:
            suggestion = _did_you_mean(name, list(by_name))
            raise BertprepError("unknown template parameter %r for %s%s" % (
                name, metadata["name"], suggestion or " (known: %s)" % ", ".join(sorted(by_name))))
        for regex in by_name[name].get("regexes", []):
            if not re.fullmatch(regex, value):
                raise BertprepError("template parameter %s=%r does not match %s" % (name, value, regex))
    missing = [name for name, parameter in by_name.items()
               if not parameter.get("isOptional") and name not in parameters]
    if missing and not allow_missing:
        raise BertprepError("missing required template parameter(s): %s (give --param NAME=VALUE)"
                            % ", ".join(missing))
    return missing


def dataflow_job_name(name: str, timestamp: Optional[datetime.datetime] = None) -> str:
    """A valid Dataflow job name from any text: lower case, [-a-z0-9], starting with a letter."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if not text or not text[0].isalpha():
        text = "bertprep-" + text
    if timestamp is not None:
        text += timestamp.strftime("-%Y%m%d-%H%M%S")
    text = re.sub(r"-+", "-", text)[:1024].rstrip("-")
    if not JOB_NAME_REGEX.match(text):
        raise BertprepError("cannot make a Dataflow job name from %r" % name)
    return text


def launch_body(job_name: str, spec_gcs_path: str, parameters: Dict[str, str],
                environment: Optional[dict] = None, validate_only: bool = False) -> dict:
    """The request body of projects.locations.flexTemplates.launch."""
    if not JOB_NAME_REGEX.match(job_name):
        raise BertprepError("job name %r is not valid for Dataflow ([a-z]([-a-z0-9]*[a-z0-9])?)" % job_name)
    if not spec_gcs_path.startswith("gs://"):
        raise BertprepError("the template spec path must be a gs:// path, got %r" % spec_gcs_path)
    launch_parameter = {
        "jobName": job_name,
        "containerSpecGcsPath": spec_gcs_path,
        "parameters": {name: str(value) for name, value in parameters.items()},
    }
    if environment:
        launch_parameter["environment"] = environment
    body = {"launchParameter": launch_parameter}
    if validate_only:
        body["validateOnly"] = True
    return body


def environment_from_options(temp_location=None, staging_location=None, service_account_email=None,
                             max_workers=None, num_workers=None, machine_type=None, worker_region=None,
                             network=None, subnetwork=None, sdk_container_image=None, labels=None,
                             experiments=None) -> dict:
    """FlexTemplateRuntimeEnvironment fields from command-line values (unset ones are left out)."""
    fields = {
        "tempLocation": temp_location, "stagingLocation": staging_location,
        "serviceAccountEmail": service_account_email, "maxWorkers": max_workers, "numWorkers": num_workers,
        "machineType": machine_type, "workerRegion": worker_region, "network": network,
        "subnetwork": subnetwork, "sdkContainerImage": sdk_container_image,
        "additionalUserLabels": labels or None, "additionalExperiments": experiments or None,
    }
    for key in ("tempLocation", "stagingLocation"):
        if fields[key] and not str(fields[key]).startswith("gs://"):
            raise BertprepError("%s must be a gs:// path, got %r" % (key, fields[key]))
    return {key: value for key, value in fields.items() if value is not None}
