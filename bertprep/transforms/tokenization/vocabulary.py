"""WordPiece vocabulary files: one token a line, the line number is the id.

Loading follows the reference's `load_vocab` (each line stripped of surrounding whitespace, a
repeated token keeps its last id) so ids match google-research/bert exactly. Files are read through
`bertprep.io.fs` (local, or gs:// through Beam, imported only then).
"""
import hashlib
import os

from bertprep.errors import BertprepError
from bertprep.io import fs

UNK_TOKEN = "[UNK]"
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]")


def read_bytes(path, what="file"):
    """Whole contents of a local or remote file; a missing or unreadable one is a BertprepError."""
    return fs.read_bytes(os.fspath(path), what)


def decode_utf8(data, path, what="file"):
    """UTF-8 text (a leading BOM dropped); undecodable bytes name the file and line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BertprepError(f"{what} {path} line {line}: not valid UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def vocabulary_fingerprint(tokens):
    """sha256 hex of the tokens joined by newlines: the identity recorded in every info.json."""
    return hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()


class Vocabulary:
    """Token list (id -> token) and lookup dict (token -> id) read from one file."""

    def __init__(self, tokens, path="<memory>"):
        self.path = str(path)
        self.tokens = list(tokens)
        self.token_to_id = {}
        for index, token in enumerate(self.tokens):
            self.token_to_id[token] = index  # a repeated token keeps its last id, as the reference
        self.fingerprint = vocabulary_fingerprint(self.tokens)

    @classmethod
    def from_file(cls, path, require=(UNK_TOKEN,)):
        """Reads a WordPiece vocabulary; an empty file or one lacking a `require` token is an error."""
        path = os.fspath(path)
        text = decode_utf8(read_bytes(path, "vocabulary file"), path, "vocabulary file")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the newline ending the last line opens no entry
        vocabulary = cls((line.strip() for line in lines), path)
        if not vocabulary.tokens:
            raise BertprepError(f"vocabulary file is empty: {path}")
        vocabulary.require(require)
        return vocabulary

    def require(self, tokens):
        missing = [token for token in tokens if token not in self.token_to_id]
        if missing:
            raise BertprepError(f"vocabulary {self.path} has no {', '.join(missing)} entry")

    def __len__(self):
        return len(self.tokens)

    def ids_for(self, tokens, unk_id):
        lookup = self.token_to_id.get
        return [lookup(token, unk_id) for token in tokens]

    def tokens_for(self, ids):
        size = len(self.tokens)
        out = []
        for token_id in ids:
            token_id = int(token_id)
            if not 0 <= token_id < size:
                raise BertprepError(f"id {token_id} is outside vocabulary {self.path} (size {size})")
            out.append(self.tokens[token_id])
        return out
