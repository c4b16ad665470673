"""Warnings from the data: what a finished run's own figures say about its settings.

A run can end with every record accounted for and still be wrong for its purpose: a vocabulary that
turns most of the corpus into [UNK], a case setting that does not match the vocabulary, SQuAD 2.0 data
read as 1.1, a label column that holds one value. The job already measures what shows this (counts,
dead letters by reason, stats); `check` turns those figures into one-line warnings just before
info.json is written: they go to info.json["warnings"], the top of report.html and, after the run
summary, the terminal. With `--strict` any warning fails the run before anything is published.

Everything here reads plain info.json values (no Beam, no tokenizer), so the rules are tested on
hand-made dicts, and an info.json from an older run can be checked again.
"""
import dataclasses
from typing import Dict, Iterable, List, Optional

from bertprep.errors import BertprepError
from bertprep.schemas import statistics

UNK_RATE_LIMIT = 0.01          # share of tokens that are [UNK]
DEAD_LETTER_SHARE_LIMIT = 0.10  # share of the input one dead-letter reason may take
LABEL_SHARE_LIMIT = 0.95        # share of classification rows one label may hold
RANDOM_NEXT_SHARE_LIMIT = 0.90  # next-sentence labels that are "random next" (the reference makes about 59%)
INSTANCES_PER_DOCUMENT_LIMIT = 0.5  # instances a pass per document, below which documents are lost
CONFUSION_MIX_SHORTFALL_POINTS = 1.5  # a confusion kind this many points below its requested share is warned about
# A vocabulary is uncased when at most 1% of its entries with letters have an upper-case one, and cased
# when at least 5% have (bert-base-cased: most names and sentence starts). Between the two it is not clear.
UNCASED_SHARE, CASED_SHARE = 0.01, 0.05
MIN_CASED_ENTRIES = 100  # fewer entries with letters (a CJK-only vocabulary): case does not apply
MIN_ROWS = 20            # fewer rows or instances say nothing about a share
SHOWN_UNKNOWN_WORDS = 10

WARNING_PREFIX = "WARNING: "
# What the publish gates' own error already says (nothing read or written): not repeated after it.
SAID_BY_THE_GATES = frozenset({"empty_input", "no_output"})


@dataclasses.dataclass(frozen=True)
class DataWarning:
    """One finding: a stable `code` (for scripts and the scheduler) and a one-line `message`."""

    code: str
    message: str

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


def check(info: dict, found: Optional[List["DataWarning"]] = None) -> List[dict]:
    """Store the run's warnings (`found`, else computed here) in info["warnings"]; with --strict, fail if
    there are any.

    Called by Finalize before info.json is written, so a strict run publishes nothing: no info.json,
    no report, no completion marker.
    """
    found = warnings_for(info) if found is None else found
    info["warnings"] = [warning.to_json() for warning in found]
    if found and (info.get("config") or {}).get("strict"):
        raise BertprepError("--strict: the data gave %d warning%s, so nothing was published: %s"
                            % (len(found), "" if len(found) == 1 else "s",
                               " | ".join(warning.message for warning in found)))
    return info["warnings"]


def lines(info: dict) -> List[str]:
    """The terminal lines for an info.json's warnings, one each."""
    return [WARNING_PREFIX + str(item.get("message") if isinstance(item, dict) else item)
            for item in info.get("warnings") or []]


def warnings_for(info: dict) -> List[DataWarning]:
    """Every rule below, in the order a reader should fix things: input, vocabulary, labels."""
    found: List[DataWarning] = []
    for rule in (_empty_output, _dead_letters, _squad_version, _unknown_tokens, _case, _pretraining_shape,
                 _confusion_mix, _label_skew):
        found.extend(rule(info))
    return found


def vocabulary_case(tokens: Iterable[str]) -> Dict[str, int]:
    """How many vocabulary entries hold letters that have case, and how many an upper-case one.

    Entries in brackets or angle brackets ([CLS], [unused1], <S>) are markers, not text, and `##` is
    WordPiece's continuation mark. Stored in info.json["vocabulary_case"] for the case rule.
    """
    with_letters = with_upper = 0
    for token in tokens:
        if len(token) > 2 and token[0] + token[-1] in ("[]", "<>"):
            continue
        if token.startswith("##"):
            token = token[2:]
        if token.lower() != token.upper():
            with_letters += 1
            if token != token.lower():
                with_upper += 1
    return {"entries_with_letters": with_letters, "entries_with_upper_case": with_upper}


# ---------------------------------------------------------------- the rules


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: int) -> str:
    return format(value, ",")


def _share(part: int, whole: int) -> str:
    return "%.1f%%" % (100.0 * part / whole) if whole else "0%"


def _empty_output(info: dict) -> List[DataWarning]:
    counts = info.get("counts") or {}
    if statistics.READ not in counts:
        return []
    read = _count(counts.get(statistics.READ))
    if read == 0:
        where = (info.get("config") or {}).get("input")
        return [DataWarning("empty_input", "the input holds no records%s: nothing was read"
                            % (" (--input %s)" % where if where else ""))]
    if "records_out" in counts and _count(counts.get("records_out")) == 0:
        return [DataWarning("no_output", "no records were written: all %s inputs were dead-lettered or filtered "
                            "(see dead_letters/)" % _number(read))]
    return []


def _unanswerable_questions(info: dict) -> int:
    """Questions with is_impossible or no answers seen in a SQuAD job's input (0 for other jobs)."""
    if not str(info.get("kind", "")).startswith("squad"):
        return 0
    return _count((info.get("stats") or {}).get("unanswerable_questions"))


def _reads_squad_2_as_1(info: dict) -> bool:
    config = info.get("config") or {}
    return _unanswerable_questions(info) > 0 and not config.get("version_2_with_negative")


def _dead_letter_fix(info: dict, reason: str) -> str:
    """What to change, for the reasons where the input tells; "" when it does not."""
    config = info.get("config") or {}
    if reason == "answer count" and _reads_squad_2_as_1(info):
        return ("the input has %s questions with is_impossible or no answers, as SQuAD 2.0 data does: add "
                "--version-2-with-negative" % _number(_unanswerable_questions(info)))
    if reason == "unknown label" and config.get("labels"):
        return "the data has labels that the given --labels (or --preset) does not list"
    if reason == "missing column":
        return "check the column options (--text-a, --text-b, --label, --header, --field, --column)"
    if reason == "undecodable":
        return "the input is not UTF-8 text"
    return ""


def _dead_letters(info: dict) -> List[DataWarning]:
    counts = info.get("counts") or {}
    read = _count(counts.get(statistics.READ))
    if not read:
        return []
    found = []
    reasons = info.get("dead_letters_by_reason") or {}
    for reason, number in sorted(reasons.items(), key=lambda item: (-_count(item[1]), item[0])):
        number = _count(number)
        if number > DEAD_LETTER_SHARE_LIMIT * read:
            fix = _dead_letter_fix(info, reason)
            found.append(DataWarning("dead_letters", "%s of %s inputs (%s) were dead-lettered as %r (see "
                                     "dead_letters/)%s" % (_number(number), _number(read), _share(number, read),
                                                           reason, ": " + fix if fix else "")))
    return found


def _squad_version(info: dict) -> List[DataWarning]:
    """SQuAD 2.0 data without --version-2-with-negative, when no dead-letter warning said so already."""
    if not _reads_squad_2_as_1(info):
        return []
    reasons = info.get("dead_letters_by_reason") or {}
    read = _count((info.get("counts") or {}).get(statistics.READ))
    if read and _count(reasons.get("answer count")) > DEAD_LETTER_SHARE_LIMIT * read:
        return []  # the dead-letter warning names the fix
    unanswerable = _unanswerable_questions(info)
    effect = ("they are dead-lettered" if (info.get("config") or {}).get("split", "train") == "train"
              else "they are read as answerable questions without a gold answer")
    return [DataWarning("squad_version", "%s questions have is_impossible or no answers, as SQuAD 2.0 data does, "
                        "but --version-2-with-negative is not set, so %s: add --version-2-with-negative"
                        % (_number(unanswerable), effect))]


def _unknown_word_summary(info: dict) -> dict:
    value = (info.get("stats") or {}).get(statistics.UNKNOWN_WORDS)
    return value if isinstance(value, dict) else {}


def format_unknown_words(top, limit: int = SHOWN_UNKNOWN_WORDS) -> str:
    """`“ (8,812), — (2,432)`: the words that became [UNK] with their counts."""
    shown = []
    for item in list(top or [])[:limit]:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            word = str(item[0])
            shown.append("%s (%s)" % (word if len(word) <= 30 else word[:30] + "…", _number(_count(item[1]))))
    return ", ".join(shown)


def _unknown_tokens(info: dict) -> List[DataWarning]:
    rate = (info.get("stats") or {}).get("unk_rate")
    if not isinstance(rate, dict):
        return []
    unk, tokens = _count(rate.get("unk")), _count(rate.get("tokens"))
    if not tokens or unk <= UNK_RATE_LIMIT * tokens:
        return []
    message = "%s of tokens are [UNK] (%s of %s)" % (_share(unk, tokens), _number(unk), _number(tokens))
    words = format_unknown_words(_unknown_word_summary(info).get("top"))
    if words:
        sample = (info.get("stats") or {}).get("unknown_word_sample")
        where = ""
        if isinstance(sample, dict) and _count(sample.get("buckets_capped")):
            where = " in a sample of %s sentences" % _number(_count(sample.get("sentences")))
        message += "; the most frequent words that became [UNK]%s: %s" % (where, words)
    message += ": a vocabulary that does not fit the corpus, or the wrong --lower setting"
    return [DataWarning("unk_rate", message)]


def _case(info: dict) -> List[DataWarning]:
    config = info.get("config") or {}
    case = info.get("vocabulary_case")
    if "lower" not in config or not isinstance(case, dict):
        return []
    letters, upper = _count(case.get("entries_with_letters")), _count(case.get("entries_with_upper_case"))
    if letters < MIN_CASED_ENTRIES:
        return []
    described = "%s of %s entries with letters have an upper-case one" % (_number(upper), _number(letters))
    if config.get("lower") and upper >= CASED_SHARE * letters:
        return [DataWarning("case", "--lower lower-cases the text, but the vocabulary is cased (%s), so its "
                            "upper-case entries are never used: use --no-lower" % described)]
    if not config.get("lower") and upper <= UNCASED_SHARE * letters:
        upper_unknown = _count(_unknown_word_summary(info).get("with_upper_case"))
        if upper_unknown:
            return [DataWarning("case", "--no-lower keeps upper case, but the vocabulary is uncased (%s), so %s "
                                "words with upper-case letters became [UNK]: use --lower"
                                % (described, _number(upper_unknown)))]
    return []


def _pretraining_shape(info: dict) -> List[DataWarning]:
    if info.get("kind") != "pretraining":
        return []
    config = info.get("config") or {}
    counts = info.get("counts") or {}
    stats = info.get("stats") or {}
    found = []
    documents = _count(counts.get("used"))
    instances = _count(counts.get(statistics.RECORDS_OUT))
    passes = max(1, _count(config.get("dupe_factor")) or 1)
    if (config.get("packing", "segment_pair") != "full_sentences" and documents >= MIN_ROWS
            and instances < INSTANCES_PER_DOCUMENT_LIMIT * documents * passes):
        found.append(DataWarning("few_instances", "far fewer instances than documents: %s instances a pass from %s "
                                 "documents; most documents are too short to make an instance"
                                 % (_number(instances // passes), _number(documents))))
    labels = stats.get(statistics.NEXT_SENTENCE_LABELS)
    if config.get("next_sentence", "nsp") == "nsp" and isinstance(labels, dict):
        total = sum(_count(value) for value in labels.values())
        random_next = _count(labels.get("1"))
        if total >= MIN_ROWS and random_next > RANDOM_NEXT_SHARE_LIMIT * total:
            found.append(DataWarning("next_sentence_labels", "%s of next-sentence labels are 1 (random next; the "
                                     "reference makes about 59%%): most documents have one sentence, so B is never "
                                     "the true next sentence. Separate documents, not sentences, by blank lines"
                                     % _share(random_next, total)))
    return found


def _confusion_mix(info: dict) -> List[DataWarning]:
    """A replacement kind of --confusion-mix the confusion sets could not give (its characters had no candidate
    of it): its realized share of the predictions against the requested one. PLOME's mode drops such positions
    by design, so there the shortfall is only in the stats."""
    if info.get("kind") != "pretraining":
        return []
    config = info.get("config") or {}
    stats = info.get("stats") or {}
    realized = stats.get(statistics.CONFUSION_MIX_REALIZED)
    shortfall = stats.get(statistics.CONFUSION_MIX_SHORTFALL) or {}
    if config.get("confusion_masking", "mix") != "mix" or not isinstance(realized, dict):
        return []
    from bertprep.transforms.csc.confusion_masking import parse_mix  # light: no numpy, no Beam

    total = sum(_count(value) for value in realized.values())
    if total < MIN_ROWS:
        return []
    found = []
    for kind, requested in parse_mix(config.get("confusion_mix")).items():
        share = _count(realized.get(kind)) / total
        if _count(shortfall.get(kind)) and requested - share > CONFUSION_MIX_SHORTFALL_POINTS / 100.0:
            found.append(DataWarning("confusion_mix", "--confusion-mix asked %.1f%% %s replacements but the "
                                     "predictions got %.1f%%: %s chosen characters had no %s candidate; give "
                                     "confusion sets that hold them (mask-probs with the %s source) or lower "
                                     "its share" % (100 * requested, kind, 100 * share,
                                                    _number(_count(shortfall.get(kind))), kind,
                                                    "phonetic" if "pinyin" in kind else "glyph")))
    return found


def _label_skew(info: dict) -> List[DataWarning]:
    if info.get("kind") != "classifier":
        return []
    config = info.get("config") or {}
    if config.get("unlabeled") or config.get("label_type", "int") != "int":
        return []
    rows = _count((info.get("counts") or {}).get(statistics.WRITTEN))
    distribution = (info.get("stats") or {}).get(statistics.LABEL_DISTRIBUTION)
    if rows < MIN_ROWS or not isinstance(distribution, dict) or not distribution:
        return []
    label, number = max(((str(name), _count(value)) for name, value in distribution.items()),
                        key=lambda item: (item[1], item[0]))
    if number <= LABEL_SHARE_LIMIT * rows:
        return []
    return [DataWarning("label_skew", "label %r holds %s of %s rows (%s): a model can score that well by always "
                        "answering it; check the --label column" % (label, _number(number), _number(rows),
                                                                   _share(number, rows)))]

