"""Transitional: the readers now live in bertprep.io.formats (one module a format) and bertprep.io.fs.

Kept so the pipelines rewritten in parallel with issue #15 keep importing `bertprep.io.readers`;
delete once every caller imports from bertprep.io.formats, bertprep.io.records and bertprep.io.fs.
"""
from bertprep.io.formats import FORMATS, guess_format, iter_file
from bertprep.io.formats.documents import iter_documents
from bertprep.io.formats.jsonl import iter_jsonl
from bertprep.io.formats.lines import BOM, decode_line, iter_text_lines
from bertprep.io.formats.parquet import iter_parquet
from bertprep.io.formats.table import MAX_FIELD_CHARS, iter_table
from bertprep.io.fs import open_read as open_binary
from bertprep.io.records import MAX_DEAD_LETTER_CHARS, DeadLetter, Record

__all__ = ["BOM", "DeadLetter", "FORMATS", "MAX_DEAD_LETTER_CHARS", "MAX_FIELD_CHARS", "Record", "decode_line",
           "guess_format", "iter_documents", "iter_file", "iter_jsonl", "iter_parquet", "iter_table",
           "iter_text_lines", "open_binary"]
