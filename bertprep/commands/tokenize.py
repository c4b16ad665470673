"""`bertprep tokenize`: one JSON object {"tokens": [...], "ids": [...]} per input line.

Reads UTF-8 lines from stdin or --input (local or gs://), in batches so memory stays flat, and
writes to stdout. A line that is not valid UTF-8 stops the run with a one-line error naming the
line (the lines before it are already written); an empty input writes nothing.
"""
import json
import sys

from bertprep.errors import BertprepError
from bertprep.pipelines import common

COMMAND = "tokenize"
HELP = "tokenize lines (stdin or --input) with WordPiece or SentencePiece; one JSON object a line"
DESCRIPTION = __doc__
BATCH_LINES = 2048


def add_arguments(parser):
    common.add_tokenizer_arguments(parser)
    parser.add_argument("--input", default=None, help="file of lines to tokenize (local or gs://; default: stdin)")


def _open_input(path):
    if path is None:
        return sys.stdin.buffer, "<stdin>"
    if "://" in path:
        from apache_beam.io.filesystems import FileSystems

        try:
            return FileSystems.open(path), path
        except Exception as error:  # Beam raises a different type per filesystem
            raise BertprepError(f"cannot read input {path}: {type(error).__name__}") from None
    try:
        return open(path, "rb"), path
    except FileNotFoundError:
        raise BertprepError(f"input file not found: {path}") from None
    except OSError as error:
        raise BertprepError(f"cannot read input {path}: {error.strerror or error}") from None


def iter_line_batches(stream, source, batch_lines=BATCH_LINES):
    """Lists of decoded lines (line endings removed); bad UTF-8 raises BertprepError naming the line."""
    batch = []
    for number, raw in enumerate(stream, 1):
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BertprepError(f"{source} line {number}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at "
                                f"column {error.start + 1})") from None
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        batch.append(text)
        if len(batch) >= batch_lines:
            yield batch
            batch = []
    if batch:
        yield batch


def run(args) -> int:
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer

    if not args.vocab and not args.spm_model:
        raise BertprepError("give --vocab (WordPiece vocab.txt) or --spm-model (SentencePiece .model)")
    tokenizer = load_tokenizer(vocab=args.vocab, spm_model=args.spm_model, lower=args.lower,
                               strip_accents=args.strip_accents)
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
