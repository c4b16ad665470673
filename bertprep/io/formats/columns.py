"""Columns of a structured record (a JSONL object or list, a Parquet row) by name or 0-based index.

Worked example: with columns {"text_a": "sentence", "label": 1}, the object {"sentence": "好", "score": 1}
gives {"text_a": "好", "label": 1}: an index into an object counts its keys in file order, as a TSV
column index counts cells. A missing column is a dead letter naming it, not an exception.
"""
from typing import Mapping, Union

from bertprep.io.records import DeadLetter, Record


def pick_columns(record: Record, columns: Mapping[str, Union[str, int]]) -> Union[Record, DeadLetter]:
    """A Record of {logical name: value} for `columns` ({logical name: key or index}), or a DeadLetter."""
    value = record.value
    row = {}
    for name, column in columns.items():
        if isinstance(value, dict):
            keys = list(value)
            key = keys[column] if isinstance(column, int) and -len(keys) <= column < len(keys) else column
            present = key in value
        elif isinstance(value, list):
            key = column
            present = isinstance(column, int) and -len(value) <= column < len(value)
        else:
            return DeadLetter(record.source, record.line, "bad record: expected an object or a list", value)
        if not present:
            return DeadLetter(record.source, record.line, "missing column: %r" % (column,), value)
        row[name] = value[key]
    return Record(record.source, record.line, row)
