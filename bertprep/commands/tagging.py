"""`bertprep tagging`: the command line of the tagging job (bertprep/pipelines/tagging.py)."""
from bertprep.options.tagging import TaggingOptions
from bertprep.pipelines import registry

COMMAND = "tagging"
HELP = registry.PIPELINES[COMMAND].help  # the registry lists every job's help
ACCEPTS_BEAM_ARGS = True
DESCRIPTION = """Turn tagged sentences into input_ids, input_mask, segment_ids, label_ids and label_weights:
each word is WordPiece-tokenized on its own, its tag id sits on its first piece with weight 1.0, other
pieces, [CLS], [SEP] and padding have id 0 and weight 0.0. example_id = input file index (sorted inputs)
* 2**32 + the sentence's first line (JSONL: its line).

Inputs: CoNLL-style files (`token tag` a line, the tag in the last column, a blank line between
sentences; -DOCSTART- lines skipped) or JSONL objects with a token list and a tag list.
Tags: --labels B-PER,I-PER,... (or a file) fixes the ids; otherwise every tag seen is collected, sorted,
and written to info.json as "labels" and "tag_map". A sentence longer than --max-seq-length - 2 pieces
goes to dead_letters/ unless --split-long cuts it at word boundaries into several records (which then
share the sentence's example_id)."""

add_arguments = TaggingOptions.add_arguments


def run(args) -> int:
    from bertprep.commands import job_command

    return job_command.run_job(COMMAND, args)
