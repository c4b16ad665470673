"""`bertprep embed`: text → sentence vectors (and token vectors on request) in Parquet, with any BERT model.

The graph is `bertprep.pipelines.embed`; this module turns the command line into `EmbedOptions`, resolves
the model's settings, vocabulary and shard count once (`plan_embedding`: a wrong model, setting or input
is one line before any output exists), prepares the output directory and runs the job.
"""
import time

from bertprep.options.embed import EmbedOptions

COMMAND = "embed"
HELP = "text → sentence (and token) vectors in Parquet with a BERT model"
DESCRIPTION = HELP
ACCEPTS_BEAM_ARGS = True

add_arguments = EmbedOptions.add_arguments


def run(args) -> int:
    from bertprep.io import output as output_lib
    from bertprep.options.embed import plan_embedding
    from bertprep.pipelines.embed import pipeline_builder
    from bertprep.runtime.beam_job import is_dry_run, run_job

    options = EmbedOptions.from_namespace(args)
    plan = plan_embedding(options)
    directory = output_lib.OutputDirectory(options.output, overwrite=options.overwrite)
    directory.prepare()
    started = time.time()
    beam_args = getattr(args, "beam_args", None)
    run_job(pipeline_builder(plan), options, beam_args)
    if is_dry_run(beam_args):  # the job was built, not run: nothing to count
        return 0
    counts = directory.read_info().get("counts", {})
    print("embedded %d texts (%d dead-lettered) in %.1f s → %s" % (
        counts.get("written", 0), counts.get("dead_lettered", 0), time.time() - started, options.output))
    return 0
