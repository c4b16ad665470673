"""Start/end logits → answer text, as run_squad.py's `write_predictions` does it.

Per question: the `n_best_size` best start and end positions of every window are paired; pairs
outside the document, reversed, longer than `max_answer_length`, or starting on a piece whose
max-context window is another one are dropped; the rest are ranked by start + end logit and the
first `n_best_size` distinct texts kept. With SQuAD 2.0 the null answer competes with the lowest
null score over the windows and is predicted when `null score - best non-null > threshold`.

Text is recovered from the paragraph itself: the pieces' text (WordPiece `##` joined) is found in
the basic-tokenized original words and mapped back character by character, as the reference's
`get_final_text` does, so the answer keeps its case and accents. The original span is cut from the
context between the words' character offsets, so text without spaces (Chinese) comes back
without spaces between characters.
"""
import collections
import math
import re
import string
import unicodedata
from typing import Dict, List, Optional, Sequence, Tuple

from bertprep.transforms.tokenization.wordpiece import (is_cjk_codepoint, is_control_char, is_punctuation_char,
                                           is_whitespace_char)
from bertprep.transforms.tokenization.wordpiece import strip_accents as strip_accents_text

SENTENCEPIECE_SPACE = "\u2581"
NO_NON_NULL_SCORE_DIFF = 1e30
UNK_TOKEN = "[UNK]"


def best_indexes(logits: Sequence[float], n_best_size: int) -> List[int]:
    """Indexes of the largest logits, best first; equal logits keep their order (stable sort)."""
    order = sorted(range(len(logits)), key=lambda i: logits[i], reverse=True)
    return order[:n_best_size]


def softmax(scores: Sequence[float]) -> List[float]:
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def pieces_to_text(pieces: Sequence[str]) -> str:
    """Join WordPiece (`##`) or SentencePiece (`▁`) pieces back into words separated by spaces."""
    text = " ".join(pieces)
    if SENTENCEPIECE_SPACE in text:
        text = text.replace(" ", "").replace(SENTENCEPIECE_SPACE, " ")
    else:
        text = text.replace(" ##", "").replace("##", "")
    return " ".join(text.split())


def tokenize_with_offsets(text: str, lower: bool = True, strip_accents: Optional[bool] = None):
    """The basic tokenizer's output joined by spaces, with the original index of every character.

    Same steps as the reference BasicTokenizer (drop control characters, split on whitespace,
    around CJK ideographs and around punctuation, lower-case, strip accents), done character by
    character so that each output character remembers where it came from; spaces map to None.
    """
    if strip_accents is None:
        strip_accents = lower
    out: List[str] = []
    origins: List[Optional[int]] = []

    def boundary():
        if out and out[-1] != " ":
            out.append(" ")
            origins.append(None)

    for index, char in enumerate(text):
        cp = ord(char)
        if cp == 0 or cp == 0xFFFD or is_control_char(char):
            continue
        if is_whitespace_char(char):
            boundary()
            continue
        if is_cjk_codepoint(cp):
            boundary()
            normalized = char.lower() if lower else char
            normalized = strip_accents_text(normalized) if strip_accents else normalized
            out.extend(normalized)
            origins.extend([index] * len(normalized))
            boundary()
            continue
        normalized = char.lower() if lower else char
        if strip_accents:
            normalized = strip_accents_text(normalized)
        for piece in normalized:
            if is_punctuation_char(piece):
                boundary()
                out.append(piece)
                origins.append(index)
                boundary()
            else:
                out.append(piece)
                origins.append(index)
    if out and out[-1] == " ":
        out.pop()
        origins.pop()
    return "".join(out), origins


def _locate(pred_text: str, tokenized: str) -> Tuple[int, int]:
    """First (start, end) of `pred_text` in `tokenized`, [UNK] standing for any one basic token.

    Without [UNK] this is the reference's `str.find`. The reference gives up on a prediction that
    holds an [UNK] (a rare character in Chinese text) and returns whole words around it; a
    WordPiece [UNK] always replaces one whole basic token, so it can match one here instead.
    """
    if UNK_TOKEN not in pred_text:
        start = tokenized.find(pred_text)
        return start, start + len(pred_text) - 1
    pattern = r"\S+".join(re.escape(part) for part in pred_text.split(UNK_TOKEN))
    match = re.search(pattern, tokenized)
    if match is None:
        return -1, -1
    return match.start(), match.end() - 1


def final_text(pred_text: str, orig_text: str, lower: bool = True, strip_accents: Optional[bool] = None) -> str:
    """Project the normalised predicted text back onto the original characters.

    The reference aligns the basic-tokenized original with the original only when both have the
    same number of non-space characters, and otherwise returns the whole original words (accents
    stripped from decomposed characters, Hebrew points, an [UNK]). Here every tokenized character
    knows its source character, so the predicted span is cut from the original in those cases
    too; combining marks following the last character stay with it.
    """
    tokenized, origins = tokenize_with_offsets(orig_text, lower, strip_accents)
    start, end = _locate(pred_text, tokenized)
    if start == -1:
        return orig_text
    orig_start, orig_end = origins[start], origins[end]
    if orig_start is None or orig_end is None:
        return orig_text
    while orig_end + 1 < len(orig_text) and unicodedata.category(orig_text[orig_end + 1]) == "Mn":
        orig_end += 1
    return orig_text[orig_start:orig_end + 1]


Candidate = collections.namedtuple("Candidate", "feature_index start_index end_index start_logit end_logit")
MAX_CONTEXT_RULES = ("span", "start")


def _best_windows(features: Sequence[Dict]) -> Optional[Dict[int, Tuple[int, int]]]:
    """Document piece → (first, last) piece of its max-context window; None without `doc_span_start`."""
    best = {}
    for feature in features:
        start = feature.get("doc_span_start")
        if start is None or not feature["token_to_orig_map"]:
            return None
        offset = min(feature["token_to_orig_map"])
        last = start + len(feature["token_to_orig_map"]) - 1
        for position, is_max in feature["token_is_max_context"].items():
            if is_max:
                best[start + position - offset] = (start, last)
    return best


def _start_allowed(feature: Dict, start: int, end: int, best_windows) -> bool:
    """The reference keeps a span only where its start has the most context. Under the "span" rule
    a span is also kept where the start's max-context window does not hold the span's end (a long
    answer), since no window could ever predict it otherwise; short spans are treated identically."""
    if feature["token_is_max_context"].get(start, False):
        return True
    if best_windows is None:
        return False
    offset = feature["doc_span_start"] - min(feature["token_to_orig_map"])
    window = best_windows.get(start + offset)
    return window is not None and not window[0] <= end + offset <= window[1]


def predict_example(example: Dict, features: Sequence[Dict], results: Dict[int, Dict], n_best_size: int = 20,
                    max_answer_length: int = 30, version_2_with_negative: bool = False,
                    null_score_diff_threshold: float = 0.0, lower: bool = True,
                    strip_accents: Optional[bool] = None, max_context_rule: str = "span"):
    """(prediction text, n-best list of dicts, null score difference or None) for one question.

    `example` has `context` and `word_spans` (character spans of its words); each feature has
    `unique_id`, `tokens`, `token_to_orig_map` and `token_is_max_context` with integer keys;
    `results` maps unique_id to {"start_logits": [...], "end_logits": [...]}. `max_context_rule`
    "start" is the reference's filter; "span" (see `_start_allowed`) needs `doc_span_start`.
    """
    best_windows = _best_windows(features) if max_context_rule == "span" else None
    candidates = []
    score_null = None
    null_feature = 0
    null_start = null_end = 0.0
    for feature_index, feature in enumerate(features):
        result = results[feature["unique_id"]]
        start_logits, end_logits = result["start_logits"], result["end_logits"]
        if version_2_with_negative:
            feature_null = start_logits[0] + end_logits[0]
            if score_null is None or feature_null < score_null:
                score_null, null_feature = feature_null, feature_index
                null_start, null_end = start_logits[0], end_logits[0]
        to_word = feature["token_to_orig_map"]
        num_tokens = len(feature["tokens"])
        for start in best_indexes(start_logits, n_best_size):
            for end in best_indexes(end_logits, n_best_size):
                if start >= num_tokens or end >= num_tokens or start not in to_word or end not in to_word:
                    continue
                if end < start or end - start + 1 > max_answer_length:
                    continue
                if not _start_allowed(feature, start, end, best_windows):
                    continue
                candidates.append(Candidate(feature_index, start, end, start_logits[start], end_logits[end]))
    if version_2_with_negative:
        candidates.append(Candidate(null_feature, 0, 0, null_start, null_end))
    candidates.sort(key=lambda c: c.start_logit + c.end_logit, reverse=True)

    nbest = []
    seen = set()
    for candidate in candidates:
        if len(nbest) >= n_best_size:
            break
        if candidate.start_index > 0:
            feature = features[candidate.feature_index]
            pred_text = pieces_to_text(feature["tokens"][candidate.start_index:candidate.end_index + 1])
            first_word = feature["token_to_orig_map"][candidate.start_index]
            last_word = feature["token_to_orig_map"][candidate.end_index]
            spans = example["word_spans"]
            orig_text = example["context"][spans[first_word][0]:spans[last_word][1]]
            text = final_text(pred_text, orig_text, lower, strip_accents)
        else:
            text = ""
        if text in seen:
            continue
        seen.add(text)
        nbest.append({"text": text, "start_logit": candidate.start_logit, "end_logit": candidate.end_logit})
    if version_2_with_negative and "" not in seen:
        nbest.append({"text": "", "start_logit": null_start, "end_logit": null_end})
    if not nbest:
        nbest.append({"text": "empty", "start_logit": 0.0, "end_logit": 0.0})
    probabilities = softmax([entry["start_logit"] + entry["end_logit"] for entry in nbest])
    nbest = [{"text": entry["text"], "probability": probability, "start_logit": entry["start_logit"],
              "end_logit": entry["end_logit"]} for entry, probability in zip(nbest, probabilities)]
    if not version_2_with_negative:
        return nbest[0]["text"], nbest, None
    best_non_null = next((entry for entry in nbest if entry["text"]), None)
    if best_non_null is None:
        # Only the null answer survived: it wins whatever the threshold (a finite stand-in for
        # infinity keeps null_odds.json plain JSON).
        return "", nbest, NO_NON_NULL_SCORE_DIFF
    score_diff = score_null - best_non_null["start_logit"] - best_non_null["end_logit"]
    prediction = "" if score_diff > null_score_diff_threshold else best_non_null["text"]
    return prediction, nbest, score_diff


# ---------------------------------------------------------------- scoring

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P") or (char.isascii() and not char.isalnum()
                                                          and not char.isspace())


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in _ASCII_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact(gold: str, prediction: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(prediction))


def squad_f1(gold: str, prediction: str) -> float:
    """Token-overlap F1 of the official v2.0 script (an empty answer scores 1 only against empty)."""
    gold_tokens = normalize_answer(gold).split()
    pred_tokens = normalize_answer(prediction).split()
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    common = sum((collections.Counter(gold_tokens) & collections.Counter(pred_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def cjk_segments(text: str) -> List[str]:
    """CMRC 2018's unit of comparison: each CJK character alone, other runs split into words;
    punctuation and whitespace are dropped and Latin text is lower-cased."""
    segments = []
    word = []
    for char in text.lower():
        if is_cjk_codepoint(ord(char)) or char.isspace() or _is_punctuation(char):
            if word:
                segments.append("".join(word))
                word = []
            if is_cjk_codepoint(ord(char)):
                segments.append(char)
        else:
            word.append(char)
    if word:
        segments.append("".join(word))
    return segments


def _longest_common_run(first: Sequence[str], second: Sequence[str]) -> int:
    """Length of the longest contiguous run shared by two sequences (CMRC's `find_lcs`)."""
    best = 0
    previous = [0] * (len(second) + 1)
    for item in first:
        current = [0] * (len(second) + 1)
        for j, other in enumerate(second, start=1):
            if item == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def cmrc_exact(gold: str, prediction: str) -> float:
    return float(cjk_segments(gold) == cjk_segments(prediction))


def cmrc_f1(gold: str, prediction: str) -> float:
    """Character-level F1 of CMRC 2018: precision and recall of the longest common run."""
    gold_segments = cjk_segments(gold)
    pred_segments = cjk_segments(prediction)
    if not gold_segments or not pred_segments:
        return float(gold_segments == pred_segments)
    common = _longest_common_run(gold_segments, pred_segments)
    if common == 0:
        return 0.0
    precision = common / len(pred_segments)
    recall = common / len(gold_segments)
    return 2 * precision * recall / (precision + recall)


METRICS = {"squad": (squad_exact, squad_f1), "cmrc": (cmrc_exact, cmrc_f1)}


def choose_metric(gold_answers: Dict[str, Sequence[str]]) -> str:
    """"cmrc" when the gold answers contain CJK characters, else the official SQuAD metric."""
    for answers in gold_answers.values():
        for answer in answers:
            if any(is_cjk_codepoint(ord(char)) for char in answer):
                return "cmrc"
    return "squad"


def evaluate(gold_answers: Dict[str, Sequence[str]], predictions: Dict[str, str], metric: str = "auto") -> Dict:
    """EM and F1 (percent) over the questions in both dicts, best over each question's answers.

    A question with no gold answer (SQuAD 2.0 unanswerable) has the empty string as its answer.
    Scores are also split into answerable (`has_ans_*`) and unanswerable (`no_ans_*`) questions.
    """
    if metric == "auto":
        metric = choose_metric(gold_answers)
    exact_fn, f1_fn = METRICS[metric]
    totals = {"all": [0.0, 0.0, 0], "has_ans": [0.0, 0.0, 0], "no_ans": [0.0, 0.0, 0]}
    for qas_id, prediction in predictions.items():
        if qas_id not in gold_answers:
            continue
        answers = [answer for answer in gold_answers[qas_id] if normalize_answer(answer) or cjk_segments(answer)]
        group = "has_ans" if answers else "no_ans"
        answers = answers or [""]
        exact = max(exact_fn(answer, prediction) for answer in answers)
        f1 = max(f1_fn(answer, prediction) for answer in answers)
        for name in ("all", group):
            totals[name][0] += exact
            totals[name][1] += f1
            totals[name][2] += 1
    scores = {"metric": metric}
    for name, (exact, f1, count) in totals.items():
        prefix = "" if name == "all" else name + "_"
        scores[prefix + "exact"] = 100.0 * exact / count if count else 0.0
        scores[prefix + "f1"] = 100.0 * f1 / count if count else 0.0
        scores[prefix + "total"] = count
    return scores


def predict(info, examples, features, results, n_best_size=20, max_answer_length=30,
            null_score_diff_threshold=0.0, version_2_with_negative=False, metric="auto",
            max_context_rule="span", lower=True, strip_accents=None) -> dict:
    """Everything squad-predict writes, as dicts: predictions, nbest, null_odds, eval. `info` is the eval
    output's info.json; `lower` and `strip_accents` as that run tokenized."""
    predictions, nbest_all, null_odds = {}, {}, {}
    not_predicted = collections.Counter()
    gold = {}
    for example_index in sorted(examples):
        example = examples[example_index]
        windows = features.get(example_index, [])
        missing = [row["unique_id"] for row in windows if row["unique_id"] not in results]
        if not windows or missing:
            not_predicted["no logits for %s" % ("the question" if len(missing) == len(windows) else
                                                "some of its windows")] += 1
            continue
        text, nbest, score_diff = predict_example(
            example, windows, results, n_best_size, max_answer_length, version_2_with_negative,
            null_score_diff_threshold, lower, strip_accents, max_context_rule)
        qas_id = example["qas_id"]
        predictions[qas_id] = text
        nbest_all[qas_id] = nbest
        if version_2_with_negative:
            null_odds[qas_id] = score_diff
        gold[qas_id] = list(example.get("answers") or [])
    scores = evaluate(gold, predictions, metric)
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
