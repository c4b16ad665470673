"""CSV and TSV tables: a header (or none) and the columns a job asks for, by name or 0-based index."""
import csv
from typing import Dict, Iterator, List, Optional, Union

from bertprep.errors import BertprepError
from bertprep.io.formats.lines import BOM, iter_text_lines
from bertprep.io.records import DeadLetter, Record

# Longest CSV/TSV cell accepted (the csv module's default is 128 KiB); longer rows are dead-lettered.
MAX_FIELD_CHARS = 64 << 20


def _resolve_columns(path: str, header: Optional[List[str]], columns: Dict[str, Union[str, int]]) -> Dict[str, int]:
    """Logical names → cell indexes; names need a header, integers (or digit strings) are 0-based indexes."""
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
    """Rows as {logical_name: cell}. TSV has no quoting, as in run_classifier.py; CSV quotes as Excel does.

    A row's line number is that of its first physical line (a quoted CSV cell may span lines); a row
    short of a column, or one the csv module rejects, is a dead letter; blank rows are skipped.
    """
    good_lines = []
    dead = []
    last_text = [None]

    def decoded_lines():
        for item in iter_text_lines(path):
            if isinstance(item, DeadLetter):
                dead.append(item)  # yielded in file order, before the row read after it
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
