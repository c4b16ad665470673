"""Documents as create_pretraining_data.py reads them: one sentence a line, a blank line between documents."""
from typing import Iterator, List, Union

from bertprep.io.formats.lines import iter_text_lines
from bertprep.io.records import DeadLetter, Record


def iter_documents(path: str) -> Iterator[Union[Record, DeadLetter]]:
    """A document's value is its list of non-empty (stripped) lines; its line number is that of its
    first line. An undecodable line is a dead letter and does not end the document around it."""
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
