"""`bertprep export`: a training checkpoint → weights only (no optimizer state) + a serving SavedModel."""
import argparse

COMMAND = "export"
HELP = "write a weights-only checkpoint and a SavedModel from a training checkpoint"
DESCRIPTION = """Drop the optimizer state (Adam slots: two thirds of a training checkpoint) and write:
  OUTPUT/model.ckpt.*     weights, loadable by `bertprep train --init-checkpoint` and `bertprep embed --model`
  OUTPUT/saved_model/     serving_default(input_ids, input_mask, segment_ids) → sequence_output,
                          pooled_output, encoder_outputs [batch, layers, length, hidden]
  OUTPUT/bert_config.json, model.json, vocab.txt (when found)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="a `bertprep train` output directory, its checkpoints/ "
                        "directory or one checkpoint prefix (ckpt-N); a Google checkpoint works too")
    parser.add_argument("--output", required=True, help="export directory")
    parser.add_argument("--bert-config", help="BERT config; when omitted, bert_config.json beside the checkpoint")
    parser.add_argument("--vocab", help="vocab.txt to copy into the export; when omitted, one beside the checkpoint")
    parser.add_argument("--saved-model", action=argparse.BooleanOptionalAction, default=True,
                        help="also write a SavedModel with a serving signature")
    parser.add_argument("--google-format", action="store_true",
                        help="also write bert_model.ckpt with the original TF1 variable names")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export")


def run(args) -> int:
    from bertprep.trainer.export import export, human_size

    result = export(args.checkpoint, args.output, bert_config_path=args.bert_config, vocab=args.vocab,
                    saved_model=args.saved_model, google_format=args.google_format, overwrite=args.overwrite)
    print("exported to %s (%s → %s)" % (args.output, human_size(result["old_bytes"]), human_size(result["new_bytes"])))
    return 0
