"""`bertprep pretraining`: the command line of the pre-training job (the graph is bertprep/pipelines/pretraining.py).

Only the options class is imported at the top, so `bertprep --help` does not load Beam for this command.
"""
import sys

from bertprep.options.pretraining import PretrainingOptions

COMMAND = "pretraining"
HELP = "masked-LM/next-sentence pre-training TFRecords (create_pretraining_data.py semantics, at scale)"
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


def run(args) -> int:
    from bertprep.io import output as output_lib
    from bertprep.pipelines import pretraining
    from bertprep.runtime import beam_job

    options = PretrainingOptions.from_namespace(args)  # validated here, once
    # A bad vocabulary, mask-probs table or confusion-set file fails here with one line, before Beam starts.
    parts = pretraining.JobParts(options)
    note = parts.builder.missing_kernel_note()
    if note:
        print("bertprep: note: " + note, file=sys.stderr)
    output_lib.OutputDirectory(options.output, overwrite=options.overwrite).prepare()
    beam_job.run_job(pretraining.build_pipeline, options, args.beam_args)
    return 0
