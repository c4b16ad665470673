"""Dataflow Flex Template files derived from each job's own option definitions.

The template spec (the JSON `gcloud dataflow flex-template build` would upload) holds the image,
`sdkInfo`, and `metadata`: the template name, description and one parameter per job option with
`name` (the option's dest, as the launcher passes `--name=value`), `label`, `helpText`, `isOptional`
and `regexes` (from the option's type or choices). The same image serves the launcher and the
workers: `defaultEnvironment.sdkContainerImage` names it.

One image holds every job, so each template carries a required `pipeline` parameter pinned by
its regex to the template's job; `bertprep.service.flex_main` (the launcher's Python file) reads it
and turns the template parameters back into the job's command-line options.

The launch request body is what `POST .../locations/REGION/flexTemplates:launch` takes:
{"launchParameter": {"jobName", "containerSpecGcsPath", "parameters", "environment"}}.
Nothing here talks to Google.
"""
import argparse
import datetime
import re
from typing import Dict, List, Optional

from bertprep.errors import BertprepError
from bertprep.service import catalog

PIPELINE_PARAMETER = "pipeline"
# Options that make no sense on Dataflow: the launcher always runs DataflowRunner, and --workers is local.
NOT_TEMPLATE_PARAMETERS = {"runner", "workers"}
INTEGER_REGEX = r"^[-+]?[0-9]+$"
FLOAT_REGEX = r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$"
BOOLEAN_REGEX = r"^(true|false)$"
JOB_NAME_REGEX = re.compile(r"^[a-z]([-a-z0-9]{0,1022}[a-z0-9])?$")
BOOLEAN_ACTIONS = (argparse.BooleanOptionalAction, argparse._StoreTrueAction, argparse._StoreFalseAction)


def template_parameters(pipeline: str) -> List[dict]:
    """One ParameterMetadata per option of the pipeline, plus the `pipeline` selector first."""
    parser = catalog.pipeline_parser(pipeline)
    parameters = [{
        "name": PIPELINE_PARAMETER,
        "label": "Pipeline",
        "helpText": "The bertprep pipeline this template runs; always %s." % pipeline,
        "isOptional": False,
        "regexes": ["^%s$" % re.escape(pipeline)],
        "paramType": "TEXT",
    }]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        if action.dest in NOT_TEMPLATE_PARAMETERS:
            continue
        parameters.append(_parameter(action))
    return parameters


def _parameter(action: argparse.Action) -> dict:
    from bertprep.service.flex_main import template_parameter_name

    option = catalog.long_option(action)
    parameter = {
        "name": template_parameter_name(action.dest),
        "label": "%s (%s)" % (action.dest.replace("_", " ").capitalize(), option),
        "helpText": _help_text(action, option),
        "isOptional": not action.required,
    }
    regexes = _regexes(action)
    if regexes:
        parameter["regexes"] = regexes
    parameter["paramType"] = {"input": "GCS_READ_FILE", "output": "GCS_WRITE_FOLDER"}.get(action.dest, "TEXT")
    return parameter


def _help_text(action: argparse.Action, option: str) -> str:
    text = action.help or option
    try:
        text = text % {"default": action.default, "prog": "bertprep"}
    except (TypeError, ValueError, KeyError):
        pass
    text = " ".join(text.split())
    if isinstance(action, BOOLEAN_ACTIONS):
        if action.default is None:
            text += " (true or false)"
        else:
            text += " (true or false; default %s)" % ("true" if action.default else "false")
    elif action.default not in (None, argparse.SUPPRESS, ""):
        text += " (default %s)" % (action.default,)
    return text


def _regexes(action: argparse.Action) -> List[str]:
    if isinstance(action, BOOLEAN_ACTIONS):
        return [BOOLEAN_REGEX]
    if action.choices:
        return ["^(%s)$" % "|".join(re.escape(str(choice)) for choice in action.choices)]
    if action.type is int:
        return [INTEGER_REGEX]
    if action.type is float:
        return [FLOAT_REGEX]
    return []


def template_metadata(pipeline: str, name: Optional[str] = None) -> dict:
    module = catalog.pipeline_module(pipeline)
    description = " ".join((getattr(module, "HELP", "") or "").split())
    return {
        "name": name or "bertprep-%s" % pipeline,
        "description": "bertprep %s: %s" % (pipeline, description) if description else "bertprep " + pipeline,
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
    """A jobs-file `args` mapping → template parameters ({dest: text}), like the launcher expects."""
    from bertprep.service.flex_main import template_parameter_name

    actions = catalog.option_actions(catalog.pipeline_parser(pipeline))
    parameters = {}
    for key, value in args.items():
        action = actions.get(catalog.option_for_key(key))
        if action is None:
            raise BertprepError("unknown option %s for pipeline %s%s" % (
                catalog.option_for_key(key), pipeline, _did_you_mean(catalog.option_for_key(key), list(actions))))
        if value is None or action.dest in NOT_TEMPLATE_PARAMETERS:
            continue
        if isinstance(value, bool):
            if isinstance(action, argparse._StoreFalseAction):  # `no-x: true` in a jobs file means x = false
                value = not value
            text = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            text = ",".join(str(item) for item in value)
        else:
            text = str(value)
        if "${" in text:
            raise BertprepError("%s=%s uses a scheduler placeholder; give the upstream output path with --param %s=..."
                                % (key, text, action.dest))
        parameters[template_parameter_name(action.dest)] = text
    return parameters


def _did_you_mean(name: str, known: List[str]) -> str:
    from bertprep.commands import command_line

    suggestion = command_line.closest_option(name, known)
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
