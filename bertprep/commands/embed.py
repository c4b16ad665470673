"""`bertprep embed`: text → sentence vectors (and token vectors on request) in Parquet, with any BERT model.

The graph is `bertprep.pipelines.embed`, the plan `bertprep.pipelines.embed.plan` (the model's
settings, vocabulary and shard count, once: a wrong model, setting or input is one line before any output
exists); the run is the generic job path. This module adds the line that counts the texts embedded.
"""
from bertprep.options.embed import EmbedOptions
from bertprep.pipelines import registry

COMMAND = "embed"
HELP = registry.PIPELINES[COMMAND].help  # the registry lists every job's help
DESCRIPTION = HELP
ACCEPTS_BEAM_ARGS = True

add_arguments = EmbedOptions.add_arguments


def _embedded_line(options, info, elapsed) -> str:
    counts = info.get("counts", {})
    return "embedded %d texts (%d dead-lettered) in %.1f s → %s" % (
        counts.get("written", 0), counts.get("dead_lettered", 0), elapsed, options.output)


def run(args) -> int:
    from bertprep.commands import job_command

    return job_command.run_job(COMMAND, args, summary_line=_embedded_line)
