"""`bertprep tokenize`: one JSON object {"tokens": [...], "ids": [...]} per input line.

Reads UTF-8 lines from stdin or --input (local or gs://; .gz/.bz2 decompressed by their extension, as
every reader does), in batches so memory stays flat, and writes to stdout. A line that is not valid UTF-8 stops the run with a one-line error naming the
line (the lines before it are already written); an empty input writes nothing.
"""
import json
import sys

from bertprep.errors import BertprepError
from bertprep.options.common import TokenizerOptions

COMMAND = "tokenize"
HELP = "tokenize lines (stdin or --input) with WordPiece or SentencePiece; one JSON object a line"
DESCRIPTION = __doc__
BATCH_LINES = 2048


def add_arguments(parser):
    TokenizerOptions.add_arguments(parser)
    parser.add_argument("--input", default=None, help="file of lines to tokenize (local or gs://; default: stdin)")


def _open_input(path):
    if path is None:
        return sys.stdin.buffer, "<stdin>"
    from bertprep.io import fs

    return fs.open_read(path), path


def iter_line_batches(stream, source, batch_lines=BATCH_LINES):
    """Lists of decoded lines (line endings and a first-line BOM removed, as every reader does); bad
    UTF-8 raises BertprepError naming the line, since a tokenized stream cannot skip a line silently."""
    from bertprep.io.formats.lines import decode_lines
    from bertprep.io.records import DeadLetter

    batch = []
    for item in decode_lines(iter(stream.readline, b""), source):
        if isinstance(item, DeadLetter):
            raise BertprepError(f"{source} line {item.line}: not valid UTF-8 ({_bad_byte(item.record)})")
        batch.append(item.value)
        if len(batch) >= batch_lines:
            yield batch
            batch = []
    if batch:
        yield batch


def _bad_byte(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"byte 0x{raw[error.start]:02x} at column {error.start + 1}"
    return "undecodable"


def run(args) -> int:
    tokenizer = TokenizerOptions.from_namespace(args).load_tokenizer()
    stream, source = _open_input(args.input)
    out = sys.stdout.buffer
    try:
        for batch in iter_line_batches(stream, source):
            chunk = []
            for tokens, ids in tokenizer.encode_batch(batch):
                chunk.append(json.dumps({"tokens": tokens, "ids": ids}, ensure_ascii=False))
                chunk.append("\n")
            out.write("".join(chunk).encode("utf-8"))
        out.flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0
