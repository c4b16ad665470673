"""Readers shared by every job: plain text, documents, JSONL, CSV/TSV and Parquet.

Each reader is a generator over one file that yields `Record`s, and `DeadLetter`s for what it cannot
read (undecodable bytes, bad JSON, missing columns), so a bad line never stops a run and never
disappears: it ends in the dead-letter output with the file name, line number and reason.
Files are opened through Beam's FileSystems, so local paths and `gs://` behave alike, and
`.gz`/`.bz2` files are decompressed by their extension.
"""
import bz2
import csv
import dataclasses
import gzip
import io
import json
import zlib
from typing import Dict, Iterator, List, Optional, Union

from bertprep.errors import BertprepError

BOM = "\ufeff"
# Dead-letter copies of huge lines are cut to this many characters; the reason says so.
MAX_DEAD_LETTER_CHARS = 10_000
# Longest CSV/TSV cell accepted (the csv module's default is 128 KiB); longer rows are dead-lettered.
MAX_FIELD_CHARS = 64 << 20


@dataclasses.dataclass(frozen=True)
class Record:
    """One input record. `key` is stable across runs and workers: it seeds per-record randomness."""

    source: str
    line: int
    value: object

    @property
    def key(self) -> str:
        return "%s:%d" % (self.source, self.line)


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """An input that did not become output, with the reason why."""

    source: str
    line: int
    reason: str
    record: object = None

    def to_json(self) -> dict:
        record = self.record
        if isinstance(record, bytes):
            record = record.decode("utf-8", errors="backslashreplace")
        if isinstance(record, str) and len(record) > MAX_DEAD_LETTER_CHARS:
            record = record[:MAX_DEAD_LETTER_CHARS] + "…[cut from %d characters]" % len(record)
        return {"source": self.source, "line": self.line, "reason": self.reason, "record": record}

    @property
    def reason_kind(self) -> str:
        """The reason without its details, for counting dead letters by kind."""
        return self.reason.split(":")[0]


class _Decompressed(io.BufferedReader):
    """gzip/bz2 over a raw Beam file, closing both. Unlike Beam's own decompressing reader, Python's
    raises on a truncated stream (EOFError) instead of ending quietly, so no input is silently lost."""

    def __init__(self, raw, decompressor):
        super().__init__(decompressor)
        self._raw = raw

    def close(self):
        try:
            super().close()
        finally:
            self._raw.close()


def open_binary(path: str):
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    try:
        if path.lower().endswith((".gz", ".bz2")):
            raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
            decompressor = gzip.GzipFile(fileobj=raw, mode="rb") if path.lower().endswith(".gz") \
                else bz2.BZ2File(raw, mode="rb")
            return _Decompressed(raw, decompressor)
        return FileSystems.open(path)
    except (OSError, IOError) as error:
        raise BertprepError("cannot open %s: %s" % (path, error)) from None


def _raw_lines(path: str) -> Iterator[bytes]:
    handle = open_binary(path)
    number = 0
    try:
        # Beam's file objects support readline; wrap them so iteration is buffered.
        lines = io.BufferedReader(handle) if not hasattr(handle, "readline") else iter(handle.readline, b"")
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


def decode_line(path: str, number: int, raw: bytes) -> Union[Record, DeadLetter]:
    """One raw line (newline included or not) as a Record of text, or a DeadLetter if not UTF-8.

    CRLF endings and a BOM on line 1 are removed. Every line-based reader goes through here, so all jobs
    agree on what a line is and on the reason they give for one they cannot read.
    """
    raw = raw.rstrip(b"\n")
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return DeadLetter(path, number, "undecodable: invalid UTF-8 at byte %d" % error.start, raw)
    if number == 1 and text.startswith(BOM):
        text = text[1:]
    return Record(path, number, text)


def iter_text_lines(path: str) -> Iterator[Union[Record, DeadLetter]]:
    """Every line of a UTF-8 file with its 1-based number; CRLF and a leading BOM are removed."""
    for number, raw in enumerate(_raw_lines(path), start=1):
        yield decode_line(path, number, raw)


def iter_documents(path: str) -> Iterator[Union[Record, DeadLetter]]:
    """Documents as in create_pretraining_data.py: one sentence a line, a blank line between documents.

    A document's value is its list of non-empty lines; its line number is that of its first line.
    """
    sentences: List[str] = []
    first_line = 0
    for item in iter_text_lines(path):
        if isinstance(item, DeadLetter):
            yield item
            continue
        text = item.value.strip()
        if not text:
            if sentences:
                yield Record(path, first_line, sentences)
                sentences = []
            continue
        if not sentences:
            first_line = item.line
        sentences.append(text)
    if sentences:
        yield Record(path, first_line, sentences)


def iter_jsonl(path: str, field: Optional[str] = None) -> Iterator[Union[Record, DeadLetter]]:
    """One JSON value a line; with `field`, the record is that field of each object."""
    for item in iter_text_lines(path):
        if isinstance(item, DeadLetter):
            yield item
            continue
        if not item.value.strip():
            continue
        try:
            value = json.loads(item.value)
        except ValueError as error:
            yield DeadLetter(path, item.line, "bad JSON: %s" % error, item.value)
            continue
        if field is not None:
            if not isinstance(value, dict) or field not in value:
                yield DeadLetter(path, item.line, "missing field: %r" % field, item.value)
                continue
            value = value[field]
        yield Record(path, item.line, value)


def _resolve_columns(path: str, header: Optional[List[str]], columns: Dict[str, Union[str, int]]):
    """Map logical names to cell indexes; names need a header, integers are 0-based indexes."""
    resolved = {}
    for logical, column in columns.items():
        if column is None:
            continue
        if isinstance(column, int) or (isinstance(column, str) and column.isdigit()):
            resolved[logical] = int(column)
        elif header is None:
            raise BertprepError("%s: column %r is a name but the file has no header (use an index)" % (path, column))
        elif column not in header:
            raise BertprepError("%s: no column %r in the header %s" % (path, column, header))
        else:
            resolved[logical] = header.index(column)
    return resolved


def iter_table(path: str, columns: Dict[str, Union[str, int]], delimiter: str = "\t",
               header: bool = True) -> Iterator[Union[Record, DeadLetter]]:
    """Rows of a CSV/TSV file as {logical_name: cell}. TSV has no quoting, as in run_classifier.py."""
    good_lines = []
    dead = []
    last_text = [None]

    def decoded_lines():
        for item in iter_text_lines(path):
            if isinstance(item, DeadLetter):
                dead.append(item)
                continue
            good_lines.append(item.line)
            last_text[0] = item.value
            yield item.value + "\n"

    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    if csv.field_size_limit() < MAX_FIELD_CHARS:  # the default 128 KiB stops at one long document
        csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(decoded_lines(), delimiter=delimiter, quoting=quoting)
    resolved = None
    header_row = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:  # a bare CR inside a line, an over-long field: that row, not the run
            while dead:
                yield dead.pop(0)
            line = good_lines[reader.line_num - 1] if 0 < reader.line_num <= len(good_lines) else reader.line_num
            yield DeadLetter(path, line, "bad row: %s" % error, last_text[0])
            continue
        while dead:
            yield dead.pop(0)
        line = good_lines[reader.line_num - 1] if reader.line_num - 1 < len(good_lines) else reader.line_num
        if header and header_row is None:
            header_row = [cell.lstrip(BOM) for cell in row]
            continue
        if resolved is None:
            resolved = _resolve_columns(path, header_row, columns)
        if not row or all(not cell.strip() for cell in row):
            continue
        missing = [name for name, index in resolved.items() if index >= len(row)]
        if missing:
            yield DeadLetter(path, line, "missing column: %s (row has %d fields)" % (", ".join(missing), len(row)),
                             delimiter.join(row))
            continue
        yield Record(path, line, {name: row[index] for name, index in resolved.items()})
    while dead:
        yield dead.pop(0)


def iter_parquet(path: str, columns: Optional[List[str]] = None) -> Iterator[Union[Record, DeadLetter]]:
    """Rows of a Parquet file as dicts; the line number is the 1-based row number."""
    import pyarrow.parquet as parquet

    handle = open_binary(path)
    try:
        try:
            table_file = parquet.ParquetFile(handle)
        except Exception as error:  # pyarrow raises several types for a file that is not Parquet
            raise BertprepError("%s is not a readable Parquet file: %s" % (path, error)) from None
        available = table_file.schema_arrow.names
        for column in columns or []:
            if column not in available:
                raise BertprepError("%s: no column %r (columns: %s)" % (path, column, ", ".join(available)))
        row_number = 0
        for batch in table_file.iter_batches(columns=columns):
            for row in batch.to_pylist():
                row_number += 1
                yield Record(path, row_number, row)
    finally:
        handle.close()


FORMATS = ("text", "documents", "jsonl", "tsv", "csv", "parquet")


def guess_format(path: str, default: str = "text") -> str:
    name = path.lower()
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for extension, fmt in ((".jsonl", "jsonl"), (".json", "jsonl"), (".tsv", "tsv"), (".csv", "csv"),
                           (".parquet", "parquet")):
        if name.endswith(extension):
            return fmt
    return default


def iter_file(path: str, fmt: str, field: Optional[str] = None, columns: Optional[dict] = None,
              header: bool = True) -> Iterator[Union[Record, DeadLetter]]:
    """Dispatch to the reader for `fmt`."""
    if fmt == "text":
        return (item for item in iter_text_lines(path)
                if isinstance(item, DeadLetter) or item.value.strip())
    if fmt == "documents":
        return iter_documents(path)
    if fmt == "jsonl":
        return iter_jsonl(path, field)
    if fmt in ("tsv", "csv"):
        return iter_table(path, columns or {"text": 0}, "\t" if fmt == "tsv" else ",", header)
    if fmt == "parquet":
        return iter_parquet(path, list(columns.values()) if columns else None)
    raise BertprepError("unknown input format %r (known: %s)" % (fmt, ", ".join(FORMATS)))
