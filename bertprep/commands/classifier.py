"""`bertprep classifier`: the command line of the classifier job (bertprep/pipelines/classifier.py)."""
from bertprep.options.classifier import ClassifierOptions
from bertprep.pipelines import registry

COMMAND = "classifier"
HELP = registry.PIPELINES[COMMAND].help  # the registry lists every job's help
ACCEPTS_BEAM_ARGS = True
DESCRIPTION = """Turn labelled sentences or sentence pairs into the features run_classifier.py writes:
input_ids, input_mask, segment_ids ([CLS] a [SEP] b [SEP], pairs truncated from the end of the longer side),
label_ids, is_real_example, plus example_id = input file index (sorted inputs) * 2**32 + line/row number.

Inputs: TSV/CSV (columns by header name or 0-based index), JSONL (keys), Parquet (columns), or plain text
with `a ||| b` pairs (unlabelled). --preset gives the column layout of the GLUE/CLUE processors in
run_classifier.py (mrpc, cola, mnli, xnli [dev/test files, filtered to --language], xnli-train,
chnsenticorp); explicit column options override it.

Labels: --labels a,b,c (or a file, one a line) fixes the order; otherwise every label seen is collected
(sorted: numerically when all are integers) and written to info.json. --multi-label makes label_ids a
multi-hot vector of num_labels (cells split on --label-delimiter); --label-type float is regression.
Rows with an unknown label, a missing column or empty text go to dead_letters/ with the reason."""

add_arguments = ClassifierOptions.add_arguments


def run(args) -> int:
    from bertprep.commands import job_command

    return job_command.run_job(COMMAND, args)
