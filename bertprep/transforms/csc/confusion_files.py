"""Existing confusion sets as inputs: the files spelling-correction teams already hold, each a named source.

Layouts (`--confusion-file-format`, or detected per file from its first data line):
- `colon`: `char:candidates`, the candidates a run of characters (Wang et al. 2018's OCR/ASR set);
- `tab`: `char<TAB>candidates[<TAB>candidates ...]`, each field a run of characters (the SIGHAN 2013
  bake-off's similar-pronunciation set, pycorrector's and PLOME's `same_pinyin.txt`);
- `comma`: `char,candidates` with one run (SIGHAN 2013's similar-shape set) or `char,c1,c2,...` with
  one character an item (pycorrector's `same_stroke.txt`);
- `space`: `char candidates` or `char c1 c2 ...`, as `comma`.
Inside a run, spaces, commas (ASCII or full-width) and `、` also separate. Lines starting with `#` are
comments; a first line whose first field is longer than one character is a header (`中文字<TAB>同音同調...`).

A line that cannot be used whole is a dead letter with its file, line and reason (not UTF-8, no
separator, a key that is not one character, an item of a separated list longer than one character,
a candidate that is not a letter or digit, no candidates): a set is taken as its file says or not at all.
The file's name is its source (`external:<file name>`) in the confusion sets' `source` column.
"""
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from bertprep.io.formats.lines import decode_lines
from bertprep.io.records import DeadLetter

FORMATS = ("colon", "tab", "comma", "space")
SOURCE_PREFIX = "external:"
_KEY_SEPARATORS = {":": "colon", "\uff1a": "colon", "\t": "tab", ",": "comma", "\uff0c": "comma", " ": "space"}
_ITEM_SEPARATORS = re.compile(r"[\s,\uff0c\u3001:\uff1a]+")
_LAYOUT_SEPARATOR = {"colon": re.compile(r"\s*[:\uff1a]\s*"), "tab": re.compile(r"\t"),
                     "comma": re.compile(r"\s*[,\uff0c]\s*"), "space": re.compile(r"[ \u3000]+")}


@dataclass(frozen=True)
class ConfusionEntry:
    """One line of a confusion file: a character and its candidates, in the file's order."""

    source: str
    line: int
    char: str
    candidates: Tuple[str, ...]


# A confusion file's dead letters are io's own; the name stays for the callers that test for it.
ConfusionDeadLetter = DeadLetter

EntryOrDeadLetter = Union[ConfusionEntry, DeadLetter]


def source_name(path: str) -> str:
    """`external:<file name>`: the name the file's candidates carry in the `source` column."""
    name = os.path.basename(path.rstrip("/"))
    if name.endswith(".gz"):
        name = name[:-3]
    return SOURCE_PREFIX + name


def check_source_names(paths: Sequence[str]) -> List[str]:
    """The files' source names; ValueError when two files share a name or a name would not survive `+`-joining."""
    names = []
    for path in paths:
        name = source_name(path)
        if "+" in name:
            raise ValueError(f"confusion file {path}: its name holds '+', which joins source names; rename it")
        if name in names:
            raise ValueError(f"two confusion files are named {name[len(SOURCE_PREFIX):]!r} ({path} and another); "
                             "their sources would be indistinguishable, rename one")
        names.append(name)
    return names


def _is_comment(text: str) -> bool:
    return text.lstrip().startswith("#")


def _first_field(text: str) -> str:
    return _ITEM_SEPARATORS.split(text.strip(), maxsplit=1)[0]


def is_header(number: int, text: str) -> bool:
    """A first line naming its columns (`中文字<TAB>同音同調...`): its first field is not one character."""
    return number == 1 and len(_first_field(text)) > 1


def detect_format(text: str) -> Optional[str]:
    """The layout of a data line from the separator right after its key; None if there is none."""
    stripped = text.strip()
    if len(stripped) < 2:
        return None
    return _KEY_SEPARATORS.get(stripped[1]) or ("space" if stripped[1] == "\u3000" else None)


def _is_character(candidate: str) -> bool:
    category = unicodedata.category(candidate)
    return category[0] in "LN"


def parse_line(text: str, fmt: str) -> Tuple[str, Tuple[str, ...]]:
    """(key, candidates) of one data line; ValueError with the reason for a bad one."""
    stripped = text.strip()
    parts = _LAYOUT_SEPARATOR[fmt].split(stripped, maxsplit=1)
    if len(parts) != 2:
        raise ValueError(f"no {fmt} separator after the key (expected {_layout_example(fmt)})")
    key, rest = parts[0].strip(), parts[1].strip()
    if len(key) != 1:
        raise ValueError(f"the key {key[:20]!r} is {len(key)} characters, expected one")
    items = [item for item in _ITEM_SEPARATORS.split(rest) if item]
    runs = fmt in ("colon", "tab") or len(items) <= 1
    if not runs:
        for item in items:
            if len(item) != 1:
                raise ValueError(f"the item {item[:20]!r} of a {fmt}-separated list is {len(item)} characters, "
                                 "expected one")
    candidates: List[str] = []
    seen = {key}
    for item in items:
        for candidate in item:
            if not _is_character(candidate):
                raise ValueError(f"candidate U+{ord(candidate):04X} is not a letter or digit")
            if candidate not in seen:
                seen.add(candidate)
                candidates.append(candidate)
    if not _is_character(key):
        raise ValueError(f"the key U+{ord(key):04X} is not a letter or digit")
    if not candidates:
        raise ValueError("no candidates besides the key itself")
    return key, tuple(candidates)


def _layout_example(fmt: str) -> str:
    return {"colon": "char:candidates", "tab": "char<TAB>candidates", "comma": "char,candidates",
            "space": "char candidates"}[fmt]


def iter_entries(lines: Iterable[Union[bytes, str]], path: str, fmt: Optional[str] = None,
                 source: Optional[str] = None) -> Iterator[EntryOrDeadLetter]:
    """Entries and dead letters of one confusion file; `fmt` None or 'auto' detects the layout.

    Detection reads the first data line; a file whose first data line has no known separator after
    its key is an error (ValueError naming the file and line), since every later line would be guessed,
    and so is a file without data lines.
    """
    source = source or source_name(path)
    fmt = None if fmt in (None, "auto") else fmt
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown confusion-file format {fmt!r}; expected one of {', '.join(FORMATS)}")
    for item in decode_lines(lines, path):
        if isinstance(item, DeadLetter):
            yield DeadLetter(path, item.line, f"bad confusion-set line: {item.reason}",
                             item.record.decode("utf-8", errors="backslashreplace"))
            continue
        number, text = item.line, item.value
        if not text.strip() or _is_comment(text) or is_header(number, text):
            continue
        if fmt is None:
            fmt = detect_format(text)
            if fmt is None:
                raise ValueError(f"{path} line {number}: cannot tell the confusion-file layout from "
                                 f"{text.strip()[:30]!r} (no ':', TAB, ',' or space after the first character); "
                                 f"give --confusion-file-format ({', '.join(FORMATS)})")
        try:
            key, candidates = parse_line(text, fmt)
        except ValueError as exc:
            yield DeadLetter(path, number, f"bad confusion-set line: {exc}", text)
            continue
        yield ConfusionEntry(source, number, key, candidates)
    if fmt is None:  # an empty set given on purpose is unlikely; a wrong file or a swallowed header is not
        raise ValueError(f"{path} holds no confusion-set lines (only blank, comment or header lines)")


class ExternalSets:
    """Every external source's candidates per character: membership and set sizes for the ranker.

    A character listed on several lines of one file gets the union, in file order.
    """

    def __init__(self, names: Sequence[str] = (), entries: Iterable[ConfusionEntry] = ()):
        self.names: List[str] = list(names)
        self._sets: Dict[str, Dict[str, List[str]]] = {name: {} for name in self.names}
        self._frozen: Dict[str, Dict[str, frozenset]] = {}
        for entry in entries:
            self.add(entry.source, entry.char, entry.candidates)

    def add(self, source: str, char: str, candidates: Sequence[str]) -> None:
        if source not in self._sets:
            self.names.append(source)
            self._sets[source] = {}
        current = self._sets[source].setdefault(char, [])
        known = set(current)
        for candidate in candidates:
            if candidate != char and candidate not in known:
                known.add(candidate)
                current.append(candidate)
        self._frozen.pop(source, None)

    def __bool__(self) -> bool:
        return bool(self.names)

    def candidates(self, source: str, char: str) -> List[str]:
        return self._sets.get(source, {}).get(char, [])

    def members(self, source: str, char: str) -> frozenset:
        frozen = self._frozen.setdefault(source, {})
        if char not in frozen:
            frozen[char] = frozenset(self.candidates(source, char))
        return frozen[char]

    def any_candidates(self, char: str) -> List[str]:
        """Candidates of `char` from every source, first seen first."""
        seen, result = set(), []
        for name in self.names:
            for candidate in self.candidates(name, char):
                if candidate not in seen:
                    seen.add(candidate)
                    result.append(candidate)
        return result

    def has(self, char: str) -> bool:
        return any(char in table for table in self._sets.values())

    def sizes(self) -> Dict[str, dict]:
        """Per source: characters with an entry, candidates in all and per character (for info.json)."""
        result = {}
        for name in self.names:
            table = self._sets[name]
            total = sum(len(v) for v in table.values())
            result[name] = {"characters": len(table), "candidates": total,
                            "mean_candidates": round(total / len(table), 2) if table else 0.0}
        return result

    @classmethod
    def from_rows(cls, names: Sequence[str], rows: Iterable[Tuple[str, str, Sequence[str]]]) -> "ExternalSets":
        """From (source, char, candidates) rows (a Beam side input)."""
        sets = cls(names)
        for source, char, candidates in rows:
            sets.add(source, char, candidates)
        return sets

    def as_mapping(self) -> Mapping[str, Mapping[str, List[str]]]:
        return self._sets
