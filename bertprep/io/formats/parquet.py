"""Parquet: one record a row, streamed batch by batch (pyarrow is imported only when a file is read)."""
from typing import Iterator, List, Optional, Union

from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.io.records import DeadLetter, Record


def iter_parquet(path: str, columns: Optional[List[str]] = None) -> Iterator[Union[Record, DeadLetter]]:
    """Rows as dicts (only `columns`, when given); the line number is the 1-based row number. A file
    that is not Parquet, or lacks a column asked for, is an error naming the file: every row would fail."""
    import pyarrow.parquet as parquet

    handle = fs.open_read(path)
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
