"""Punctuation a vocabulary lacks: which words that became [UNK] are punctuation or symbols, and
`--normalize-punctuation`, a one-for-one map of such characters to an equivalent the vocabulary has.

Google's Chinese BERT vocabulary has no curly quotes, no em dash and no ellipsis, so on Chinese news
about 1% of tokens are [UNK] from punctuation alone while the vocabulary fits the text's own characters
(the data warnings count the two apart, see bertprep/publish/data_warnings.py). With the option, a character
is replaced by its first equivalent in `EQUIVALENTS` that the vocabulary has, and only when the
vocabulary lacks the character itself: text the vocabulary already covers tokenizes as the reference
does. Every replacement is one character for one (`str.translate`), so character offsets do not move:
SQuAD answer starts, tagging words and alignments stay where they are.

The table (documented in README, "--normalize-punctuation"):
- quotation marks: “ ” „ ‟ 〝 〞 〟 « » → ", and ‘ ’ ‚ ‛ ‹ › → '
- dashes and minus signs: ‐ ‑ ‒ – — ― ⁃ − ﹘ → -
- the ellipsis: … → ⋯ (the midline ellipsis that Chinese text also uses, and what Google's Chinese
  vocabulary has, with `##⋯` for the usual doubled ……), else . ; ⋯ → … for a vocabulary with … only
- middle dots: ・ ･ ‧ • ∙ ⋅ → ·
- the wave dash 〜 → ～, else ~
- full-width forms of ASCII (U+FF01-U+FF5E), half-width CJK punctuation (U+FF5F-U+FF65), full-width
  signs and half-width symbols (U+FFE0-U+FFEE) and small form variants (U+FE50-U+FE6B): the one
  character their Unicode compatibility decomposition (NFKC) gives: ， → , ； → ; ｡ → 。 Ａ → A ...

An equivalent is taken only when it tokenizes without [UNK] where the character stood (`_usable`): alone,
doubled, and after a letter or digit when it would join a word the character split off.
"""
import unicodedata

from bertprep.transforms.tokenization.wordpiece import is_punctuation_char

_QUOTES = dict.fromkeys("“”„‟〝〞〟«»", ('"',))
_QUOTES.update(dict.fromkeys("‘’‚‛‹›", ("'",)))
_DASHES = dict.fromkeys("‐‑‒–—―⁃−﹘", ("-",))
_DOTS = {"…": ("⋯", "."), "⋯": ("…",), "〜": ("～", "~")}
_DOTS.update(dict.fromkeys("・･‧•∙⋅", ("·",)))


def _compatibility_forms() -> dict:
    """Full-width, half-width and small forms → their one-character NFKC compatibility equivalent."""
    forms = {}
    for low, high in ((0xFE50, 0xFE6B), (0xFF01, 0xFF65), (0xFFE0, 0xFFEE)):  # not half-width kana or Hangul
        for code in range(low, high + 1):
            char = chr(code)
            if unicodedata.category(char) == "Cn":
                continue  # unassigned
            folded = unicodedata.normalize("NFKC", char)
            if len(folded) == 1 and folded != char and not folded.isspace():
                forms[char] = (folded,)
    return forms


EQUIVALENTS = dict(_compatibility_forms(), **_QUOTES, **_DASHES, **_DOTS)  # char -> equivalents, best first


def is_punctuation_or_symbol(word: str) -> bool:
    """Whether a word that became [UNK] is punctuation or symbols only (Unicode P* and S*, and the ASCII
    symbols BERT splits off) rather than letters, digits or ideographs of the text's own script."""
    return bool(word) and all(is_punctuation_char(char) or unicodedata.category(char)[0] in "PS" for char in word)


def _unknown(tokenizer, text: str) -> bool:
    ids = tokenizer.encode_batch([text])[0][1]
    return not len(ids) or tokenizer.unk_id in ids


def _usable(tokenizer, char: str, equivalent: str) -> bool:
    """Whether `equivalent` tokenizes without [UNK] where `char` stood: alone and doubled (…… → ⋯⋯), and, when
    `char` is punctuation (a word of its own) but `equivalent` is not, after a letter and after a digit too,
    since there it joins the word before it."""
    contexts = [equivalent, equivalent * 2]
    if is_punctuation_char(char) and not is_punctuation_char(equivalent):
        contexts += ["a" + equivalent, "1" + equivalent]
    return not any(_unknown(tokenizer, text) for text in contexts)


def character_map(tokenizer) -> dict:
    """{character: equivalent}, in code-point order: each character of EQUIVALENTS that `tokenizer` turns into
    [UNK] alone, with its first equivalent that is usable in its place."""
    found = {}
    for char in sorted(EQUIVALENTS):
        if not _unknown(tokenizer, char):
            continue
        for equivalent in EQUIVALENTS[char]:
            if _usable(tokenizer, char, equivalent):
                found[char] = equivalent
                break
    return found


def info_entries(tokenizer) -> dict:
    """info.json's record of --normalize-punctuation: the map this vocabulary allows, and whether the run
    applied it (the [UNK] note names what the option would map when it is off)."""
    if isinstance(tokenizer, NormalizedTokenizer):
        return {"punctuation_map": {"applied": True, "map": dict(tokenizer.character_map)}}
    return {"punctuation_map": {"applied": False, "map": character_map(tokenizer)}}


class NormalizedTokenizer:
    """A tokenizer that maps characters one for one (`character_map`) before tokenizing; everything else
    (vocabulary, ids, special tokens) is the wrapped tokenizer's."""

    def __init__(self, tokenizer, character_map_: dict):
        self.tokenizer = tokenizer
        self.character_map = dict(character_map_)
        self._table = {ord(char): equivalent for char, equivalent in self.character_map.items()}

    # Pickled by its parts: `__getattr__` below must not run before they exist.
    def __getstate__(self):
        return {"tokenizer": self.tokenizer, "character_map": self.character_map}

    def __setstate__(self, state):
        self.__init__(state["tokenizer"], state["character_map"])

    def __getattr__(self, name):
        if name in ("tokenizer", "character_map", "_table") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.tokenizer, name)

    def normalize(self, text) -> str:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", "ignore")  # as the tokenizers read bytes (the reference's)
        return text.translate(self._table)

    def tokenize(self, text):
        return self.tokenizer.tokenize(self.normalize(text))

    def tokenize_batch(self, texts):
        return self.tokenizer.tokenize_batch([self.normalize(text) for text in texts])

    def encode(self, text):
        return self.tokenizer.encode(self.normalize(text))

    def encode_batch(self, texts):
        return self.tokenizer.encode_batch([self.normalize(text) for text in texts])

    @property
    def encode_ids_batch(self):
        """The wrapped tokenizer's ids-only batch call where it has one (`hasattr` tells callers)."""
        encode_ids_batch = self.tokenizer.encode_ids_batch  # AttributeError when it has none
        return lambda texts: encode_ids_batch([self.normalize(text) for text in texts])

    def count_unknown_words(self, text, counter):
        self.tokenizer.count_unknown_words(self.normalize(text), counter)

    def basic_tokenize(self, text):
        return self.tokenizer.basic_tokenize(self.normalize(text))

    def wordpiece(self, word):
        return self.tokenizer.wordpiece(self.normalize(word))

    def __repr__(self):
        return "NormalizedTokenizer(%r, %d characters mapped)" % (self.tokenizer, len(self.character_map))
