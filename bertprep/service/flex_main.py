"""The Python file the Dataflow Flex Template launcher runs (FLEX_TEMPLATE_PYTHON_PY_FILE).

The launcher calls it with the template parameters as `--name=value` (names are the job options'
field names, as in the template metadata) followed by Dataflow's own pipeline options (project, region,
temp_location, job name, ...). This turns the parameters back into the job's command line,
`bertprep <pipeline> --max-seq-length 128 ... --runner DataflowRunner`, and passes every other
option to Beam unchanged; the launcher process then becomes that command (`python -m bertprep`),
so nothing here imports the CLI. It may be run by path (`python /.../flex_main.py`) or as
`python -m bertprep.service.flex_main`.
"""
import os
import sys

if __name__ == "__main__" and sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    # Run by path: don't let this directory's modules shadow top-level ones.
    sys.path.pop(0)

import argparse  # noqa: E402
import functools  # noqa: E402

PIPELINE_PARAMETER = "pipeline"
PIPELINE_ENV = "BERTPREP_PIPELINE"
LAUNCHER_ENV = "FLEX_TEMPLATE_PYTHON_PY_FILE"  # set in the template's image (Dockerfile)
DATAFLOW_RUNNER = "DataflowRunner"
# Prefix of a template parameter whose job option has the name of a Beam pipeline option.
SHADOWED_PREFIX = "bertprep_"


@functools.lru_cache(maxsize=1)
def beam_option_names() -> frozenset:
    """Every pipeline option Beam knows (project, region, labels, ...), by dest."""
    from apache_beam.options.pipeline_options import PipelineOptions

    return frozenset(PipelineOptions([]).get_all_options())


def template_parameter_name(field: str, beam_options: frozenset = None) -> str:
    """A job option's template parameter: its field name, or `bertprep_<field>` when Beam has an option of
    that name. The launcher passes template parameters and Dataflow's own options (`--labels={...}` among
    them) on one command line, so `classifier --labels` under its own name would take Dataflow's value."""
    beam_options = beam_option_names() if beam_options is None else beam_options
    return SHADOWED_PREFIX + field if field in beam_options else field


def translate(argv, environ=None):
    """Launcher argv → (pipeline, bertprep CLI argv), the job's options read by its options class (`main`
    then checks their values with `check_job_arguments`)."""
    from bertprep.errors import BertprepError
    from bertprep.options import fields
    from bertprep.runtime import beam_arguments
    from bertprep.service import catalog

    environ = os.environ if environ is None else environ
    rest = []
    pipeline = environ.get(PIPELINE_ENV)
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("--%s=" % PIPELINE_PARAMETER):
            pipeline = arg.split("=", 1)[1]
        elif arg == "--" + PIPELINE_PARAMETER and index + 1 < len(argv):
            pipeline = argv[index + 1]
            index += 1
        else:
            rest.append(arg)
        index += 1
    if not pipeline:
        raise BertprepError("no pipeline: the template must pass --%s=NAME (or set %s)"
                            % (PIPELINE_PARAMETER, PIPELINE_ENV))
    beam_options = beam_option_names()
    by_name = {template_parameter_name(option.name, beam_options): option
               for option in catalog.options_class(pipeline).command_options()}
    shadowed = {option.name for name, option in by_name.items() if name.startswith(SHADOWED_PREFIX)}
    out = [pipeline]
    passed_to_beam = []
    index = 0
    has_runner = False
    while index < len(rest):
        arg = rest[index]
        name, has_value, value = arg[2:].partition("=") if arg.startswith("--") else ("", False, "")
        option = by_name.get(name) if arg.startswith("--") else None
        if option is None and name in shadowed:
            # Dataflow's own option of a name the job's parser takes: passed on, the job would read it as
            # its option. Its job labels come from the launch request's environment anyway.
            print("bertprep flex launcher: not passing %s on: %s has an option of that name (its template "
                  "parameter is %s%s)" % (arg, pipeline, SHADOWED_PREFIX, name), file=sys.stderr)
            index += 1 + (not has_value and index + 1 < len(rest) and not rest[index + 1].startswith("--"))
            continue
        if option is None:
            out.append(arg)
            passed_to_beam.append(arg)
            index += 1
            continue
        is_boolean = option.spec.kind in (fields.FLAG, fields.SWITCH)
        if not has_value and not is_boolean and index + 1 < len(rest):
            value = rest[index + 1]
            index += 1
        index += 1
        if option.name == "runner":
            has_runner = True
        if is_boolean:
            out.extend(option.command_line(fields.parse_boolean(value if has_value else "true",
                                                                  "template parameter %s" % name)))
        else:
            out.extend([option.option, value])
    # What is not a template parameter must be a Beam option (the launcher's project, region, ...): a
    # misspelled parameter fails the launch with one line instead of running with the default.
    beam_arguments.check_beam_arguments(passed_to_beam, own_options=["--" + name for name in by_name])
    if not has_runner:
        out.append("--runner=" + DATAFLOW_RUNNER)
    return pipeline, out


class _OneLineParser(argparse.ArgumentParser):
    """argparse that raises BertprepError with its one-line message instead of printing the usage."""

    def error(self, message):
        from bertprep.errors import BertprepError

        raise BertprepError(message)


def check_job_arguments(pipeline: str, job_argv) -> None:
    """Check the job's options as `bertprep <pipeline>` would (types, ranges, required options: the options
    class's own checks), before anything starts on Dataflow, in one line. `input` and `output` may not be
    empty, and in the launcher's image they must be gs:// paths (Dataflow workers read no local file)."""
    from bertprep.errors import BertprepError
    from bertprep.io import fs
    from bertprep.service import catalog

    options_class = catalog.options_class(pipeline)
    parser = _OneLineParser(prog="bertprep " + pipeline, add_help=False, allow_abbrev=False)
    options_class.add_arguments(parser)
    namespace, _ = parser.parse_known_args(list(job_argv))
    options = options_class.from_namespace(namespace)
    names = {option.name for option in options_class.command_options()}
    in_launcher = LAUNCHER_ENV in os.environ  # Google's launcher image: its local files are not the workers'
    for name in ("input", "output"):
        if name not in names or getattr(options, name, None) is None:  # required-ness is the class's to check
            continue
        value = str(getattr(options, name))
        parts = [part.strip() for part in value.split(",")]
        if not value.strip() or not all(parts):
            raise BertprepError("template parameter %s is empty" % name)
        if in_launcher and getattr(options, "runner", DATAFLOW_RUNNER) == DATAFLOW_RUNNER and \
                not all(fs.is_remote(part) for part in parts):
            raise BertprepError("template parameter %s must be a gs:// path on Dataflow (workers cannot read the "
                                "launcher's files), got %r" % (name, value))


def run_cli_process(cli_argv) -> int:
    """Become `python -m bertprep ...` (os.execv): the job's exit status and signals are the launcher's,
    and this module never imports the CLI."""
    from bertprep.service import catalog

    command = catalog.command_prefix() + list(cli_argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return 1  # not reached: execv replaces this process or raises OSError


def main(argv=None, run_command=run_cli_process) -> int:
    """Translate the launcher's arguments and run the job's command line with `run_command(cli argv)`
    (another process by default; the tests run it in theirs to see the graph the runner builds)."""
    from bertprep.errors import BertprepError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        pipeline, cli_argv = translate(argv)
        print("bertprep flex launcher: bertprep %s" % " ".join(cli_argv), file=sys.stderr, flush=True)
        check_job_arguments(pipeline, cli_argv[1:])  # one line now, not a usage screen from the job
    except BertprepError as error:
        print("bertprep: error: %s" % error, file=sys.stderr)
        return 2
    return run_command(cli_argv)


if __name__ == "__main__":
    sys.exit(main())
