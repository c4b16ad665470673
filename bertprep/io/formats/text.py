"""Plain text: one record a non-blank line."""
from typing import Iterator, Union

from bertprep.io.formats.lines import iter_text_lines
from bertprep.io.records import DeadLetter, Record


def iter_lines(path: str) -> Iterator[Union[Record, DeadLetter]]:
    """Each line that holds more than whitespace, with its 1-based line number; undecodable lines are
    dead letters (blank ones are not inputs, so they are neither records nor dead letters)."""
    for item in iter_text_lines(path):
        if isinstance(item, DeadLetter) or item.value.strip():
            yield item
