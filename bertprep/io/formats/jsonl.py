"""JSON Lines: one JSON value a line."""
import json
from typing import Iterator, Optional, Union

from bertprep.io.formats.lines import iter_text_lines
from bertprep.io.records import DeadLetter, Record


def iter_jsonl(path: str, field: Optional[str] = None) -> Iterator[Union[Record, DeadLetter]]:
    """Each non-blank line's JSON value; with `field`, that field of each object (a line without it is
    a dead letter, as is a line that is not JSON)."""
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
