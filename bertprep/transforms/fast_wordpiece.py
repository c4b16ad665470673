"""HF `tokenizers` WordPiece, used only on lines where it provably gives the reference's output.

The compiled pipeline (BertNormalizer + BertPreTokenizer + WordPiece, max 200 characters a word)
disagrees with google-research/bert on some characters, because its Unicode tables are not
Python's `unicodedata` and its steps run in another order:
- private-use (Co) characters: it deletes them as "other", the reference keeps them ([UNK]);
- about 500 more characters where its Unicode tables and Python's `unicodedata` (Unicode 14 in
  Python 3.11) disagree: newer Mn marks it does not strip, newer Po punctuation it does not split,
  a few Cf it keeps, and code points unassigned for Python that it treats as assigned;
- the start of CJK Extension E (U+2B820-U+2B91F, 256 characters): outside its CJK ranges, inside
  the reference's;
- capital sigma when lower-casing: Python's `str.lower` writes a final `ς` at a word end, it
  always writes `σ`;
- lone surrogates, which it cannot take at all.

Rather than ship a table tied to one Unicode and one `tokenizers` version, each character is checked
the first time it is seen: both pipelines tokenize it alone and in a few contexts ("a?b", "A?",
"?B", " ? ") and must agree word for word (the WordPiece step itself is the same algorithm).
A line goes to the compiled tokenizer only if all its characters passed; otherwise to the pure-Python
reference code. Since every step of either pipeline is per character except the final-sigma rule
(covered by the "A?" context) and NFD reordering (identical in both), this is exact; the tests
also check it on random Unicode text.
"""
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from bertprep.transforms.wordpiece import MAX_INPUT_CHARS_PER_WORD, basic_tokenize

_CONTEXTS = ("{}", "a{}b", "A{}", "{}B", " {} ")


def build_hf_tokenizer(token_to_id, lower, strip_accents, unk_token="[UNK]"):
    """The BERT WordPiece pipeline of HF tokenizers, with no special tokens added."""

    tokenizer = Tokenizer(
        models.WordPiece(
            dict(token_to_id),
            unk_token=unk_token,
            max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD,
            continuing_subword_prefix="##",
        )
    )
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=bool(strip_accents), lowercase=bool(lower)
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


class CompiledWordPiece:
    """Routes each line to HF `tokenizers` or to the pure-Python reference, whichever is exact."""

    def __init__(self, token_to_id, id_to_token, lower, strip_accents, fallback, unk_token="[UNK]"):
        self.lower = lower
        self.strip_accents = strip_accents
        self.id_to_token = id_to_token
        self.fallback = fallback  # a PureWordPieceTokenizer with the same settings
        self.hf = build_hf_tokenizer(token_to_id, lower, strip_accents, unk_token)
        self._normalizer = self.hf.normalizer
        self._pre_tokenizer = self.hf.pre_tokenizer
        self.safe_chars = set()
        self.unsafe_chars = set()

    def _hf_words(self, text):
        return [word for word, _ in self._pre_tokenizer.pre_tokenize_str(self._normalizer.normalize_str(text))]

    def char_agrees(self, char):
        """True when the compiled pipeline splits and normalizes `char` as the reference does."""
        if 0xD800 <= ord(char) <= 0xDFFF:
            return False
        for context in _CONTEXTS:
            text = context.format(char)
            if self._hf_words(text) != basic_tokenize(text, self.lower, self.strip_accents):
                return False
        return True

    def is_exact(self, text):
        """Whether the compiled tokenizer gives the reference's tokens for this line."""
        chars = set(text)
        if chars <= self.safe_chars:
            return True
        if not chars.isdisjoint(self.unsafe_chars):
            return False
        for char in chars - self.safe_chars:
            if self.char_agrees(char):
                self.safe_chars.add(char)
            else:
                self.unsafe_chars.add(char)
                return False
        return True

    def encode_batch(self, texts):
        """(tokens, ids) per text; exact lines through HF in one batch, the rest in Python."""
        results = [None] * len(texts)
        exact_indexes = []
        for index, text in enumerate(texts):
            if self.is_exact(text):
                exact_indexes.append(index)
            else:
                results[index] = self.fallback.encode(text)
        if exact_indexes:
            encodings = self.hf.encode_batch([texts[i] for i in exact_indexes], add_special_tokens=False)
            id_to_token = self.id_to_token
            for index, encoding in zip(exact_indexes, encodings):
                ids = encoding.ids
                results[index] = ([id_to_token[i] for i in ids], ids)
        return results
