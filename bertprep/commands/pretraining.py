"""`bertprep pretraining`: the command line of the pre-training job (the graph is bertprep/pipelines/pretraining.py).

Only the options class is imported at the top, so `bertprep --help` does not load Beam for this command.
"""
from bertprep.options.pretraining import PretrainingOptions
from bertprep.pipelines import registry

COMMAND = "pretraining"
HELP = registry.PIPELINES[COMMAND].help  # the registry lists every job's help
ACCEPTS_BEAM_ARGS = True
DESCRIPTION = """Turn documents (one sentence a line, a blank line between documents) into BERT pre-training
TFRecords: input_ids, input_mask, segment_ids, masked_lm_positions, masked_lm_ids, masked_lm_weights,
next_sentence_labels (1 = B is random, or swapped with --next-sentence sop).

Documents are spread over buckets by a stable hash of their key (about 512 KiB of input each; --num-shards
sets the count); negatives for next-sentence prediction are drawn from the same bucket, not the whole
corpus. Each bucket becomes one shard, so memory per worker does not grow with the corpus, and the same
--seed gives the same bytes whatever --workers is.

--reference-compatible reproduces the original's per-piece 80/10/10 decisions and lets random
replacements draw any vocabulary entry; by default the decision is made once per word and special or
[unused] entries are never drawn. Confusion-aware masking (--confusion-sets, --mask-probability,
--wrong-input) takes the outputs of `bertprep mask-probs`."""

add_arguments = PretrainingOptions.add_arguments


def _note_missing_kernel(options, plan) -> None:
    if plan.kernel_note:
        from bertprep.runtime import job_path

        job_path.note(plan.kernel_note)


def run(args) -> int:
    from bertprep.commands import job_command

    return job_command.run_job(COMMAND, args, before_run=_note_missing_kernel)
