"""Every job by name, and the contract each job follows: options, plan, then a graph or an in-process run.

A job is three things (see README, "How to add a job"):

- an **options class** (bertprep.options.fields: one frozen dataclass gives the command line, the jobs
  file's `args` and the Flex Template parameters);
- **`plan(options)`**: every check and derived value that needs I/O (the input listed, the vocabulary
  loaded, the shard count, labels read from a file), done once, on the driver, before any output exists;
  it returns whatever the job needs later (a frozen dataclass; picklable, since Beam ships it to workers);
- **`build(pipeline, options, plan)`**: adds the job's steps to a Beam pipeline and returns a
  `JobOutputs` (what to publish); or, for a job that runs in this process (no Beam),
  **`run(options, plan)`**, which writes its output and returns its counts.

Jobs name these as `module:name` import paths, loaded when asked for, so the service can list the jobs,
check a jobs file's `args` and write template metadata without importing Beam or any job's graph. One
generic path (bertprep.runtime.job_path) parses, plans, prepares the output directory, runs and prints
the summary for every job; bertprep.publish publishes what `build` returns, the same way for every job.
"""
import dataclasses
import importlib
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from bertprep.errors import BertprepError

# A deployment (or a test) adds its own jobs: module paths, comma-separated, each with a PIPELINES mapping
# of the same shape as the one below.
EXTRA_PIPELINES_ENV = "BERTPREP_EXTRA_PIPELINES"


@dataclasses.dataclass(frozen=True)
class Job:
    """One job: `module:name` paths of its options class, its `plan(options)`, and its graph
    (`build(pipeline, options, plan)`) or its in-process `run(options, plan)` (exactly one of the two).
    `help`: one line about the job (else the first line of the options class's docstring); `side_outputs`:
    glob patterns of files it writes beside the protocol's own (removed on --overwrite)."""

    name: str
    options: str
    plan: str
    build: str = ""
    run: str = ""
    help: str = ""
    side_outputs: Tuple[str, ...] = ()

    def __post_init__(self):
        if bool(self.build) == bool(self.run):
            raise ValueError("job %s: give exactly one of build= (a Beam graph) and run= (in-process)" % self.name)

    @property
    def runs_in_process(self) -> bool:
        return bool(self.run)

    def options_class(self):
        return _load(self.options)

    def plan_function(self) -> Callable:
        return _load(self.plan)

    def build_function(self) -> Callable:
        return _load(self.build)

    def run_function(self) -> Callable:
        return _load(self.run)

    def help_line(self) -> str:
        """One line about the job: `help`, else the first line of its options class's docstring."""
        if self.help:
            return self.help
        doc = (self.options_class().__doc__ or "").strip()
        return doc.splitlines()[0] if doc else "the %s job" % self.name


@dataclasses.dataclass(frozen=True)
class JobOutputs:
    """What a job's graph hands to publishing (bertprep.publish.finalize), which waits for all of it.

    `kind` and `info`: info.json's kind and the job's fixed entries (config, schema, vocabulary);
    `shards`: the shard results ({"path", "records", "shard"}: every shard written, empty or not, see
    bertprep.io.beam_io.WriteEveryShard); `read`, `written`, `dead_letter_counts`, `job_counts`, `stats`,
    `timing`: see bertprep.publish.finalize.FinalizeInputs; `accounting`: the counts that must balance;
    `learned_info(info) -> dict`: what only the run learns (labels discovered), merged into info.json
    before its single write (a picklable function of the info being published); `vocabulary`: the
    entries of the job's vocabulary, from which publishing records `vocabulary_case` (for the case warning)
    right after info's `vocab_fingerprint`.
    """

    kind: str
    info: Mapping[str, Any]
    shards: Any
    read: Any
    dead_letter_counts: Any = None
    written: Any = None
    job_counts: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    stats: Any = dataclasses.field(default_factory=dict)
    timing: Any = None
    accounting: Sequence[str] = ("read", "written", "dead_lettered")
    learned_info: Optional[Callable[[dict], dict]] = None
    vocabulary: Optional[Sequence[str]] = None


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


PIPELINES: Dict[str, Job] = {job.name: job for job in (
    Job("mask-probs", "bertprep.options.mask_probs:MaskProbsOptions", "bertprep.pipelines.mask_probs:plan",
        build="bertprep.pipelines.mask_probs:build_pipeline",
        help="per-character mask probabilities and phonetic/glyph/observed confusion sets from correct/wrong corpora"),
    Job("pretraining", "bertprep.options.pretraining:PretrainingOptions", "bertprep.pipelines.pretraining:plan",
        build="bertprep.pipelines.pretraining:build_pipeline",
        help="masked-LM/next-sentence pre-training TFRecords (create_pretraining_data.py semantics, at scale)"),
    Job("classifier", "bertprep.options.classifier:ClassifierOptions", "bertprep.pipelines.classifier:plan",
        build="bertprep.pipelines.classifier:build_pipeline",
        help="sentence(-pair) classification TFRecords: single, pair, multi-label, regression "
             "(run_classifier.py features)"),
    Job("tagging", "bertprep.options.tagging:TaggingOptions", "bertprep.pipelines.tagging:plan",
        build="bertprep.pipelines.tagging:build_pipeline",
        help="token tagging (NER/BIO) TFRecords: label on each word's first WordPiece, tag map in info.json"),
    Job("squad", "bertprep.options.squad:SquadOptions", "bertprep.pipelines.squad:plan",
        build="bertprep.pipelines.squad:build_pipeline",
        help="SQuAD v1.1/v2.0 (and Chinese CMRC) TFRecords with run_squad.py features, plus the eval side files",
        side_outputs=("squad_features-*", "squad_examples-*")),
    Job("embed", "bertprep.options.embed:EmbedOptions", "bertprep.pipelines.embed:plan",
        build="bertprep.pipelines.embed:build_pipeline",
        help="text → sentence (and token) vectors in Parquet with a BERT model"),
)}


def pipelines() -> Dict[str, Job]:
    """The built-in jobs and those of the modules named by BERTPREP_EXTRA_PIPELINES; a module that is missing
    or has no PIPELINES is one BertprepError line naming the variable (for the CLI and the service alike)."""
    found = dict(PIPELINES)
    extra = os.environ.get(EXTRA_PIPELINES_ENV) or ""
    for module in filter(None, extra.split(",")):
        try:
            found.update(importlib.import_module(module.strip()).PIPELINES)
        except (ImportError, AttributeError) as error:
            raise BertprepError("%s=%s: %s" % (EXTRA_PIPELINES_ENV, extra, error)) from error
    return found


def names() -> List[str]:
    return sorted(pipelines())


def pipeline(name: str) -> Job:
    known = pipelines()
    if name not in known:
        raise BertprepError("unknown pipeline %r (known: %s)" % (name, ", ".join(sorted(known))))
    return known[name]
