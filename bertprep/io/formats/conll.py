"""CoNLL-style tagging files: `token ... tag` lines, a blank line between sentences."""
from typing import Iterator, Union

from bertprep.io.formats.documents import iter_documents
from bertprep.io.records import DeadLetter, Record

DOCUMENT_MARKER = "-DOCSTART-"


def iter_conll_file(path: str) -> Iterator[Union[Record, DeadLetter]]:
    """Sentences: Records whose value is the list of the sentence's lines, numbered by its first line.

    Lines starting with `-DOCSTART-` (CoNLL 2003 document markers) are not sentences and are skipped;
    splitting a line into token and tag is the job's (transforms/finetune/tagging_features.parse_conll).
    """
    for item in iter_documents(path):
        if isinstance(item, Record):
            lines = [line for line in item.value if not line.startswith(DOCUMENT_MARKER)]
            if not lines:
                continue
            item = Record(item.source, item.line, lines)
        yield item
