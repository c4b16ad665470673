"""Confusion-set files: the one reader behind `mask-probs --confusion-file` and `pretraining --confusion-sets`.

Layouts (`colon`, `tab`, `comma`, `space` are detected from a file's first data line; `groups` is named):
- `colon`: `char:candidates`, the candidates a run of characters (Wang et al. 2018's OCR/ASR set);
- `tab`: `char<TAB>candidates[<TAB>candidates ...]`, each field a run of characters or a space-separated
  list (the SIGHAN 2013 bake-off's similar-pronunciation set, pycorrector's and PLOME's `same_pinyin.txt`
  and `simi_pinyin.txt`);
- `comma`: `char,candidates` with one run (SIGHAN 2013's similar-shape set) or `char,c1,c2,...` with one
  character an item: the first character is the key;
- `space`: `char candidates` or `char c1 c2 ...`, as `comma`;
- `groups`: comma-separated groups of look-alike characters (PLOME's `same_stroke.txt`): every member's
  candidates are the whole group, itself included. A file in this layout reads like `comma`, so it is
  never guessed: name it.
Inside a run, spaces, commas (ASCII or full-width) and `、` also separate. Lines starting with `#` are
comments; a first line whose first field is longer than one character is a header (`中文字<TAB>同音同調...`).

Each data line gives entries (`ConfusionEntry`, one per key; a `groups` line one per member) or one dead
letter with the file, line and reason (not UTF-8, no separator, a key that is not one character, an item of
a separated list longer than one character, a candidate that is not a letter or digit, no candidates):
a line is taken as its file says or not at all. Files are opened through bertprep.io.fs, so gs:// paths
and .gz files work.
"""
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from bertprep.io import fs
from bertprep.io.formats.lines import decode_lines
from bertprep.io.records import DeadLetter

DETECTED_LAYOUTS = ("colon", "tab", "comma", "space")
LAYOUTS = DETECTED_LAYOUTS + ("groups",)
SOURCE_PREFIX = "external:"
_KEY_SEPARATORS = {":": "colon", "\uff1a": "colon", "\t": "tab", ",": "comma", "\uff0c": "comma", " ": "space",
                   "\u3000": "space"}
_ITEM_SEPARATORS = re.compile(r"[\s,\uff0c\u3001:\uff1a]+")
_LAYOUT_SEPARATOR = {"colon": re.compile(r"\s*[:\uff1a]\s*"), "tab": re.compile(r"\t"),
                     "comma": re.compile(r"\s*[,\uff0c]\s*"), "space": re.compile(r"[ \u3000]+")}
_LAYOUT_EXAMPLE = {"colon": "char:candidates", "tab": "char<TAB>candidates", "comma": "char,candidates",
                   "space": "char candidates", "groups": "char,char,..."}


@dataclass(frozen=True)
class ConfusionEntry:
    """One key of a confusion file and its candidates in the file's order, without the key itself;
    `includes_self` says whether the file listed the key among its own candidates (a `groups` line always
    does), which PLOME's masking keeps as a possible replacement."""

    source: str
    line: int
    char: str
    candidates: Tuple[str, ...]
    includes_self: bool = False


EntryOrDeadLetter = Union[ConfusionEntry, DeadLetter]


def source_name(path: str) -> str:
    """`external:<file name>`: the name the file's candidates carry in mask-probs' `source` column."""
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


def _first_field(text: str) -> str:
    return _ITEM_SEPARATORS.split(text.strip(), maxsplit=1)[0]


def is_header(number: int, text: str) -> bool:
    """A first line naming its columns (`中文字<TAB>同音同調...`): its first field is not one character."""
    return number == 1 and len(_first_field(text)) > 1


def detect_layout(text: str) -> Optional[str]:
    """The layout of a data line from the separator right after its key; None if there is none."""
    stripped = text.strip()
    if len(stripped) < 2:
        return None
    return _KEY_SEPARATORS.get(stripped[1])


def _is_character(candidate: str) -> bool:
    return unicodedata.category(candidate)[0] in "LN"


def _characters(items: Sequence[str], layout: str, runs: bool) -> List[str]:
    """The characters of a line's items, each checked; runs are split into characters."""
    if not runs:
        for item in items:
            if len(item) != 1:
                raise ValueError(f"the item {item[:20]!r} of a {layout}-separated list is {len(item)} characters, "
                                 "expected one")
    characters = []
    for item in items:
        for char in item:
            if not _is_character(char):
                raise ValueError(f"candidate U+{ord(char):04X} is not a letter or digit")
            characters.append(char)
    return characters


def _unique(chars: Iterable[str], leave_out: str = "") -> Tuple[str, ...]:
    seen, result = set(leave_out), []
    for char in chars:
        if char not in seen:
            seen.add(char)
            result.append(char)
    return tuple(result)


def parse_line(text: str, layout: str) -> Optional[Tuple[str, Tuple[str, ...], bool]]:
    """(key, candidates without the key, whether the key was among them) of one keyed data line; None for a
    key followed by its separator and nothing (PLOME's `旗<TAB>`: no candidates of that kind); ValueError
    with the reason for a bad one."""
    body = text.lstrip().rstrip("\r\n")
    if len(body) > 1 and not body[1:].strip() and _KEY_SEPARATORS.get(body[1]) == layout:
        return None
    parts = _LAYOUT_SEPARATOR[layout].split(text.strip(), maxsplit=1)
    if len(parts) != 2:
        raise ValueError(f"no {layout} separator after the key (expected {_LAYOUT_EXAMPLE[layout]})")
    key, rest = parts[0].strip(), parts[1].strip()
    if len(key) != 1:
        raise ValueError(f"the key {key[:20]!r} is {len(key)} characters, expected one")
    items = [item for item in _ITEM_SEPARATORS.split(rest) if item]
    # A tab field may be a space-separated list (PLOME) or a run (SIGHAN): both read as characters.
    chars = _characters(items, layout, runs=layout in ("colon", "tab") or len(items) <= 1)
    if not _is_character(key):
        raise ValueError(f"the key U+{ord(key):04X} is not a letter or digit")
    candidates = _unique(chars, leave_out=key)
    if not candidates:
        raise ValueError("no candidates besides the key itself")
    return key, candidates, key in chars


def parse_group(text: str) -> Tuple[str, ...]:
    """The members of one `groups` line, in order, repeats dropped; ValueError for a bad one."""
    items = [item for item in _ITEM_SEPARATORS.split(text.strip()) if item]
    members = _unique(_characters(items, "comma", runs=False))
    if len(members) < 2:
        raise ValueError("a group of fewer than two characters")
    return members


def _detected_layout(path: str, number: int, text: str) -> str:
    found = detect_layout(text)
    if found is None:
        raise ValueError(f"{path} line {number}: cannot tell the confusion-file layout from "
                         f"{text.strip()[:30]!r} (no ':', TAB, ',' or space after the first character); "
                         f"name the layout ({', '.join(LAYOUTS)})")
    return found


def iter_entries(lines: Iterable[Union[bytes, str]], path: str, layout: Optional[str] = None,
                 source: Optional[str] = None) -> Iterator[EntryOrDeadLetter]:
    """Entries and dead letters of one confusion file's raw lines; `layout` None or 'auto' detects it.

    Detection reads the first data line; a file whose first data line has no known separator after its key
    is an error (ValueError naming the file and line), since every later line would be guessed, and so is a
    file without data lines.
    """
    source = source or source_name(path)
    layout = None if layout in (None, "auto") else layout
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"unknown confusion-file layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    data_lines, header = 0, ""
    for item in decode_lines(lines, path):
        if isinstance(item, DeadLetter):
            yield DeadLetter(path, item.line, f"bad confusion-set line: {item.reason}",
                             item.record.decode("utf-8", errors="backslashreplace"))
            continue
        number, text = item.line, item.value
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if is_header(number, text):
            header = f": line 1 ({text.strip()[:30]!r}) reads as a column header"
            continue
        data_lines += 1
        if layout is None:
            layout = _detected_layout(path, number, text)
        try:
            if layout == "groups":
                members = parse_group(text)
                entries = [ConfusionEntry(source, number, member, tuple(m for m in members if m != member), True)
                           for member in members]
            else:
                parsed = parse_line(text, layout)
                entries = [ConfusionEntry(source, number, *parsed)] if parsed else []
        except ValueError as exc:
            yield DeadLetter(path, number, f"bad confusion-set line: {exc}", text)
            continue
        yield from entries
    if not data_lines:  # an empty set given on purpose is unlikely; a wrong file or a swallowed header is not
        raise ValueError(f"{path} holds no confusion-set lines (only blank, comment or header lines){header}")


def iter_file(path: str, layout: Optional[str] = None, source: Optional[str] = None) -> Iterator[EntryOrDeadLetter]:
    """Entries and dead letters of one confusion file (local or gs://, .gz/.bz2 decompressed)."""
    with fs.open_read(path) as handle:
        yield from iter_entries(iter(handle.readline, b""), path, layout, source)
