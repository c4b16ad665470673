"""`bertprep squad`: the command line of the SQuAD job (bertprep/pipelines/squad.py)."""
from bertprep.options.squad import SquadOptions
from bertprep.pipelines import registry

COMMAND = "squad"
HELP = registry.PIPELINES[COMMAND].help  # the registry lists every job's help
ACCEPTS_BEAM_ARGS = True
DESCRIPTION = """Turn SQuAD-format JSON into the features run_squad.py writes. --split train (the reference's
is_training) gives unique_id, input_ids, input_mask, segment_ids, start_positions, end_positions and
is_impossible (positions 0 when the answer is not inside the window, or the question has none);
--split eval gives unique_id, input_ids, input_mask, segment_ids and side files (JSONL, or Parquet with
--side-file-format parquet): squad_features-* (unique_id, example_index, qas_id, doc_span_index,
doc_span_start, tokens, token_to_orig_map, token_is_max_context) and squad_examples-* (qas_id,
question, context, doc_tokens, word character spans, gold answers) — what `bertprep squad-predict` needs
to turn logits into text.

unique_id counts from 1000000000 and example_index from 0 in input order (files sorted by name, then
article, paragraph and question), exactly as the reference numbers them, whatever the worker count.
Each JSON file is read whole by one worker (it is one JSON document).

Text written without spaces (Chinese, Japanese): every CJK ideograph is its own word (--cjk-words auto
does this for paragraphs where ideographs and kana are at least 30% of the characters), so answers are
located from answer_start character by character. Training questions whose answer text does not match
the context at answer_start or that lack exactly one answer go to dead_letters/, and so (unless
--unusable-answers keep, the reference's behaviour) do answers that start or end inside a word piece or
that no window holds whole."""

add_arguments = SquadOptions.add_arguments


def run(args) -> int:
    from bertprep.commands import job_command

    return job_command.run_job(COMMAND, args)
