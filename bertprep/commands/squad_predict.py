"""`bertprep squad-predict`: start/end logits + the eval side files → answers, n-best lists, EM/F1.

Plain Python (no Beam): an evaluation set's side files and logits fit in memory (the reference holds
them all too). Questions whose windows lack logits are not predicted and are counted by reason;
the questions the `squad --split eval` run dead-lettered are listed from its info.json.
"""
import json

from bertprep.io import output as output_lib
from bertprep.io import fs
from bertprep.io.formats import squad_side_files
from bertprep.options.squad import options_of_run
from bertprep.transforms.finetune import squad_postprocess

COMMAND = "squad-predict"
HELP = "turn SQuAD logits + the eval side files into predictions.json, nbest_predictions.json, null odds, EM/F1"
DESCRIPTION = """Read the output directory of `bertprep squad --split eval` (its side files and info.json) and
logits for its features (JSONL or Parquet rows: unique_id, start_logits, end_logits; from `bertprep
train` or any model), and write, as run_squad.py does: predictions.json (qas_id → answer),
nbest_predictions.json, null_odds.json (SQuAD 2.0: null score minus best non-null score; "" is predicted
when it exceeds --null-score-diff-threshold), and eval.json with EM and F1 against the gold answers:
the official SQuAD normalisation, or CMRC 2018's character-level scoring for Chinese (--metric auto
picks it when the gold answers contain CJK characters)."""


def add_arguments(parser) -> None:
    parser.add_argument("--eval-output", required=True, help="output directory of `bertprep squad --split eval`")
    parser.add_argument("--logits", required=True, help="logits files (JSONL or .parquet; glob or comma list): "
                        "unique_id, start_logits, end_logits")
    parser.add_argument("--output", required=True, help="directory for predictions.json, nbest_predictions.json, "
                        "null_odds.json and eval.json")
    parser.add_argument("--n-best-size", type=int, default=20, help="candidates kept per question")
    parser.add_argument("--max-answer-length", type=int, default=30, help="longest answer, in pieces")
    parser.add_argument("--null-score-diff-threshold", type=float, default=0.0,
                        help="SQuAD 2.0: predict no answer when null score - best non-null score exceeds this")
    parser.add_argument("--version-2-with-negative", action="store_true", default=None,
                        help="allow the null answer (default: as the eval data was made)")
    parser.add_argument("--max-context", choices=squad_postprocess.MAX_CONTEXT_RULES, default="span",
                        help="start: keep a span only in the window where its start has the most context (the "
                        "reference); span: also where that window cannot hold the span's end (long answers)")
    parser.add_argument("--metric", choices=("auto", "squad", "cmrc"), default="auto",
                        help="squad: official EM/F1; cmrc: character-level (Chinese); auto: by the gold answers")


def _write(directory: str, name: str, data) -> str:
    path = output_lib.join(directory, name)
    output_lib.write_bytes_atomically(path, (json.dumps(data, indent=4, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def run(args) -> int:
    info, examples, features = squad_side_files.read_side_files(args.eval_output)
    results = squad_side_files.read_logits(args.logits)
    recorded = options_of_run(info)
    version_2 = args.version_2_with_negative
    made = squad_postprocess.predict(
        info, examples, features, results, args.n_best_size, args.max_answer_length,
        args.null_score_diff_threshold, recorded.version_2_with_negative if version_2 is None else version_2,
        args.metric, args.max_context, recorded.lower, recorded.strip_accents)
    fs.makedirs(args.output)
    written = [_write(args.output, "predictions.json", made["predictions"]),
               _write(args.output, "nbest_predictions.json", made["nbest"])]
    if made["null_odds"] is not None:
        written.append(_write(args.output, "null_odds.json", made["null_odds"]))
    written.append(_write(args.output, "eval.json", made["eval"]))
    scores = made["eval"]
    print("squad-predict: %d of %d questions predicted; %s EM %.2f F1 %.2f" % (
        scores["predicted"], scores["questions"], scores["metric"], scores["exact"], scores["f1"]))
    for reason, count in scores["not_predicted_by_reason"].items():
        print("  not predicted: %s: %d" % (reason, count))
    for reason, count in scores["dropped_when_made"].items():
        print("  dropped by the squad run: %s: %d" % (reason, count))
    for path in written:
        print("wrote %s" % path)
    return 0
