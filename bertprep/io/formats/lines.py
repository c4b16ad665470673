"""The one line decoder: raw bytes of a line → text, or a dead letter naming the line and the bad byte.

Every line-based format (text, documents, jsonl, table, conll, the CSC pair formats, confusion files)
and the `tokenize` command go through here, so all agree on what a line is: LF-separated, a CRLF
ending and a BOM on line 1 removed, UTF-8 or a dead letter `undecodable: invalid UTF-8 at byte N`.
"""
import zlib
from typing import Iterable, Iterator, Union

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.io.records import DeadLetter, Record

BOM = "\ufeff"
UNDECODABLE = "undecodable"


def strip_line_ending(raw: bytes) -> bytes:
    """The line without its LF, or CRLF, ending."""
    raw = raw.rstrip(b"\n")
    return raw[:-1] if raw.endswith(b"\r") else raw


def decode_line(source: str, number: int, raw: Union[bytes, str]) -> Union[Record, DeadLetter]:
    """One raw line (ending included or not) as a Record of its text, or a DeadLetter if it is not UTF-8.

    The dead letter's record is the line's bytes, so the dead-letter file shows them (backslash-escaped).
    """
    if isinstance(raw, str):  # lines already decoded by the caller (tests, in-memory sources)
        text = raw.rstrip("\n")
        text = text[:-1] if text.endswith("\r") else text
    else:
        raw = strip_line_ending(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return DeadLetter(source, number, "%s: invalid UTF-8 at byte %d" % (UNDECODABLE, error.start), raw)
    if number == 1 and text.startswith(BOM):
        text = text[1:]
    return Record(source, number, text)


def decode_lines(lines: Iterable[Union[bytes, str]], source: str) -> Iterator[Union[Record, DeadLetter]]:
    """Every line of an iterable of raw lines, numbered from 1, through `decode_line`."""
    for number, raw in enumerate(lines, start=1):
        yield decode_line(source, number, raw)


def raw_lines(path: str) -> Iterator[bytes]:
    """The raw lines of a file (local or remote, decompressed by extension), closed when exhausted.

    A truncated or corrupt compressed file is an error naming the file and the last good line.
    """
    handle = fs.open_read(path)
    number = 0
    try:
        lines = iter(handle.readline, b"")
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                return
            except (EOFError, OSError, zlib.error) as error:  # truncated or corrupt compressed input
                raise BertprepError("%s: truncated or corrupt compressed file after line %d (%s)"
                                    % (path, number, error)) from None
            number += 1
            yield raw
    finally:
        handle.close()


def iter_text_lines(path: str) -> Iterator[Union[Record, DeadLetter]]:
    """Every line of a UTF-8 file with its 1-based number; CRLF and a leading BOM are removed."""
    return decode_lines(raw_lines(path), path)
