"""Tokenizers for every job: reference-exact WordPiece, or SentencePiece (bert-japanese style).

`load_tokenizer(vocab=..., lower=True, strip_accents=None)` gives the WordPiece tokenizer of
google-research/bert's `FullTokenizer` (see `wordpiece.py` for the exact rules), with
`strip_accents` settable apart from lower-casing (None follows `lower`, as the reference does;
False keeps Japanese dakuten and Vietnamese diacritics while lower-casing).
`load_tokenizer(spm_model=...)` gives SentencePiece pieces (see `sentencepiece_tokenizer.py`).

WordPiece is `wordpiece.py` alone: plain Python with per-character `str.translate` tables and a cache
of pieces and ids per whitespace-separated chunk. An HF `tokenizers` backend (routed to our code on
the characters where it differs from the reference) was dropped: per core it was 4-7x slower on every
input measured (`benchmarks/bench_tokenize.py` prints both side by side: People's Daily 90,000-108,000
lines/s against HF's 14,700-15,800; English package descriptions 156,000 warm against 19,000), since
it builds alignment bookkeeping and Encoding objects we do not need, while the Python path is one
`translate`, one `split` and dict hits for almost every chunk.
"""
import collections

from bertprep.errors import BertprepError
from bertprep.transforms.tokenization.vocabulary import SPECIAL_TOKENS, UNK_TOKEN, Vocabulary
from bertprep.transforms.tokenization.wordpiece import CONTINUATION_PREFIX, PureWordPieceTokenizer


class WordPieceTokenizer:
    """The reference FullTokenizer: basic tokenization then greedy WordPiece over a vocab.txt."""

    kind = "wordpiece"

    def __init__(self, vocabulary, lower=True, strip_accents=None):
        self.vocabulary = vocabulary
        self.lower = bool(lower)
        self.strip_accents = self.lower if strip_accents is None else bool(strip_accents)
        self._pure = PureWordPieceTokenizer(vocabulary.token_to_id, self.lower, self.strip_accents, UNK_TOKEN)

    # --- pickling: Beam ships DoFns (and the tokenizer in them) to workers -------------------
    def __getstate__(self):
        return {"tokens": self.vocabulary.tokens, "path": self.vocabulary.path, "lower": self.lower,
                "strip_accents": self.strip_accents}

    def __setstate__(self, state):
        self.__init__(Vocabulary(state["tokens"], state["path"]), state["lower"], state["strip_accents"])

    # --- vocabulary ------------------------------------------------------------------------------
    @property
    def vocab(self):
        return self.vocabulary.token_to_id

    @property
    def vocab_size(self):
        return len(self.vocabulary)

    @property
    def fingerprint(self):
        return self.vocabulary.fingerprint

    @property
    def unk_id(self):
        return self.vocabulary.token_to_id[UNK_TOKEN]

    @property
    def special_ids(self):
        """Ids of [CLS] [SEP] [MASK] [PAD] [UNK]; a vocabulary lacking one is an error only here."""
        self.vocabulary.require(SPECIAL_TOKENS)
        return {token: self.vocabulary.token_to_id[token] for token in SPECIAL_TOKENS}

    def convert_tokens_to_ids(self, tokens):
        return self.vocabulary.ids_for(tokens, self.vocabulary.token_to_id[UNK_TOKEN])

    def convert_ids_to_tokens(self, ids):
        return self.vocabulary.tokens_for(ids)

    # --- tokenization ------------------------------------------------------------------------------
    def tokenize(self, text):
        return self._pure.tokenize(_as_text(text))

    def tokenize_batch(self, texts):
        tokenize = self._pure.tokenize
        return [tokenize(_as_text(text)) for text in texts]

    def encode(self, text):
        """(tokens, ids) of one text."""
        return self.encode_batch([text])[0]

    def encode_batch(self, texts):
        """(tokens, ids) per text."""
        encode = self._pure.encode
        return [encode(_as_text(text)) for text in texts]

    def encode_ids_batch(self, texts):
        """The ids of `encode_batch(texts)` alone (skips building token lists)."""
        encode_ids = self._pure.encode_ids
        return [encode_ids(_as_text(text)) for text in texts]

    def count_unknown_words(self, text, counter):
        """Add to `counter` (a Counter) the words of `text` that became [UNK], as WordPiece saw them
        (lower-cased with --lower). Call it only for a text whose tokens hold [UNK]."""
        self._pure.count_unknown_words(_as_text(text), counter)

    def basic_tokenize(self, text):
        """Words before WordPiece, as the reference BasicTokenizer makes them."""
        return self._pure.basic_tokenize(_as_text(text))

    def wordpiece(self, word):
        """WordPiece pieces of one word from `basic_tokenize`."""
        return list(self._pure.model.split(word))

    @staticmethod
    def is_word_start(token):
        return not token.startswith(CONTINUATION_PREFIX)

    def __repr__(self):
        return (f"WordPieceTokenizer(vocab={self.vocabulary.path!r}, size={self.vocab_size}, lower={self.lower}, "
                f"strip_accents={self.strip_accents})")


class UnknownWordSample:
    """The words that became [UNK] in up to `max_texts` texts holding one (None: in all of them), counted.

    Only texts whose ids hold [UNK] are looked at again, so a corpus that fits its vocabulary costs one
    `in` per text; the cap bounds the cost of one that does not (the look-up is about one more
    tokenization of the text). A job keeps one sample per unit of work whose content does not depend on
    the workers (a pretraining bucket), so the sample is the same with any worker count.
    """

    def __init__(self, tokenizer, max_texts=None):
        self.tokenizer = tokenizer
        self.max_texts = max_texts
        self.unk_id = tokenizer.unk_id
        self.words = collections.Counter()
        self.texts = 0  # texts looked at
        self.capped = False  # whether texts holding [UNK] were left out

    def add(self, texts, text_ids):
        """Texts with their ids; count the unknown words of those holding [UNK], up to the cap."""
        if self.capped:
            return
        unk_id, count = self.unk_id, self.tokenizer.count_unknown_words
        for text, ids in zip(texts, text_ids):
            if unk_id in ids:
                if self.max_texts is not None and self.texts >= self.max_texts:
                    self.capped = True
                    return
                self.texts += 1
                count(text, self.words)


def _as_text(text):
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", "ignore")  # the reference's convert_to_unicode
    raise TypeError(f"text must be str or bytes, not {type(text).__name__}")


def load_tokenizer(vocab=None, spm_model=None, lower=True, strip_accents=None, normalize_punctuation=False):
    """The tokenizer for a WordPiece vocab.txt or a SentencePiece .model (with its .vocab beside it).

    `strip_accents=None` follows `lower` for WordPiece (the reference ties them) and means no
    stripping for SentencePiece (bert-japanese only lower-cases). `normalize_punctuation`: first map the
    punctuation the vocabulary lacks to an equivalent it has, one character for one (punctuation.py).
    """
    if spm_model:
        from bertprep.transforms.tokenization.sentencepiece_tokenizer import SentencePieceTokenizer

        tokenizer = SentencePieceTokenizer.from_file(spm_model, lower=lower, strip_accents=strip_accents)
    elif not vocab:
        raise BertprepError("no vocabulary: give a WordPiece vocab.txt (--vocab) or a SentencePiece model "
                            "(--spm-model)")
    else:
        tokenizer = WordPieceTokenizer(Vocabulary.from_file(vocab), lower=lower, strip_accents=strip_accents)
    if normalize_punctuation:
        from bertprep.transforms.tokenization import punctuation

        tokenizer = punctuation.NormalizedTokenizer(tokenizer, punctuation.character_map(tokenizer))
    return tokenizer
