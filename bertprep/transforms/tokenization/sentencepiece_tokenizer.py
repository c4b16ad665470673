"""SentencePiece tokenization as yoheikikuta/bert-japanese does it.

A `.model` with its `.vocab` beside it: tokens are the model's pieces of the (optionally
lower-cased) text; ids come from the `.vocab` file (one `piece<TAB>score` a line, the line number
is the id), as the reference reads them, and a piece missing from it gets the `<unk>` id. `▁` marks
the piece that starts a word, which whole-word masking groups by. [CLS] [SEP] [MASK] [PAD] must be
pieces of the model (train it with `--control_symbols=[PAD],[CLS],[SEP],[MASK]`); [UNK] is the
model's unknown piece.
"""
import os

from bertprep.errors import BertprepError
from bertprep.transforms.tokenization.vocabulary import Vocabulary, decode_utf8, read_bytes
from bertprep.transforms.tokenization.wordpiece import strip_accents as strip_accent_marks

WORD_START = "\u2581"
CONTROL_TOKENS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")


def vocab_path_for(model_path):
    root, _ = os.path.splitext(model_path)
    return root + ".vocab"


def _parse_vocab(text, path):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline ending the last line opens no entry
    tokens = []
    for number, line in enumerate(lines, 1):
        piece, tab, _score = line.partition("\t")
        if not tab:
            raise BertprepError(f"SentencePiece vocabulary {path} line {number}: expected 'piece<TAB>score'")
        tokens.append(piece.strip())
    return tokens


class SentencePieceTokenizer:
    """SentencePiece pieces with BERT's special tokens as control symbols."""

    kind = "sentencepiece"

    def __init__(self, model_proto, vocab_tokens, path="<memory>", lower=True, strip_accents=None):
        import sentencepiece

        self.path = str(path)
        self.lower = bool(lower)
        self.strip_accents = bool(strip_accents)  # None: no stripping, as bert-japanese
        self._model_proto = bytes(model_proto)
        self.processor = sentencepiece.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(self._model_proto)
        except (RuntimeError, OSError) as error:
            raise BertprepError(f"not a SentencePiece model: {self.path} ({error})") from None
        model_pieces = [self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())]
        # The same id <-> token tables as WordPiece's, built from the .vocab file (or the model's pieces).
        self.vocabulary = Vocabulary(vocab_tokens if vocab_tokens is not None else model_pieces, self.path)
        self.tokens = self.vocabulary.tokens
        self.token_to_id = self.vocabulary.token_to_id
        self.unk_token = self.processor.id_to_piece(self.processor.unk_id())
        self.unk_id = self.token_to_id.get(self.unk_token, 0)  # the reference assumes 0
        missing = [token for token in CONTROL_TOKENS if token not in self.token_to_id or token not in model_pieces]
        if missing:
            raise BertprepError(
                f"SentencePiece model {self.path} has no {', '.join(missing)} piece: train it with "
                "--control_symbols=[PAD],[CLS],[SEP],[MASK]"
            )
        self._control = set(CONTROL_TOKENS) | {self.unk_token}
        self.fingerprint = self.vocabulary.fingerprint

    @classmethod
    def from_file(cls, model_path, lower=True, strip_accents=None):
        model_path = os.fspath(model_path)
        proto = read_bytes(model_path, "SentencePiece model")
        vocab_path = vocab_path_for(model_path)
        try:
            vocab_bytes = read_bytes(vocab_path, "SentencePiece vocabulary")
        except BertprepError:
            tokens = None  # no .vocab beside the model: the model's own piece list gives the ids
        else:
            tokens = _parse_vocab(decode_utf8(vocab_bytes, vocab_path, "SentencePiece vocabulary"), vocab_path)
        return cls(proto, tokens, model_path, lower, strip_accents)

    def __getstate__(self):
        return {"proto": self._model_proto, "tokens": self.tokens, "path": self.path, "lower": self.lower,
                "strip_accents": self.strip_accents}

    def __setstate__(self, state):
        self.__init__(state["proto"], state["tokens"], state["path"], state["lower"], state["strip_accents"])

    @property
    def vocab(self):
        return self.token_to_id

    @property
    def vocab_size(self):
        return len(self.tokens)

    @property
    def special_ids(self):
        ids = {token: self.token_to_id[token] for token in CONTROL_TOKENS}
        ids["[UNK]"] = self.unk_id
        return ids

    def _normalize(self, text):
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", "ignore")
        if self.lower:
            text = text.lower()
        if self.strip_accents:
            text = strip_accent_marks(text)
        return text

    def tokenize(self, text):
        return self.processor.encode(self._normalize(text), out_type=str)

    def tokenize_batch(self, texts):
        return self.processor.encode([self._normalize(text) for text in texts], out_type=str)

    def encode(self, text):
        tokens = self.tokenize(text)
        return tokens, self.convert_tokens_to_ids(tokens)

    def encode_batch(self, texts):
        return [(tokens, self.convert_tokens_to_ids(tokens)) for tokens in self.tokenize_batch(texts)]

    def count_unknown_words(self, text, counter):
        """Add to `counter` the pieces of `text` that became the unknown piece, as text (SentencePiece keeps
        their surface form; the word-start mark is dropped). Call it only for a text whose ids hold [UNK]."""
        unk_id = self.unk_id
        tokens = self.tokenize(text)
        for token, token_id in zip(tokens, self.convert_tokens_to_ids(tokens)):
            word = token.lstrip(WORD_START)
            if token_id == unk_id and word:
                counter[word] += 1

    def convert_tokens_to_ids(self, tokens):
        return self.vocabulary.ids_for(tokens, self.unk_id)

    def convert_ids_to_tokens(self, ids):
        return self.vocabulary.tokens_for(ids)

    def basic_tokenize(self, text):
        """Whitespace-separated words of the normalized text (SentencePiece never crosses a space)."""
        return self._normalize(text).split()

    def wordpiece(self, word):
        """Pieces of one word from `basic_tokenize`: the first starts with `▁`."""
        return self.processor.encode(word, out_type=str)

    def is_word_start(self, token):
        return token.startswith(WORD_START) or token in self._control

    def __repr__(self):
        return f"SentencePieceTokenizer(model={self.path!r}, size={self.vocab_size}, lower={self.lower})"
