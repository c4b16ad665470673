"""`bertprep dataflow template JOB --image IMAGE` and `bertprep dataflow launch-body JOB ...`.

`template` writes, for one pipeline (or one job of a jobs file, with --jobs):
    <name>.flex-template.json   the Flex Template spec: image, sdkInfo, metadata, defaultEnvironment
    <name>.metadata.json        the metadata alone (for `gcloud dataflow flex-template build --metadata-file`)
    <name>.launch-body.json     the matching flexTemplates:launch request body
Upload the spec to the --spec-gcs-path it names; then Cloud Scheduler, Airflow's
DataflowStartFlexTemplateOperator (body=...) or curl can POST the body to
https://dataflow.googleapis.com/v1b3/projects/PROJECT/locations/REGION/flexTemplates:launch.

`launch-body` prints only the body, checking every parameter against the job's options (names,
regexes, required ones). Nothing here contacts Google.
"""
import json

from bertprep.errors import BertprepError

COMMAND = "dataflow"
HELP = "write Dataflow Flex Template specs and launch request bodies for the jobs"
DESCRIPTION = __doc__


def add_arguments(parser):
    actions = parser.add_subparsers(dest="dataflow_action", metavar="ACTION", required=True)
    template = actions.add_parser("template", help="write a Flex Template spec, its metadata and a launch body",
                                  description=__doc__)
    _job_arguments(template)
    template.add_argument("--image", required=True, help="the container image (launcher and workers), e.g. "
                          "REGION-docker.pkg.dev/PROJECT/REPO/bertprep:TAG")
    template.add_argument("--output-dir", default=".", help="where to write the three files")
    body = actions.add_parser("launch-body", help="print the flexTemplates:launch request body")
    _job_arguments(body)
    body.add_argument("--image", default=None, help="also set environment.sdkContainerImage to this image")
    body.add_argument("--validate-only", action="store_true", help="ask Dataflow to validate, not launch")


def _job_arguments(parser):
    parser.add_argument("job", metavar="JOB", help="a pipeline (mask-probs, pretraining, classifier, squad, tagging, "
                        "embed) or, with --jobs, a job of the jobs file")
    parser.add_argument("--jobs", default=None, help="a jobs file: JOB names one of its jobs, whose args become "
                        "the template parameters")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a template parameter (option dest, e.g. max_seq_length=128); repeatable")
    parser.add_argument("--spec-gcs-path", default=None, help="gs:// path the spec is uploaded to (default "
                        "gs://YOUR_BUCKET/templates/<name>.json; the body names it)")
    parser.add_argument("--job-name", default=None, help="Dataflow job name (default: from JOB)")
    parser.add_argument("--temp-location", default=None, help="environment.tempLocation (gs://...)")
    parser.add_argument("--staging-location", default=None, help="environment.stagingLocation (gs://...)")
    parser.add_argument("--service-account-email", default=None, help="environment.serviceAccountEmail")
    parser.add_argument("--max-workers", type=_positive_int, default=None, help="environment.maxWorkers")
    parser.add_argument("--num-workers", type=_positive_int, default=None, help="environment.numWorkers")
    parser.add_argument("--machine-type", default=None, help="environment.machineType")
    parser.add_argument("--worker-region", default=None, help="environment.workerRegion")
    parser.add_argument("--network", default=None, help="environment.network")
    parser.add_argument("--subnetwork", default=None, help="environment.subnetwork")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                        help="environment.additionalUserLabels entry; repeatable")


def _resolve(args):
    """(template name, pipeline, parameters) from JOB, --jobs and --param."""
    from bertprep.service import catalog, dataflow

    parameters = {}
    if args.jobs:
        from bertprep.service.jobs_file import load_jobs_file
        spec = load_jobs_file(args.jobs).job(args.job)
        pipeline, name = spec.pipeline, spec.name
        parameters.update(dataflow.parameters_from_args(pipeline, spec.args))
    else:
        pipeline, name = args.job, "bertprep-" + args.job
        catalog.options_class(pipeline)  # an unknown name: one line with the known ones
    parameters[dataflow.PIPELINE_PARAMETER] = pipeline
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BertprepError("--param takes NAME=VALUE, got %r" % item)
        parameters[key.strip().replace("-", "_")] = value
    return name, pipeline, parameters


def _environment(args, image):
    from bertprep.service import dataflow

    labels = {}
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BertprepError("--label takes KEY=VALUE, got %r" % item)
        labels[key] = value
    return dataflow.environment_from_options(
        temp_location=args.temp_location, staging_location=args.staging_location,
        service_account_email=args.service_account_email, max_workers=args.max_workers,
        num_workers=args.num_workers, machine_type=args.machine_type, worker_region=args.worker_region,
        network=args.network, subnetwork=args.subnetwork, sdk_container_image=image, labels=labels)


def run(args) -> int:
    from bertprep.service import dataflow

    name, pipeline, parameters = _resolve(args)
    file_name = dataflow.dataflow_job_name(name)
    spec_gcs_path = args.spec_gcs_path or "gs://YOUR_BUCKET/templates/%s.json" % file_name
    job_name = args.job_name or file_name
    if args.dataflow_action == "launch-body":
        metadata = dataflow.template_metadata(pipeline, name)
        dataflow.check_parameters(metadata, parameters)
        body = dataflow.launch_body(job_name, spec_gcs_path, parameters, _environment(args, args.image),
                                    validate_only=args.validate_only)
        print(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False))
        return 0
    spec = dataflow.template_spec(pipeline, args.image, name)
    missing = dataflow.check_parameters(spec["metadata"], parameters, allow_missing=True)
    for parameter in missing:
        parameters[parameter] = "REQUIRED-%s" % parameter
    body = dataflow.launch_body(job_name, spec_gcs_path, parameters, _environment(args, args.image))
    from bertprep.io import fs

    fs.makedirs(args.output_dir)
    written = []
    for suffix, content in (("flex-template.json", spec), ("metadata.json", spec["metadata"]),
                            ("launch-body.json", body)):
        path = fs.join(args.output_dir, "%s.%s" % (file_name, suffix))
        text = json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        fs.write_bytes(path, text.encode("utf-8"))
        written.append(path)
    print("wrote %s" % ", ".join(written))
    if missing:
        print("fill in the required parameter(s) %s in %s (or pass --param NAME=VALUE)"
              % (", ".join(missing), written[2]))
    print("upload: gcloud storage cp %s %s" % (written[0], spec_gcs_path))
    print("launch: curl -X POST -H \"Authorization: Bearer $(gcloud auth print-access-token)\" -H "
          "\"Content-Type: application/json\" -d @%s https://dataflow.googleapis.com/v1b3/projects/PROJECT/"
          "locations/REGION/flexTemplates:launch" % written[2])
    return 0


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number, got %r" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %d" % value)
    return value
