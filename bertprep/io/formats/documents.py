"""Documents as create_pretraining_data.py reads them: one sentence a line, a blank line between documents."""
from typing import Iterator, List, Union

from bertprep.io import fs
from bertprep.io.formats.lines import BOM, decode_line, iter_text_lines
from bertprep.io.records import DeadLetter, Record

SPAN = "span"  # the value tag of a document given as a byte range


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


def iter_document_spans(path: str):
    """Documents of a local text file as byte ranges: Record(value=("span", start, end)) or DeadLetter.

    Local runs hold a GroupByKey in memory (FnApiRunner), so shuffling byte ranges instead of text keeps
    a run's memory nearly flat as the corpus grows; the bucket re-reads its documents by offset. Keys,
    line numbers and dead letters are those of iter_documents.
    """
    start = None
    first = end = offset = 0
    with fs.open_read(path, decompress=False) as handle:
        for number, raw in enumerate(handle, start=1):
            line_start = offset
            offset += len(raw)
            line = decode_line(path, number, raw)
            if isinstance(line, DeadLetter):
                yield line
                continue
            if not line.value.strip():
                if start is not None:
                    yield Record(path, first, (SPAN, start, end))
                    start = None
                continue
            if start is None:
                start, first = line_start, number
            end = offset
    if start is not None:
        yield Record(path, first, (SPAN, start, end))


def read_span(handles: dict, path: str, start: int, end: int):
    """The sentences of one document span (undecodable lines were dead-lettered when the span was made)."""
    handle = handles.get(path)
    if handle is None:
        handle = handles[path] = fs.open_read(path, decompress=False)
    handle.seek(start)
    sentences = []
    for number, raw in enumerate(handle.read(end - start).split(b"\n")):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if number == 0 and start == 0 and text.startswith(BOM):
            text = text[1:]
        text = text.strip()
        if text:
            sentences.append(text)
    return sentences
