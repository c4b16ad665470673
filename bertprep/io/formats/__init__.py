"""Input formats, one module each; every reader yields `Record | DeadLetter` (bertprep.io.records).

Beam-free: local files are read with the standard library (bertprep.io.fs imports Beam only for a
remote path), so the pure transforms may read through here. This module picks a reader by format
and names the readers every job uses, so `from bertprep.io import formats` is the one import a caller needs.
"""
from typing import Iterator, Optional, Union

from bertprep.errors import BertprepError
from bertprep.io.formats.documents import iter_documents
from bertprep.io.formats.jsonl import iter_jsonl
from bertprep.io.formats.lines import BOM, decode_line, decode_lines, iter_text_lines
from bertprep.io.formats.parquet import iter_parquet  # pyarrow itself is imported when a file is read
from bertprep.io.formats.table import MAX_FIELD_CHARS, iter_table
from bertprep.io.formats.text import iter_lines
from bertprep.io.records import MAX_DEAD_LETTER_CHARS, DeadLetter, Record

__all__ = ["BOM", "DeadLetter", "FORMATS", "MAX_DEAD_LETTER_CHARS", "MAX_FIELD_CHARS", "Record", "decode_line",
           "decode_lines", "guess_format", "iter_documents", "iter_file", "iter_jsonl", "iter_lines", "iter_parquet",
           "iter_table", "iter_text_lines"]

FORMATS = ("text", "documents", "jsonl", "tsv", "csv", "parquet")
_EXTENSIONS = ((".jsonl", "jsonl"), (".json", "jsonl"), (".tsv", "tsv"), (".csv", "csv"), (".parquet", "parquet"))


def guess_format(path: str, default: str = "text") -> str:
    """The format a file's name says (a `.gz`/`.bz2` suffix looked through); `default` otherwise."""
    name = path.lower()
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for extension, fmt in _EXTENSIONS:
        if name.endswith(extension):
            return fmt
    return default


def iter_file(path: str, fmt: str, field: Optional[str] = None, columns: Optional[dict] = None,
              header: bool = True) -> Iterator[Union[Record, DeadLetter]]:
    """The records of one file in `fmt`: `field` picks a JSONL field, `columns` ({logical: name or
    index}) the table or Parquet columns, `header` whether a table starts with one."""
    if fmt == "text":
        return iter_lines(path)
    if fmt == "documents":
        return iter_documents(path)
    if fmt == "jsonl":
        return iter_jsonl(path, field)
    if fmt in ("tsv", "csv"):
        return iter_table(path, columns or {"text": 0}, "\t" if fmt == "tsv" else ",", header)
    if fmt == "parquet":
        return iter_parquet(path, list(columns.values()) if columns else None)
    raise BertprepError("unknown input format %r (known: %s)" % (fmt, ", ".join(FORMATS)))
