"""Every job by name: its typed options class and the function that builds its Beam graph (or, for the
trainer's in-process jobs, its plan and run functions).

Both are named as import paths and loaded when asked for, so the service can list the jobs, check a jobs
file's `args` and write template metadata without importing Beam or any job's graph.
"""
import dataclasses
import importlib
import os
from typing import Callable, Dict, List

from bertprep.errors import BertprepError

# A deployment (or a test) adds its own jobs: module paths, comma-separated, each with a PIPELINES mapping
# of the same shape as the one below.
EXTRA_PIPELINES_ENV = "BERTPREP_EXTRA_PIPELINES"


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """One job: `module:name` paths of its options class and of `build_pipeline(pipeline, options)` — or, for
    a job that runs in its own process without Beam (`train`, `export`), of `plan(options)` and
    `run(options, plan)` instead of a build function."""

    name: str
    options: str
    build: str = ""
    plan: str = ""
    run: str = ""

    @property
    def in_process(self) -> bool:
        return bool(self.run)

    def options_class(self):
        return _load(self.options)

    def build_function(self) -> Callable:
        if not self.build:
            raise BertprepError("%s runs in process (plan, run); it has no Beam graph to build" % self.name)
        return _load(self.build)

    def plan_function(self) -> Callable:
        return _load(self.plan)

    def run_function(self) -> Callable:
        return _load(self.run)


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


PIPELINES: Dict[str, Pipeline] = {pipeline.name: pipeline for pipeline in (
    Pipeline("mask-probs", "bertprep.options.mask_probs:MaskProbsOptions",
             "bertprep.pipelines.mask_probs:build_pipeline"),
    Pipeline("pretraining", "bertprep.options.pretraining:PretrainingOptions",
             "bertprep.pipelines.pretraining:build_pipeline"),
    Pipeline("classifier", "bertprep.options.classifier:ClassifierOptions",
             "bertprep.pipelines.classifier:build_pipeline"),
    Pipeline("tagging", "bertprep.options.tagging:TaggingOptions", "bertprep.pipelines.tagging:build_pipeline"),
    Pipeline("squad", "bertprep.options.squad:SquadOptions", "bertprep.pipelines.squad:build_pipeline"),
    Pipeline("embed", "bertprep.options.embed:EmbedOptions", "bertprep.pipelines.embed:build_pipeline"),
)}


# Jobs that run in process (no Beam graph): the trainer's, with the same options class, output root, completion
# marker, LATEST, retries, triggers and `runs` as the Beam jobs (bertprep/trainer/job.py).
IN_PROCESS_JOBS: Dict[str, Pipeline] = {job.name: job for job in (
    Pipeline("train", "bertprep.options.train:TrainOptions", plan="bertprep.trainer.job:plan_training",
             run="bertprep.trainer.job:run_training"),
    Pipeline("export", "bertprep.options.train:ExportOptions", plan="bertprep.trainer.job:plan_export",
             run="bertprep.trainer.job:run_export"),
)}


def pipelines() -> Dict[str, Pipeline]:
    """The built-in jobs and those of the modules named by BERTPREP_EXTRA_PIPELINES; a module that is missing
    or has no PIPELINES is one BertprepError line naming the variable (for the CLI and the service alike)."""
    found = {**PIPELINES, **IN_PROCESS_JOBS}
    extra = os.environ.get(EXTRA_PIPELINES_ENV) or ""
    for module in filter(None, extra.split(",")):
        try:
            found.update(importlib.import_module(module.strip()).PIPELINES)
        except (ImportError, AttributeError) as error:
            raise BertprepError("%s=%s: %s" % (EXTRA_PIPELINES_ENV, extra, error)) from error
    return found


def names() -> List[str]:
    return sorted(pipelines())


def pipeline(name: str) -> Pipeline:
    known = pipelines()
    if name not in known:
        raise BertprepError("unknown pipeline %r (known: %s)" % (name, ", ".join(sorted(known))))
    return known[name]
