"""Chinese spelling-correction (CSC) corpora: each reader yields `CscPair` records (wrong, correct) or dead letters.

Formats people have:
- `tsv`: `wrong<TAB>correct` a line (pycorrector / SIGHAN conversions);
- `faspell`: `num<TAB>wrong<TAB>correct` a line (FASPell's training file; `num` is the error count);
- `jsonl`: one object a line with `source` (wrong) and `target` (correct);
- `sgml`: SIGHAN SGML, either `<SENTENCE><TEXT>..</TEXT><MISTAKE><LOCATION>n</LOCATION><WRONG>..</WRONG>
  <CORRECTION>..</CORRECTION></MISTAKE></SENTENCE>` or the bake-off `<ESSAY><TEXT><PASSAGE id=..>..</PASSAGE>
  </TEXT><MISTAKE id=.. location=..>..</MISTAKE></ESSAY>` layout; locations are 1-based;
- `parallel`: two line-aligned files, one of correct and one of wrong sentences.

Everything streams: a file is read line by line and SGML block by block, never whole. The readers
take iterables of raw lines (bytes, or str) so any opener can feed them; lines are decoded by
bertprep.io.formats.lines like every other format's.
"""
import contextlib
import json
import re
from itertools import zip_longest
from typing import IO, Callable, Iterable, Iterator, Optional, Tuple, Union

from bertprep.io import fs
from bertprep.io.formats.lines import BOM, decode_lines
from bertprep.io.records import DeadLetter, Record

FORMATS = ("tsv", "faspell", "jsonl", "sgml", "parallel")


class CscPair(Record):
    """One sentence pair: a Record whose value is (wrong, correct); `key` is `source:line`."""

    def __init__(self, source: str, line: int, wrong: str, correct: str):
        super().__init__(source, line, (wrong, correct))

    @property
    def wrong(self) -> str:
        return self.value[0]

    @property
    def correct(self) -> str:
        return self.value[1]


# The pair readers' dead letters are io's own; the name stays for the callers that test for it.
CscDeadLetter = DeadLetter

PairOrDeadLetter = Union[CscPair, DeadLetter]


def _decoded_lines(lines: Iterable[Union[bytes, str]], source: str) -> Iterator[tuple]:
    """(line number, text or None, error or None, raw text) for each line; text is None when not UTF-8."""
    for item in decode_lines(lines, source):
        if isinstance(item, DeadLetter):
            yield item.line, None, item.reason, item.record.decode("utf-8", errors="backslashreplace")
        else:
            yield item.line, item.value, None, item.value


def _parse_tsv(text: str) -> tuple:
    fields = text.split("\t")
    if len(fields) != 2:
        raise ValueError(f"bad TSV line: expected 2 tab-separated fields (wrong, correct), found {len(fields)}")
    return fields[0].strip(), fields[1].strip()


def _parse_faspell(text: str) -> tuple:
    fields = text.split("\t")
    if len(fields) != 3:
        raise ValueError(f"bad FASPell line: expected 3 tab-separated fields (num, wrong, correct), found {len(fields)}")
    if not fields[0].strip().lstrip("-").isdigit():
        raise ValueError(f"bad FASPell line: first field {fields[0][:20]!r} is not an error count")
    return fields[1].strip(), fields[2].strip()


def _parse_jsonl(text: str, wrong_field: str = "source", correct_field: str = "target") -> tuple:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"bad JSONL line: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError("bad JSONL line: the JSON value is not an object")
    for name in (wrong_field, correct_field):
        if name not in obj:
            raise ValueError(f"bad JSONL line: missing field {name!r}")
        if not isinstance(obj[name], str):
            raise ValueError(f"bad JSONL line: field {name!r} is not a string")
    return obj[wrong_field].strip(), obj[correct_field].strip()


_LINE_PARSERS = {"tsv": _parse_tsv, "faspell": _parse_faspell, "jsonl": _parse_jsonl}


def iter_line_pairs(lines: Iterable[bytes], source: str, fmt: str) -> Iterator[PairOrDeadLetter]:
    """Pairs from a one-pair-a-line format (`tsv`, `faspell`, `jsonl`); blank lines are skipped."""
    parse = _LINE_PARSERS[fmt]
    for number, text, error, raw in _decoded_lines(lines, source):
        if error:
            yield DeadLetter(source, number, error, raw)
            continue
        if not text.strip():
            continue
        try:
            wrong, correct = parse(text)
        except ValueError as exc:
            yield DeadLetter(source, number, str(exc), text)
            continue
        yield CscPair(source, number, wrong, correct)


def iter_parallel_pairs(correct_lines: Iterable[bytes], wrong_lines: Iterable[bytes],
                        correct_source: str, wrong_source: str) -> Iterator[PairOrDeadLetter]:
    """Pairs from two line-aligned files; the pair's key is the correct file's name and line."""
    correct_iter = _decoded_lines(correct_lines, correct_source)
    wrong_iter = _decoded_lines(wrong_lines, wrong_source)
    for c_item, w_item in zip_longest(correct_iter, wrong_iter):
        if c_item is None or w_item is None:  # one file ran out: the other's non-blank lines are unpaired
            item, source, other, other_kind = ((w_item, wrong_source, correct_source, "correct") if c_item is None
                                               else (c_item, correct_source, wrong_source, "wrong"))
            number, text, _, raw = item
            if text is None or text.strip():
                yield DeadLetter(source, number, f"unpaired line: no line {number} in the {other_kind} file {other}",
                                 raw)
            continue
        number, c_text, c_error, c_raw = c_item
        _, w_text, w_error, w_raw = w_item
        if c_error or w_error:
            which = f"{c_error} (correct file)" if c_error else f"{w_error} (wrong file)"
            yield DeadLetter(correct_source, number, which, w_raw + "\t" + c_raw)
            continue
        c_text, w_text = c_text.strip(), w_text.strip()
        if not c_text and not w_text:
            continue
        if not c_text or not w_text:
            side = "correct" if not c_text else "wrong"
            yield DeadLetter(correct_source, number, f"unpaired line: blank line in the {side} file only", w_text + "\t" + c_text)
            continue
        yield CscPair(correct_source, number, w_text, c_text)


# --- SIGHAN SGML -------------------------------------------------------------------------------------

_BLOCK_OPEN = re.compile(r"<(SENTENCE|ESSAY)\b[^>]*>")
_TEXT = re.compile(r"<TEXT>(.*?)</TEXT>", re.S)
_PASSAGE = re.compile(r"<PASSAGE\b([^>]*)>(.*?)</PASSAGE>", re.S)
_MISTAKE = re.compile(r"<MISTAKE\b([^>]*)>(.*?)</MISTAKE>", re.S)
_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_FIELD = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.S) for name in ("LOCATION", "WRONG", "CORRECTION")}


def _sgml_blocks(lines: Iterable[bytes], source: str) -> Iterator[tuple]:
    """(first line number, block text or None, error) for each <SENTENCE> or <ESSAY> block."""
    block: Optional[list] = None
    start = 0
    close_tag = ""
    for number, text, error, raw in _decoded_lines(lines, source):
        if error:
            # An undecodable line spoils the block it is in (or is reported alone outside blocks).
            yield number, None, error, raw
            if block is not None:
                block = None
            continue
        if block is None:
            match = _BLOCK_OPEN.search(text)
            if not match:
                if text.strip() and not text.strip().startswith("<?") and not re.fullmatch(r"\s*</?\w+[^>]*>\s*", text):
                    yield number, None, "bad SGML: text outside a <SENTENCE> or <ESSAY> block", text
                continue
            block, start, close_tag = [text[match.start():]], number, f"</{match.group(1)}>"
        else:
            block.append(text)
        if close_tag in block[-1]:
            yield start, "\n".join(block), None, None
            block = None
    if block is not None:
        yield start, None, f"bad SGML: unterminated block, no {close_tag} before the end of the file", "\n".join(block)


def _apply_mistakes(text: str, mistakes: list) -> str:
    """The corrected text: each (1-based location, wrong, correction) checked, then applied right to left."""
    for location, wrong, correction in mistakes:
        if location < 1 or location + len(wrong) - 1 > len(text):
            raise ValueError(f"SGML mistake mismatch: LOCATION {location} outside the text of {len(text)} characters")
        found = text[location - 1:location - 1 + len(wrong)]
        if found != wrong:
            raise ValueError(f"SGML mistake mismatch: LOCATION {location} holds {found!r}, not the WRONG text {wrong!r}")
    corrected = text
    seen = set()
    for location, wrong, correction in sorted(mistakes, key=lambda m: m[0], reverse=True):
        if location in seen:
            continue  # the same mistake listed twice
        seen.add(location)
        corrected = corrected[:location - 1] + correction + corrected[location - 1 + len(wrong):]
    return corrected


def _parse_mistake(attrs: str, body: str) -> tuple:
    attributes = dict(_ATTR.findall(attrs))
    fields = {name: pattern.search(body) for name, pattern in _FIELD.items()}
    if fields["WRONG"] is None or fields["CORRECTION"] is None:
        raise ValueError("bad SGML: MISTAKE without WRONG or CORRECTION")
    location_text = fields["LOCATION"].group(1) if fields["LOCATION"] else attributes.get("location")
    if location_text is None or not location_text.strip().isdigit():
        raise ValueError(f"bad SGML: MISTAKE with a missing or non-numeric LOCATION {location_text!r}")
    return (attributes.get("id"), int(location_text.strip()),
            fields["WRONG"].group(1).strip(), fields["CORRECTION"].group(1).strip())


def _pairs_from_block(block: str, source: str, line: int) -> Iterator[PairOrDeadLetter]:
    text_match = _TEXT.search(block)
    if text_match is None:
        yield DeadLetter(source, line, "bad SGML: block without <TEXT>", block)
        return
    try:
        mistakes = [_parse_mistake(attrs, body) for attrs, body in _MISTAKE.findall(block)]
    except ValueError as exc:
        yield DeadLetter(source, line, str(exc), block)
        return
    passages = _PASSAGE.findall(text_match.group(1))
    if not passages:
        # One sentence per block; mistake ids, if any, are ignored.
        wrong = text_match.group(1).strip()
        try:
            correct = _apply_mistakes(wrong, [m[1:] for m in mistakes])
        except ValueError as exc:
            yield DeadLetter(source, line, str(exc), block)
            return
        yield CscPair(source, line, wrong, correct)
        return
    # Essay layout: mistakes name their passage by id; each passage is one pair keyed line#index.
    by_passage = {}
    for passage_id, location, wrong, correction in mistakes:
        by_passage.setdefault(passage_id, []).append((location, wrong, correction))
    known = set()
    for index, (attrs, passage_text) in enumerate(passages):
        passage_id = dict(_ATTR.findall(attrs)).get("id")
        known.add(passage_id)
        wrong = passage_text.strip()
        pair_line = line + index  # distinct key per passage within the essay block
        try:
            correct = _apply_mistakes(wrong, by_passage.get(passage_id, []))
        except ValueError as exc:
            yield DeadLetter(source, pair_line, f"{exc} (passage {passage_id})", passage_text)
            continue
        yield CscPair(source, pair_line, wrong, correct)
    for passage_id in by_passage:
        if passage_id not in known:
            yield DeadLetter(source, line, f"bad SGML: MISTAKE names passage {passage_id!r}, which the essay lacks", block)


def iter_sgml_pairs(lines: Iterable[bytes], source: str) -> Iterator[PairOrDeadLetter]:
    """Pairs from SIGHAN SGML; a block whose mistakes do not match its text is dead-lettered whole."""
    for line, block, error, raw in _sgml_blocks(lines, source):
        if error:
            yield DeadLetter(source, line, error, raw or "")
            continue
        yield from _pairs_from_block(block, source, line)


# --- format detection and dispatch ---------------------------------------------------------------------

def detect_format(path: str, first_line: Optional[str]) -> str:
    """Guess a file's format from its name, then from its first non-blank line."""
    lowered = path.lower()
    for suffix in (".gz",):
        if lowered.endswith(suffix):
            lowered = lowered[: -len(suffix)]
    if lowered.endswith((".sgml", ".sgm", ".xml")):
        return "sgml"
    if lowered.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if first_line is None:
        return "tsv"
    stripped = first_line.lstrip(BOM).strip()
    if stripped.startswith("<"):
        return "sgml"
    if stripped.startswith("{"):
        return "jsonl"
    fields = stripped.split("\t")
    if len(fields) == 3 and fields[0].strip().isdigit():
        return "faspell"
    return "tsv"


def iter_pairs(lines: Iterable[bytes], source: str, fmt: str) -> Iterator[PairOrDeadLetter]:
    """Pairs from one file in a one-file format."""
    if fmt == "sgml":
        return iter_sgml_pairs(lines, source)
    if fmt in _LINE_PARSERS:
        return iter_line_pairs(lines, source, fmt)
    raise ValueError(f"unknown CSC format {fmt!r}; expected one of {', '.join(FORMATS)}")


@contextlib.contextmanager
def _file_lines(path: str):
    """The raw lines of a file through bertprep.io.fs (local or remote, decompressed by extension)."""
    handle = fs.open_read(path)
    try:
        yield iter(handle.readline, b"")
    finally:
        handle.close()


def iter_file_pairs(path: str, fmt: Optional[str] = None,
                    opener: Callable[[str], IO[bytes]] = None) -> Iterator[PairOrDeadLetter]:
    """Pairs from one file (opened through bertprep.io.fs, or by `opener`: a context manager of raw
    lines); the format is detected from the name and first non-blank line when `fmt` is None or 'auto'."""
    opener = opener or _file_lines
    if fmt in (None, "auto"):
        with opener(path) as handle:
            first = None
            for raw in handle:
                candidate = raw.decode("utf-8", errors="replace")
                if candidate.strip():
                    first = candidate
                    break
        fmt = detect_format(path, first)
    with opener(path) as handle:
        yield from iter_pairs(handle, path, fmt)


def iter_parallel_files(correct_path: str, wrong_path: str) -> Iterator[PairOrDeadLetter]:
    """Pairs from two line-aligned files (through bertprep.io.fs); keyed by the correct file's lines."""
    with _file_lines(correct_path) as correct_lines, _file_lines(wrong_path) as wrong_lines:
        yield from iter_parallel_pairs(correct_lines, wrong_lines, correct_path, wrong_path)


def iter_source(source: Tuple[str, Union[str, Tuple[str, str]]]) -> Iterator[PairOrDeadLetter]:
    """One input of a job: `("parallel", (correct path, wrong path))` or `(format or "auto", path)`."""
    fmt, paths = source
    if fmt == "parallel":
        yield from iter_parallel_files(*paths)
    else:
        yield from iter_file_pairs(paths, fmt)
