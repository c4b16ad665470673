"""Pure-Python WordPiece with the semantics of google-research/bert's FullTokenizer.

Basic tokenization, in the reference's order: drop NUL, U+FFFD and control characters (Cc/Cf except
tab/newline/CR); turn whitespace (tab, newline, CR, Zs) into spaces; put spaces around CJK
ideographs (the reference's code-point ranges); split on whitespace; per word lower-case, then NFD
and drop Mn marks (`strip_accents`, which by default follows lower-casing, as the reference ties
them); split off every punctuation character (Unicode P* plus all ASCII non-alphanumeric symbols).
Each word then goes through greedy longest-match-first WordPiece with `##` continuations; a word
of more than 200 characters, or one with any part not in the vocabulary, becomes a single [UNK].

Speed comes from per-character lookups cached in dicts (`str.translate` does the cleaning in C)
and a bounded cache of words already split; the output is the reference's, character for
character. This module is the definition and the only WordPiece implementation.
"""
import unicodedata

MAX_INPUT_CHARS_PER_WORD = 200
CONTINUATION_PREFIX = "##"

# The reference's "Chinese character" ranges (CJK Unified Ideographs and extensions, compatibility
# ideographs). Hangul, kana and CJK punctuation are deliberately not in them.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk_codepoint(cp):
    return any(low <= cp <= high for low, high in CJK_RANGES)


def is_cjk_char(text):
    """One ideograph by CJK_RANGES: the characters BERT splits one by one, so the ones a pretraining job
    can mask and the mask-probs tables count. Extension F and later are not in them; a Chinese WordPiece
    vocabulary holds none of those."""
    return len(text) == 1 and is_cjk_codepoint(ord(text))


def is_whitespace_char(char):
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control_char(char):
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def is_punctuation_char(char):
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True  # every ASCII symbol counts, even $ ^ ` which Unicode files elsewhere
    return unicodedata.category(char).startswith("P")


class _CleanTable(dict):
    """`str.translate` table for text cleaning and CJK spacing, filled on first sight of a char."""

    def __missing__(self, cp):
        char = chr(cp)
        if cp == 0 or cp == 0xFFFD or is_control_char(char):
            value = None
        elif is_whitespace_char(char):
            value = " "
        elif is_cjk_codepoint(cp):
            value = f" {char} "
        else:
            value = char
        self[cp] = value
        return value


class _MarkTable(dict):
    """`str.translate` table deleting nonspacing marks (category Mn) after NFD."""

    def __missing__(self, cp):
        char = chr(cp)
        value = None if unicodedata.category(char) == "Mn" else char
        self[cp] = value
        return value


class _PunctuationSet(dict):
    def __missing__(self, char):
        value = is_punctuation_char(char)
        self[char] = value
        return value


_CLEAN_TABLE = _CleanTable()
_MARK_TABLE = _MarkTable()
_PUNCTUATION = _PunctuationSet()


_STRIPPED = {}
_STRIPPED_LIMIT = 100_000


def strip_accents(text):
    """NFD then drop Mn marks; pure-ASCII text has none and is returned as is. Results for other words
    are cached (basic tokenization of CJK text calls this once per ideograph)."""
    if text.isascii():
        return text
    stripped = _STRIPPED.get(text)
    if stripped is None:
        stripped = unicodedata.normalize("NFD", text).translate(_MARK_TABLE)
        if len(_STRIPPED) >= _STRIPPED_LIMIT:
            _STRIPPED.clear()
        _STRIPPED[text] = stripped
    return stripped


def split_on_punctuation(word, out):
    """Appends to `out` the runs of `word` between punctuation characters and each one alone."""
    punctuation = _PUNCTUATION
    start = 0
    for index, char in enumerate(word):
        if punctuation[char]:
            if start < index:
                out.append(word[start:index])
            out.append(char)
            start = index + 1
    if start < len(word):
        out.append(word[start:])


def basic_tokenize(text, lower=True, strip_accents_=None):
    """Words before WordPiece, exactly as the reference BasicTokenizer makes them."""
    if strip_accents_ is None:
        strip_accents_ = lower
    words = []
    for word in text.translate(_CLEAN_TABLE).split():
        if lower:
            word = word.lower()
        if strip_accents_:
            word = strip_accents(word)
        if word.isalnum():  # letters and digits only: nothing to split (and the common case)
            words.append(word)
        else:
            split_on_punctuation(word, words)
    return words


class WordPieceModel:
    """Greedy longest-match-first WordPiece over a token -> id dict."""

    CACHE_LIMIT = 200_000

    def __init__(self, token_to_id, unk_token="[UNK]", max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD):
        self.token_to_id = token_to_id
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        # No vocabulary entry is longer than this, so longer candidates need not be looked up.
        lengths = [len(token) - (2 if token.startswith(CONTINUATION_PREFIX) else 0) for token in token_to_id]
        self.longest_piece = max(lengths + [1])
        self._cache = {}

    def split(self, word):
        pieces = self._cache.get(word)
        if pieces is None:
            pieces = self._split_uncached(word)
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = pieces
        return pieces

    def _split_uncached(self, word):
        length = len(word)
        if length > self.max_input_chars_per_word:
            return (self.unk_token,)
        vocab = self.token_to_id
        longest = self.longest_piece
        pieces = []
        start = 0
        while start < length:
            end = min(length, start + longest)
            while end > start:
                piece = word[start:end] if start == 0 else CONTINUATION_PREFIX + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            else:
                return (self.unk_token,)  # one part matches nothing: the whole word is unknown
            pieces.append(piece)
            start = end
        return tuple(pieces)


class PureWordPieceTokenizer:
    """Basic tokenization + WordPiece, the reference pipeline in plain Python.

    Everything after the whitespace split (lower-casing, accents, punctuation, WordPiece) depends
    only on the whitespace-separated chunk, so each chunk's pieces and ids are cached: in Chinese
    text every ideograph is such a chunk, and most lines become a `translate`, a `split` and dict
    lookups.
    """

    CACHE_LIMIT = 200_000

    def __init__(self, token_to_id, lower=True, strip_accents=None, unk_token="[UNK]"):
        self.lower = lower
        self.strip_accents = lower if strip_accents is None else strip_accents
        self.model = WordPieceModel(token_to_id, unk_token)
        self._chunk_cache = {}
        # Chunks that are exactly one piece (every ideograph, most short words): chunk -> id, so a line
        # of them becomes one `map` over its chunks.
        self._single_ids = {}
        # Characters that are one word wherever they stand (CJK ideographs, punctuation) and one piece:
        # char -> id. A line made of them only (most Chinese lines) needs no cleaning or splitting: one
        # `map` over its characters (faster than `str.translate` with a table, which is not cached).
        self._char_ids = {}
        self._chars_seen = set()
        self._unk_id = token_to_id.get(unk_token)
        self._unknown_chars = set()  # the standalone characters (keys of _char_ids) that are [UNK]
        self._unknown_in_chunk = {}  # chunk -> its words that became [UNK] (see `count_unknown_words`)
        self._unknown_chunks = set()  # the chunks of that cache with at least one such word

    def basic_tokenize(self, text):
        return basic_tokenize(text, self.lower, self.strip_accents)

    def _chunk(self, chunk):
        """(pieces, ids) of one whitespace-separated chunk of cleaned text."""
        words = basic_tokenize(chunk, self.lower, self.strip_accents)
        split = self.model.split
        pieces = tuple(piece for word in words for piece in split(word))
        lookup = self.model.token_to_id
        entry = (pieces, tuple(lookup[piece] for piece in pieces))  # [UNK] included: all in the vocabulary
        if len(self._chunk_cache) >= self.CACHE_LIMIT:
            self._chunk_cache.clear()
            self._single_ids.clear()
        self._chunk_cache[chunk] = entry
        if len(pieces) == 1:
            self._single_ids[chunk] = entry[1][0]
        return entry

    def encode_ids(self, text):
        """The ids of `encode(text)` alone. A line of standalone characters only (see `_learn_chars`) is
        one `map` over its characters; else a line whose chunks are all known single pieces is one `map`
        over the chunks; otherwise chunk by chunk."""
        ids = list(map(self._char_ids.get, text))
        if None not in ids:
            return ids
        chunks = text.translate(_CLEAN_TABLE).split()
        ids = list(map(self._single_ids.get, chunks))
        if None in ids:
            cache = self._chunk_cache
            ids = []
            for chunk in chunks:
                entry = cache.get(chunk) or self._chunk(chunk)
                ids.extend(entry[1])
        if not self._chars_seen.issuperset(text):
            self._learn_chars(text)
        return ids

    def _learn_chars(self, text):
        """Record which new characters of `text` are standalone: a CJK ideograph (the cleaning step spaces
        it), or a punctuation character that basic tokenization turns into one punctuation character
        (so it is a word of its own next to anything) — and in both cases a single piece."""
        for char in set(text).difference(self._chars_seen):
            self._chars_seen.add(char)
            cleaned = _CLEAN_TABLE[ord(char)]
            if cleaned is None or not cleaned.strip():
                continue  # dropped or whitespace: not a token of its own
            if not is_cjk_codepoint(ord(char)):
                if not _PUNCTUATION[char]:
                    continue
                words = basic_tokenize(char, self.lower, self.strip_accents)
                if len(words) != 1 or len(words[0]) != 1 or not _PUNCTUATION[words[0]]:
                    continue
            entry = self._chunk_cache.get(char) or self._chunk(char)
            if len(entry[1]) == 1:
                self._char_ids[char] = entry[1][0]
                if entry[1][0] == self._unk_id:
                    self._unknown_chars.add(char)

    def count_unknown_words(self, text, counter):
        """Add to `counter` the words of `text` that became [UNK], as WordPiece saw them (after lower-casing
        and accent stripping). Meant for the few lines a caller saw an [UNK] in: a line of standalone
        characters (see `_learn_chars`) costs a few set operations, other lines a count of their chunks."""
        chars = set(text)
        if self._char_ids.keys() >= chars:  # each character is a word, and a chunk, of its own
            for char in chars.intersection(self._unknown_chars):
                for word in self._unknown_in(char):
                    counter[word] += text.count(char)
            return
        chunks = text.translate(_CLEAN_TABLE).split()
        distinct = set(chunks)
        for chunk in distinct.difference(self._unknown_in_chunk):  # first sight: work out its words
            self._unknown_in(chunk)
        for chunk in distinct.intersection(self._unknown_chunks):
            times = chunks.count(chunk)
            for word in self._unknown_in(chunk):
                counter[word] += times

    def _unknown_in(self, chunk):
        words = self._unknown_in_chunk.get(chunk)
        if words is None:
            split, unk = self.model.split, (self.model.unk_token,)
            words = tuple(word for word in basic_tokenize(chunk, self.lower, self.strip_accents) if split(word) == unk)
            if len(self._unknown_in_chunk) >= self.CACHE_LIMIT:
                self._unknown_in_chunk.clear()
                self._unknown_chunks.clear()
            self._unknown_in_chunk[chunk] = words
            if words:
                self._unknown_chunks.add(chunk)
        return words

    def encode(self, text):
        """(tokens, ids) of one text."""
        cache = self._chunk_cache
        tokens, ids = [], []
        for chunk in text.translate(_CLEAN_TABLE).split():
            entry = cache.get(chunk) or self._chunk(chunk)
            tokens.extend(entry[0])
            ids.extend(entry[1])
        return tokens, ids

    def tokenize(self, text):
        cache = self._chunk_cache
        tokens = []
        for chunk in text.translate(_CLEAN_TABLE).split():
            entry = cache.get(chunk) or self._chunk(chunk)
            tokens.extend(entry[0])
        return tokens
