"""`bertprep predict`: labels or tags from a trained model, one row per example (the original do_predict)."""
import argparse

from bertprep.trainer.predict import FORMATS, TASKS

COMMAND = "predict"
HELP = "predict labels (classifier) or tags (tagging) with a model trained by `bertprep train`"
DESCRIPTION = """Run a trained classifier or tagging model over a bertprep output directory (labelled or
--unlabeled) and write one row per example:
  classifier: example_id, label, prob_<label> for every class (multi-label: the labels over 0.5)
  tagging:    example_id, tags (the predicted tag of every word)
as TSV, JSONL or Parquet (from the --output extension, or --format). Padding examples are skipped."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=TASKS, required=True, help="what the model was trained for")
    parser.add_argument("--model", required=True, help="a `bertprep train` output directory (its latest checkpoint), "
                        "one checkpoint prefix, or a `bertprep export` directory")
    parser.add_argument("--data", required=True, help="a bertprep classifier or tagging output directory")
    parser.add_argument("--output", required=True, help="predictions file (.tsv, .jsonl or .parquet)")
    parser.add_argument("--format", choices=("auto",) + FORMATS, default="auto",
                        help="output format (auto: from the --output extension)")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per batch")
    parser.add_argument("--bert-config", help="BERT config; when omitted, bert_config.json beside the model")


def run(args) -> int:
    from bertprep.trainer.predict import predict

    predict(args.task, args.model, args.data, args.output, fmt=args.format, batch_size=args.batch_size,
            bert_config_path=args.bert_config)
    return 0
