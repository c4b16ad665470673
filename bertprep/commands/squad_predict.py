"""`bertprep squad-predict`: start/end logits + the eval side files → answers, n-best lists, EM/F1.

Plain Python (no Beam): an evaluation set's side files and logits fit in memory (the reference holds
them all too). Questions whose windows lack logits are not predicted and are counted by reason;
the questions the `squad --split eval` run dead-lettered are listed from its info.json.
"""
import json
from collections import Counter, defaultdict

from bertprep.errors import BertprepError
from bertprep.io import output as output_lib
from bertprep.io import fs
from bertprep.io.formats.jsonl import iter_jsonl
from bertprep.io.formats.parquet import iter_parquet
from bertprep.io.records import DeadLetter
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


def _int_keys(mapping) -> dict:
    if isinstance(mapping, list):  # Parquet maps come back as (key, value) pairs
        return {int(key): value for key, value in mapping}
    return {int(key): value for key, value in mapping.items()}


def read_rows(path: str):
    """Rows of a JSONL or Parquet file; an unreadable line is an error naming the file and line."""
    if path.endswith(".parquet"):
        for item in iter_parquet(path):
            yield item.value
        return
    for item in iter_jsonl(path):
        if isinstance(item, DeadLetter):
            raise BertprepError("%s line %d: %s" % (path, item.line, item.reason))
        yield item.value


def load_side_files(directory: str):
    """(info, examples by example_index, features grouped by example_index)."""
    out = output_lib.OutputDirectory(directory)
    if not out.is_complete():
        raise BertprepError("%s is not a complete output (no %s marker)" % (directory, output_lib.COMPLETE_MARKER))
    info = out.read_info()
    names = info.get("side_files")
    if not names:
        raise BertprepError("%s has no side files: make it with `bertprep squad --split eval`" % directory)
    examples = {}
    for name in names["examples"]:
        for row in read_rows(out.file(name)):
            row["word_spans"] = [tuple(span) for span in row["word_spans"]]
            examples[int(row["example_index"])] = row
    features = defaultdict(list)
    for name in names["features"]:
        for row in read_rows(out.file(name)):
            row["token_to_orig_map"] = _int_keys(row["token_to_orig_map"])
            row["token_is_max_context"] = _int_keys(row["token_is_max_context"])
            features[int(row["example_index"])].append(row)
    for rows in features.values():
        rows.sort(key=lambda row: row["doc_span_index"])
    return info, examples, features


def options_of_run(info: dict):
    """The options the `squad` run recorded in its info.json, as its typed options (the class's defaults for
    what the record leaves out)."""
    import dataclasses

    from bertprep.options.squad import SquadOptions

    known = {field.name for field in dataclasses.fields(SquadOptions)}
    return SquadOptions(**{name: value for name, value in info.get("config", {}).items() if name in known})


def load_logits(pattern: str) -> dict:
    results = {}
    for path in fs.match(pattern):
        for row in read_rows(path):
            try:
                results[int(row["unique_id"])] = {"start_logits": [float(x) for x in row["start_logits"]],
                                                  "end_logits": [float(x) for x in row["end_logits"]]}
            except (KeyError, TypeError, ValueError) as error:
                raise BertprepError("%s: a logits row lacks unique_id/start_logits/end_logits (%s)"
                                    % (path, error)) from None
    return results


def predict(info, examples, features, results, n_best_size=20, max_answer_length=30,
            null_score_diff_threshold=0.0, version_2_with_negative=None, metric="auto",
            max_context_rule="span") -> dict:
    """Everything squad-predict writes, as dicts: predictions, nbest, null_odds, eval."""
    squad_options = options_of_run(info)
    if version_2_with_negative is None:
        version_2_with_negative = squad_options.version_2_with_negative
    lower = squad_options.lower
    strip_accents = squad_options.strip_accents
    predictions, nbest_all, null_odds = {}, {}, {}
    not_predicted = Counter()
    gold = {}
    for example_index in sorted(examples):
        example = examples[example_index]
        windows = features.get(example_index, [])
        missing = [row["unique_id"] for row in windows if row["unique_id"] not in results]
        if not windows or missing:
            not_predicted["no logits for %s" % ("the question" if len(missing) == len(windows) else
                                                "some of its windows")] += 1
            continue
        text, nbest, score_diff = squad_postprocess.predict_example(
            example, windows, results, n_best_size, max_answer_length, version_2_with_negative,
            null_score_diff_threshold, lower, strip_accents, max_context_rule)
        qas_id = example["qas_id"]
        predictions[qas_id] = text
        nbest_all[qas_id] = nbest
        if version_2_with_negative:
            null_odds[qas_id] = score_diff
        gold[qas_id] = list(example.get("answers") or [])
    scores = squad_postprocess.evaluate(gold, predictions, metric)
    scores.update({
        "questions": len(examples),
        "predicted": len(predictions),
        "not_predicted": sum(not_predicted.values()),
        "not_predicted_by_reason": dict(sorted(not_predicted.items())),
        "dropped_when_made": dict(info.get("dead_letters_by_reason", {})),
        "unused_logits": len(set(results) - {row["unique_id"] for rows in features.values() for row in rows}),
    })
    return {"predictions": predictions, "nbest": nbest_all, "null_odds": null_odds if version_2_with_negative else None,
            "eval": scores}


def _write(directory: str, name: str, data) -> str:
    path = output_lib.join(directory, name)
    output_lib.write_bytes_atomically(path, (json.dumps(data, indent=4, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def run(args) -> int:
    info, examples, features = load_side_files(args.eval_output)
    results = load_logits(args.logits)
    made = predict(info, examples, features, results, args.n_best_size, args.max_answer_length,
                   args.null_score_diff_threshold, args.version_2_with_negative, args.metric, args.max_context)
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
