"""The jobs file: named pipeline jobs, their arguments, schedules and dependencies (YAML).

    output_root: /srv/bertprep/outputs     # required; each run writes <output_root>/<job>/<run_id>/
    registry: runs.sqlite                  # optional; default bertprep-runs.sqlite beside this file
    max_parallel_runs: 2                   # optional; runs of different jobs at the same time
    defaults: {timezone: UTC, retries: 2}  # optional; any job key, merged under every job
    jobs:
      confusions-nightly:
        pipeline: mask-probs               # a bertprep job (`bertprep <job> --help`)
        schedule: "0 2 * * *"              # cron (croniter), in `timezone`
        timezone: Asia/Shanghai
        args: {input: /data/csc/*.tsv, vocab: /data/vocab.txt}
      pretraining-nightly:
        pipeline: pretraining
        after: confusions-nightly          # uses that job's latest successful output
        args: {input: /data/corpus/*.txt, vocab: /data/vocab.txt, mask-probability: "${after}"}

Every problem is reported as `FILE:LINE: jobs.NAME.KEY: what is wrong`, using the YAML node marks.
"""
import dataclasses
import math
import os
import re
from typing import Dict, List, Optional, Tuple

import yaml

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.options.fields import option_for_key
from bertprep.service.yaml_lines import Checker, Located, compose, locate, plain

TOP_KEYS = {"output_root", "registry", "logs", "max_parallel_runs", "defaults", "jobs"}
JOB_KEYS = {"pipeline", "description", "schedule", "timezone", "args", "runner_options", "after", "inputs",
            "content_hash", "retries", "retry_backoff_seconds", "timeout_seconds", "enabled", "output_root",
            "max_dead_letter_rate"}
DEFAULTABLE_KEYS = JOB_KEYS - {"pipeline", "description", "after", "schedule"}
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
DEFAULT_REGISTRY = "bertprep-runs.sqlite"
MAX_RETRIES = 100
MAX_SECONDS = 7 * 24 * 3600


@dataclasses.dataclass
class JobSpec:
    """One job as the service runs it; stored whole with every run so a retry needs no jobs file."""
    name: str
    pipeline: str
    args: dict
    runner_options: dict = dataclasses.field(default_factory=dict)
    schedule: Optional[str] = None
    timezone: str = "UTC"
    after: List[str] = dataclasses.field(default_factory=list)
    inputs: List[str] = dataclasses.field(default_factory=list)
    content_hash: bool = False
    retries: int = 0
    retry_backoff_seconds: float = 60.0
    timeout_seconds: Optional[float] = None
    enabled: bool = True
    description: str = ""
    workdir: str = "."  # the jobs file's directory: relative paths in args are relative to it
    output_root: str = ""  # where this job's runs go (the file's output_root unless the job sets its own)
    after_roots: Dict[str, str] = dataclasses.field(default_factory=dict)  # upstream job → its output_root

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "JobSpec":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclasses.dataclass
class JobsConfig:
    path: str
    output_root: str
    registry: str
    logs: str
    max_parallel_runs: int
    jobs: Dict[str, JobSpec]

    def job(self, name: str) -> JobSpec:
        if name not in self.jobs:
            raise BertprepError("%s: no job named %r (jobs: %s)" % (self.path, name, ", ".join(sorted(self.jobs))))
        return self.jobs[name]

    def downstream_of(self, name: str) -> List[str]:
        """Jobs that name `name` in `after`, in file order."""
        return [job.name for job in self.jobs.values() if name in job.after]


def load_jobs_file(path: str, check_pipelines: bool = True) -> JobsConfig:
    """Read and validate a jobs file; raises BertprepError naming the file, line and key at fault."""
    from bertprep.io import fs

    data = fs.read_bytes(path, "jobs file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BertprepError("%s:%d: not UTF-8 text (byte 0x%02x at offset %d); save the jobs file as UTF-8"
                            % (path, data.count(b"\n", 0, error.start) + 1, data[error.start], error.start)) from None
    return parse_jobs(text, path, check_pipelines=check_pipelines)


def parse_jobs(text: str, path: str = "<jobs>", check_pipelines: bool = True) -> JobsConfig:
    node = compose(text, path)
    if node is None:
        raise BertprepError("%s:1: the jobs file is empty" % path)
    root = locate(node, path, yaml.SafeLoader(""))
    check = Checker(path)
    top = check.mapping(root, "(top level)")
    check.known_keys(root, TOP_KEYS, "")
    base = os.path.dirname(os.path.abspath(path)) if not path.startswith("<") else os.getcwd()
    if "output_root" not in top:
        check.fail(root.line, "output_root", "missing (the directory runs write under, local or gs://)")
    output_root = _resolve(check.string(top["output_root"], "output_root"), base)
    registry = _resolve(check.string(top["registry"], "registry"), base) if "registry" in top else \
        os.path.join(base, DEFAULT_REGISTRY)
    if fs.is_remote(registry):
        check.fail(top["registry"].line, "registry", "must be a local file (SQLite)")
    logs = _resolve(check.string(top["logs"], "logs"), base) if "logs" in top else \
        os.path.join(os.path.dirname(registry), "bertprep-logs")
    max_parallel = check.number(top["max_parallel_runs"], "max_parallel_runs", integer=True, minimum=1,
                                maximum=256) \
        if "max_parallel_runs" in top else 2
    defaults = {}
    if "defaults" in top:
        check.mapping(top["defaults"], "defaults")
        check.known_keys(top["defaults"], DEFAULTABLE_KEYS, "defaults")
        defaults = top["defaults"].value
    if "jobs" not in top:
        check.fail(root.line, "jobs", "missing (a mapping of job names to jobs)")
    jobs_node = top["jobs"]
    jobs_map = check.mapping(jobs_node, "jobs")
    if not jobs_map:
        check.fail(jobs_node.line, "jobs", "no jobs defined")
    pipelines = None
    if check_pipelines:
        from bertprep.service import catalog
        pipelines = catalog.available_pipelines()
    jobs = {}
    for name, job_node in jobs_map.items():
        key = "jobs.%s" % name
        if not JOB_NAME.match(name):
            check.fail(jobs_node.key_lines[name], key, "job names are letters, digits, '.', '_' and '-' "
                       "(they become directory names)")
        jobs[name] = _job(check, name, job_node, defaults, pipelines)
        jobs[name].workdir = base
        if "output_root" in job_node.value:
            jobs[name].output_root = _resolve(check.string(job_node.value["output_root"], "jobs.%s.output_root"
                                                           % name), base)
        else:
            jobs[name].output_root = output_root
    _check_dependencies(check, jobs, jobs_map)
    for spec in jobs.values():
        spec.after_roots = {upstream: jobs[upstream].output_root for upstream in spec.after}
    return JobsConfig(path=path, output_root=output_root, registry=registry, logs=logs,
                      max_parallel_runs=max_parallel, jobs=jobs)


def _resolve(value: str, base: str) -> str:
    value = os.path.expanduser(value)
    if fs.is_remote(value) or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(base, value))


def _job(check: Checker, name: str, job_node: Located, defaults: Dict[str, Located], pipelines) -> JobSpec:
    key = "jobs.%s" % name
    fields = dict(check.mapping(job_node, key))
    check.known_keys(job_node, JOB_KEYS, key)
    merged = dict(defaults)
    for field, value in fields.items():
        if field in ("args", "runner_options") and field in defaults:
            base = dict(check.mapping(defaults[field], "defaults.%s" % field))
            base.update(check.mapping(value, "%s.%s" % (key, field)))
            merged[field] = Located(base, value.line, dict(defaults[field].key_lines, **value.key_lines))
        else:
            merged[field] = value
    if "pipeline" not in merged:
        check.fail(job_node.line, key + ".pipeline", "missing (one of the pipelines: mask-probs, pretraining, "
                   "classifier, squad, tagging, embed)")
    pipeline = check.string(merged["pipeline"], key + ".pipeline")
    if pipelines is not None and pipeline not in pipelines:
        check.fail(merged["pipeline"].line, key + ".pipeline", "unknown pipeline %r (available: %s)"
                   % (pipeline, ", ".join(sorted(pipelines)) or "none"))
    spec = JobSpec(name=name, pipeline=pipeline, args={})
    if "description" in merged:
        spec.description = check.string(merged["description"], key + ".description", allow_empty=True)
    if "timezone" in merged:
        spec.timezone = check.string(merged["timezone"], key + ".timezone")
        _check_timezone(check, merged["timezone"], key + ".timezone")
    if "schedule" in merged and merged["schedule"].value is not None:
        spec.schedule = check.string(merged["schedule"], key + ".schedule")
        _check_cron(check, merged["schedule"], key + ".schedule")
    if "after" in merged and merged["after"].value is not None:
        spec.after = check.string_list(merged["after"], key + ".after")
    if "inputs" in merged:
        spec.inputs = check.string_list(merged["inputs"], key + ".inputs")
    for field, integer, minimum, maximum in (("retries", True, 0, MAX_RETRIES),
                                             ("retry_backoff_seconds", False, 0, MAX_SECONDS),
                                             ("timeout_seconds", False, 1, MAX_SECONDS)):
        if field in merged and merged[field].value is not None:
            setattr(spec, field, check.number(merged[field], "%s.%s" % (key, field), integer=integer,
                                              minimum=minimum, maximum=maximum))
    for field in ("content_hash", "enabled"):
        if field in merged:
            setattr(spec, field, check.boolean(merged[field], "%s.%s" % (key, field)))
    if "runner_options" in merged:
        spec.runner_options = plain(Located(check.mapping(merged["runner_options"], key + ".runner_options"), 0))
    args_node = merged.get("args")
    if args_node is not None:
        spec.args = plain(Located(check.mapping(args_node, key + ".args"), 0))
    for field in ("args", "runner_options"):
        if field in merged:
            _check_finite(check, merged[field], "%s.%s" % (key, field))
    if "max_dead_letter_rate" in merged:
        _set_dead_letter_rate(check, spec, merged["max_dead_letter_rate"], key + ".max_dead_letter_rate")
    _check_args(check, spec, args_node, job_node, pipelines is not None)
    if pipelines is not None and "runner_options" in merged:
        _check_runner_options(check, spec, merged["runner_options"])
    return spec


def _check_finite(check: Checker, located: Located, key: str) -> None:
    """`.nan` and `.inf` are YAML floats; no option takes them."""
    value = located.value
    if isinstance(value, float) and not math.isfinite(value):
        check.fail(located.line, key, "must be a finite number, got %s" % value)
    if isinstance(value, dict):
        for name, item in value.items():
            _check_finite(check, item, "%s.%s" % (key, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(check, item, "%s[%d]" % (key, index))


def _set_dead_letter_rate(check: Checker, spec: JobSpec, located: Located, key: str) -> None:
    """The publish gate's limit (a job key, so it can sit in `defaults`): passed as --max-dead-letter-rate."""
    rate = check.number(located, key)
    if rate > 1:
        check.fail(located.line, key, "must be at most 1 (a share of the input records), got %s" % rate)
    if any(option_for_key(arg) == "--max-dead-letter-rate" for arg in spec.args):
        check.fail(located.line, key, "also given in args; set it in one place")
    spec.args["max-dead-letter-rate"] = rate


def _check_timezone(check: Checker, located: Located, key: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(located.value)
    except (ZoneInfoNotFoundError, ValueError):
        check.fail(located.line, key, "unknown time zone %r (an IANA name such as UTC or Asia/Shanghai)"
                   % located.value)


def _check_cron(check: Checker, located: Located, key: str) -> None:
    import datetime

    from croniter import CroniterError, croniter

    if len(str(located.value).split()) != 5:
        check.fail(located.line, key, "%r is not a 5-field cron expression (minute hour day month weekday; "
                   "seconds and years are not supported)" % located.value)
    if not croniter.is_valid(located.value):
        check.fail(located.line, key, "%r is not a valid cron expression (minute hour day month weekday)"
                   % located.value)
    try:  # valid syntax can still name no date at all, e.g. February 31st
        croniter(located.value, datetime.datetime.now(datetime.timezone.utc)).get_next(datetime.datetime)
    except CroniterError:
        check.fail(located.line, key, "%r never occurs (no date matches it)" % located.value)


def _check_args(check: Checker, spec: JobSpec, args_node: Optional[Located], job_node: Located,
                with_options: bool) -> None:
    """Each arg must be an option of the pipeline's options class, with a value it can take; the class's
    required options must be there (except --output, which the service sets)."""
    from bertprep.options.fields import option_value
    from bertprep.service import catalog

    key = "jobs.%s.args" % spec.name
    lines = args_node.key_lines if args_node is not None else {}
    args_line = job_node.key_lines.get("args", args_node.line if args_node is not None else job_node.line)
    options_class = catalog.options_class(spec.pipeline) if with_options else None
    known = options_class.option_strings() if options_class is not None else []
    for arg, value in spec.args.items():
        line = lines.get(arg, args_line)
        if option_for_key(arg) == "--output":
            check.fail(line, "%s.%s" % (key, arg), "set by the service (<output_root>/<job>/<run_id>); "
                       "remove it")
        if options_class is None:
            continue
        if options_class.command_option(arg) is None:
            check.fail(line, "%s.%s" % (key, arg), _unknown_arg(arg, spec.pipeline, known))
        try:
            options_class.command_line_from_mapping({arg: value})
            if not any(PLACEHOLDER.search(text) for text in _strings(value)):  # typed now, not at the run
                option_value(options_class.command_option(arg), value)
        except BertprepError as error:
            check.fail(line, "%s.%s" % (key, arg), "%s for pipeline %s" % (error, spec.pipeline))
        for text in _strings(value):
            for placeholder in PLACEHOLDER.findall(text):
                problem = placeholder_problem(placeholder, spec.after)
                if problem:
                    check.fail(line, "%s.%s" % (key, arg), problem)
    if options_class is not None:
        given = {option_for_key(arg) for arg in spec.args}
        for option in options_class.command_options():
            if option.spec.required and option.option != "--output" and option.option not in given:
                check.fail(args_line, key, "missing required option %s for pipeline %s"
                           % (option.option, spec.pipeline))


def _unknown_arg(arg: str, pipeline: str, known: List[str]) -> str:
    """Why `arg` is no option of the pipeline: the closest option, or that it belongs in runner_options."""
    from bertprep.runtime import beam_arguments

    if beam_arguments.is_beam_option("--" + str(arg).strip().lstrip("-")):
        return "%s is a Beam pipeline option: give it under runner_options" % arg
    option = option_for_key(arg)
    suggestion = beam_arguments.closest_option(option, known)
    return "unknown option %s for pipeline %s%s" % (option, pipeline,
                                                     "; did you mean %s?" % suggestion if suggestion else "")


def _check_runner_options(check: Checker, spec: JobSpec, node: Located) -> None:
    """Each runner option must be one of the pipeline's own (runner, workers) or one Beam defines."""
    from bertprep.runtime import beam_arguments
    from bertprep.service import catalog

    key = "jobs.%s.runner_options" % spec.name
    own = catalog.options_class(spec.pipeline).option_strings()
    for name, value in spec.runner_options.items():
        flags = catalog.beam_options_to_argv({name: value})  # what the run's command line will say
        try:
            if "--" + str(name).lstrip("-") == "--runner":
                beam_arguments.check_runner(str(value))
            elif "--" + str(name).lstrip("-") not in own:
                beam_arguments.check_beam_arguments(flags, own_options=own)
        except BertprepError as error:
            check.fail(node.key_lines.get(name, node.line), "%s.%s" % (key, name), str(error))


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, str):
                yield item


def placeholder_problem(placeholder: str, after: List[str]) -> Optional[str]:
    """None if `${placeholder}` can be resolved for a job with these `after` dependencies."""
    if placeholder == "after":
        if len(after) != 1:
            return "${after} needs exactly one job in `after` (use ${latest:JOB} with several)"
        return None
    if placeholder.startswith("latest:"):
        upstream = placeholder[len("latest:"):]
        if upstream not in after:
            return "${latest:%s} names a job that is not in `after`" % upstream
        return None
    return "unknown placeholder ${%s} (known: ${after}, ${latest:JOB})" % placeholder


def _check_dependencies(check: Checker, jobs: Dict[str, JobSpec], jobs_map: Dict[str, Located]) -> None:
    for name, spec in jobs.items():
        line = jobs_map[name].key_lines.get("after", jobs_map[name].line)
        for upstream in spec.after:
            if upstream not in jobs:
                check.fail(line, "jobs.%s.after" % name, "no job named %r" % upstream)
            if upstream == name:
                check.fail(line, "jobs.%s.after" % name, "a job cannot depend on itself")
    cycle = _find_cycle({name: spec.after for name, spec in jobs.items()})
    if cycle:
        first = cycle[0]
        check.fail(jobs_map[first].key_lines.get("after", jobs_map[first].line), "jobs.%s.after" % first,
                   "dependency cycle: %s" % " -> ".join(cycle + [first]))


def _find_cycle(graph: Dict[str, List[str]]) -> Optional[List[str]]:
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node) -> Optional[List[str]]:
        state[node] = 1
        stack.append(node)
        for upstream in graph.get(node, []):
            if state.get(upstream) == 1:
                return stack[stack.index(upstream):]
            if upstream not in state:
                found = visit(upstream)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def resolve_placeholders(args: dict, latest_outputs: Dict[str, str]) -> Tuple[dict, List[str]]:
    """Replace ${after} / ${latest:JOB} with upstream output paths; returns (args, missing jobs)."""
    missing: List[str] = []

    def substitute(text: str) -> str:
        def one(match):
            placeholder = match.group(1)
            upstream = placeholder[len("latest:"):] if placeholder.startswith("latest:") else None
            if placeholder == "after":
                upstream = next(iter(latest_outputs), None) if len(latest_outputs) == 1 else None
            if upstream is None or latest_outputs.get(upstream) is None:
                missing.append(upstream or placeholder)
                return match.group(0)
            return latest_outputs[upstream]
        return PLACEHOLDER.sub(one, text)

    resolved = {}
    for key, value in args.items():
        if isinstance(value, str):
            resolved[key] = substitute(value)
        elif isinstance(value, list):
            resolved[key] = [substitute(item) if isinstance(item, str) else item for item in value]
        else:
            resolved[key] = value
    return resolved, missing
