"""Documents → pre-training instances, with the semantics of google-research/bert's create_pretraining_data.py.

Per document and pass: a `target_seq_length` (usually `max_seq_length - 3`, with `short_seq_prob` a random
length from 2 up); sentences gathered into a chunk until it reaches the target; a random `a_end` splits the
chunk into segments A and B; for next-sentence prediction B is, half of the time (always for a one-sentence
chunk), text from another document, and the chunk's unused sentences are put back; `truncate_seq_pair`
removes tokens one at a time from the front or the back of the longer segment. Other modes: sentence-order
prediction (`sop`: B is the true continuation, swapped with A half of the time), no pair task (`none`), and
RoBERTa-style FULL-SENTENCES packing across document boundaries.

Everything works on token ids. A document optionally carries word-start flags per token (for whole-word
masking); they travel with the tokens through chunking and truncation. Draws come from the `rng` passed
in, through `random()` and `randint()` only: the job passes its `seeding.SplitMix64` stream, whose
`randint` the compiled kernel (kernel.py) repeats draw for draw.
"""
import dataclasses
import re
from typing import Iterator, List, Optional, Sequence

NEXT_SENTENCE_MODES = ("nsp", "sop", "none")
PACKING_MODES = ("segment_pair", "full_sentences")


@dataclasses.dataclass(frozen=True)
class InstanceOptions:
    max_seq_length: int = 128
    short_seq_prob: float = 0.1
    next_sentence: str = "nsp"
    packing: str = "segment_pair"


class TokenizedDocument:
    """One document: a key (seeds its randomness), its sentences as id lists, optional word-start flags."""

    __slots__ = ("key", "sentences", "flags")

    def __init__(self, key: str, sentences: List[List[int]], flags: Optional[List[List[bool]]] = None):
        self.key = key
        self.sentences = sentences
        self.flags = flags

    @property
    def num_tokens(self) -> int:
        return sum(len(sentence) for sentence in self.sentences)


class Instance:
    """`[CLS] A [SEP] B [SEP]` (or `[CLS] A [SEP]`) as ids; `len_a` counts A's tokens; `label` is the pair label.

    `flags[i]` is True where token i starts a whole word (None when whole-word grouping is off).
    """

    __slots__ = ("tokens", "flags", "len_a", "label", "stops")

    def __init__(self, tokens: List[int], flags: Optional[List[bool]], len_a: int, label: int,
                 stops: Optional[tuple] = None):
        self.tokens = tokens
        self.flags = flags
        self.len_a = len_a
        self.label = label
        self.stops = stops  # positions of [CLS] and [SEP]

    def special_positions(self) -> tuple:
        if self.stops is not None:
            return self.stops
        if self.len_a + 2 >= len(self.tokens):
            return (0, len(self.tokens) - 1)
        return (0, self.len_a + 1, len(self.tokens) - 1)

    def segment_ids(self) -> List[int]:
        return [0] * (self.len_a + 2) + [1] * (len(self.tokens) - self.len_a - 2)


def split_sentences(text: str) -> List[str]:
    """Sentences of a free-text document: its lines, each cut after sentence-final punctuation."""
    sentences = []
    for line in text.splitlines():
        for piece in _SENTENCE_END.split(line):
            piece = piece.strip()
            if piece:
                sentences.append(piece)
    return sentences


# Split after 。！？!? (and closing quotes/brackets right after them), or after ". " between Latin sentences.
_SENTENCE_END = re.compile(r"(?<=[。！？!?][”’」』）)])|(?<=[。！？!?])(?![”’」』）)])|(?<=\.)\s+(?=[A-Z\"'])")


def sentences_of(value) -> List[str]:
    """A record value as a list of sentences: a list is taken as is, a string is split."""
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    if isinstance(value, dict):
        raise ValueError("a document record must be text or a list of sentences, not an object")
    return split_sentences(str(value) if value is not None else "")


def _truncate_pair(a: list, b: list, fa: Optional[list], fb: Optional[list], max_num_tokens: int, rng):
    """The reference's truncate_seq_pair: drop one token at a time from the front or back of the longer."""
    a_front = a_back = b_front = b_back = 0
    len_a, len_b = len(a), len(b)
    random = rng.random
    while len_a + len_b > max_num_tokens:
        if len_a > len_b:
            if random() < 0.5:
                a_front += 1
            else:
                a_back += 1
            len_a -= 1
        else:
            if random() < 0.5:
                b_front += 1
            else:
                b_back += 1
            len_b -= 1
    if a_front or a_back:
        a = a[a_front:len(a) - a_back]
        if fa is not None:
            fa = fa[a_front:len(fa) - a_back]
    if b_front or b_back:
        b = b[b_front:len(b) - b_back]
        if fb is not None:
            fb = fb[b_front:len(fb) - b_back]
    return a, b, fa, fb


def _concat(parts: Sequence[list]) -> list:
    out = []
    for part in parts:
        out.extend(part)
    return out


def _make_instance(a, b, fa, fb, label, cls_id, sep_id) -> Instance:
    if b is None:
        tokens = [cls_id, *a, sep_id]
        flags = None if fa is None else [True, *fa, True]
    else:
        tokens = [cls_id, *a, sep_id, *b, sep_id]
        flags = None if fa is None else [True, *fa, True, *fb, True]
    if flags is not None:
        # A segment never starts inside a word, even when truncation cut the word's first piece.
        flags[1] = True
        if b is not None:
            flags[len(a) + 2] = True
    return Instance(tokens, flags, len(a), label)


def document_instances(documents: Sequence[TokenizedDocument], index: int, options: InstanceOptions, rng,
                       cls_id: int, sep_id: int) -> Iterator[Instance]:
    """The instances of `documents[index]` for one pass; negatives (NSP) come from the other `documents`.

    A generator: the caller masks each instance with the same `rng` before the next is built, which is
    the order the compiled kernel draws in (so both give the same bytes).
    """
    document = documents[index]
    sentences = document.sentences
    flag_lists = document.flags
    with_flags = flag_lists is not None
    pair = options.next_sentence != "none"
    max_num_tokens = options.max_seq_length - (3 if pair else 2)
    target = max_num_tokens
    if rng.random() < options.short_seq_prob:
        target = rng.randint(2, max_num_tokens)

    chunk: List[int] = []  # sentence indexes in the current chunk
    chunk_length = 0
    count = len(sentences)
    i = 0
    while i < count:
        chunk.append(i)
        chunk_length += len(sentences[i])
        if i == count - 1 or chunk_length >= target:
            if not pair:
                a = _concat([sentences[j] for j in chunk])
                fa = _concat([flag_lists[j] for j in chunk]) if with_flags else None
                a, _, fa, _ = _truncate_pair(a, [], fa, [] if with_flags else None, max_num_tokens, rng)
                yield _make_instance(a, None, fa, None, 0, cls_id, sep_id)
            else:
                instance, put_back = _pair_from_chunk(documents, index, chunk, target, max_num_tokens,
                                                      options.next_sentence, rng, cls_id, sep_id)
                if instance is not None:
                    yield instance
                i -= put_back
            chunk = []
            chunk_length = 0
        i += 1


def _pair_from_chunk(documents, index, chunk, target, max_num_tokens, mode, rng, cls_id, sep_id):
    """One A/B instance from a chunk; returns (instance or None, sentences to put back)."""
    document = documents[index]
    sentences = document.sentences
    flag_lists = document.flags
    with_flags = flag_lists is not None
    a_end = 1
    if len(chunk) >= 2:
        a_end = rng.randint(1, len(chunk) - 1)
    a_parts = chunk[:a_end]
    a = _concat([sentences[j] for j in a_parts])
    fa = _concat([flag_lists[j] for j in a_parts]) if with_flags else None
    label = 0
    put_back = 0
    if mode == "nsp":
        if len(chunk) == 1 or rng.random() < 0.5:
            label = 1
            b, fb = _random_continuation(documents, index, target - len(a), rng, with_flags)
            put_back = len(chunk) - a_end
        else:
            b = _concat([sentences[j] for j in chunk[a_end:]])
            fb = _concat([flag_lists[j] for j in chunk[a_end:]]) if with_flags else None
    else:  # sop: B is the true continuation; swapped half of the time (label 1)
        if len(chunk) == 1:
            if len(a) < 2:
                return None, 0  # one token cannot make an ordered pair
            cut = rng.randint(1, len(a) - 1)
            a, b = a[:cut], a[cut:]
            if with_flags:
                fa, fb = fa[:cut], fa[cut:]
            else:
                fb = None
        else:
            b = _concat([sentences[j] for j in chunk[a_end:]])
            fb = _concat([flag_lists[j] for j in chunk[a_end:]]) if with_flags else None
        if rng.random() < 0.5:
            a, b, fa, fb = b, a, fb, fa
            label = 1
    a, b, fa, fb = _truncate_pair(a, b, fa, fb, max_num_tokens, rng)
    return _make_instance(a, b, fa, fb, label, cls_id, sep_id), put_back


def _random_continuation(documents, index, target_b_length, rng, with_flags):
    """Sentences from a random start in a random other document until `target_b_length` tokens."""
    count = len(documents)
    other = index
    for _ in range(10):  # as the reference: a few tries to avoid the document itself
        other = rng.randint(0, count - 1)
        if other != index:
            break
    document = documents[other]
    start = rng.randint(0, len(document.sentences) - 1)
    b: List[int] = []
    fb: Optional[List[bool]] = [] if with_flags else None
    for j in range(start, len(document.sentences)):
        b.extend(document.sentences[j])
        if with_flags:
            flags = document.flags[j] if document.flags is not None else [True] * len(document.sentences[j])
            fb.extend(flags)
        if len(b) >= target_b_length:
            break
    return b, fb


def pack_full_sentences(documents: Sequence[TokenizedDocument], options: InstanceOptions, cls_id: int,
                        sep_id: int) -> Iterator[Instance]:
    """RoBERTa FULL-SENTENCES: whole sentences packed up to max_seq_length, documents joined by [SEP].

    A sentence longer than a whole sequence is cut into sequence-sized pieces; segment ids are all 0 and
    the pair label is 0. Packing is deterministic: randomness lives in the document order the caller gives.
    """
    budget = options.max_seq_length - 2
    tokens: List[int] = []
    flags: Optional[List[bool]] = None
    with_flags = any(document.flags is not None for document in documents)
    if with_flags:
        flags = []

    def emit():
        nonlocal tokens, flags
        body, body_flags = tokens, flags
        while body and body[-1] == sep_id:  # a document separator at the very end carries nothing
            body = body[:-1]
            if body_flags is not None:
                body_flags = body_flags[:-1]
        instance = None
        if body:
            instance = _make_instance(body, None, body_flags, None, 0, cls_id, sep_id)
            instance.stops = (0,) + tuple(k + 1 for k, token in enumerate(body) if token == sep_id) + (len(body) + 1,)
        tokens = []
        flags = [] if with_flags else None
        return instance

    for document in documents:
        for number, sentence in enumerate(document.sentences):
            sentence_flags = None
            if with_flags:
                sentence_flags = document.flags[number] if document.flags is not None else [True] * len(sentence)
            for start in range(0, len(sentence), budget):
                piece = sentence[start:start + budget]
                if tokens and len(tokens) + len(piece) > budget:
                    instance = emit()
                    if instance is not None:
                        yield instance
                tokens.extend(piece)
                if with_flags:
                    flags.extend(sentence_flags[start:start + budget])
        if tokens and len(tokens) < budget:
            tokens.append(sep_id)
            if with_flags:
                flags.append(True)
    instance = emit()
    if instance is not None:
        yield instance


class DocumentTokenizer:
    """Sentences → TokenizedDocument with ids, and word-start flags when whole-word masking needs them.

    `grouping`: "none" (no flags), "pieces" (the tokenizer's `##`/`▁` marks), "jieba" or "presegmented"
    (Chinese words; see masking.segmented_flags).
    """

    def __init__(self, tokenizer, grouping: str = "none"):
        from bertprep.transforms.pretraining import masking

        self.tokenizer = tokenizer
        self.grouping = grouping
        self.unk_id = tokenizer.vocab.get("[UNK]", -1) if hasattr(tokenizer, "vocab") else -1
        self._segmenter = masking.Segmenter(grouping) if grouping in ("jieba", "presegmented") else None
        self._masking = masking

    def __call__(self, key: str, sentences: Sequence[str], unknown=None) -> TokenizedDocument:
        if self._segmenter is None:
            return self.many([(key, sentences)], unknown)[0]
        token_lists, flags = [], []
        for sentence in sentences:
            tokens, sentence_flags = self._masking.segmented_flags(sentence, self._segmenter.words(sentence),
                                                                   self.tokenizer)
            token_lists.append(tokens)
            flags.append(sentence_flags)
        ids = [self.tokenizer.convert_tokens_to_ids(tokens) for tokens in token_lists]
        if unknown is not None:
            unknown.add(sentences, ids)
        keep = [k for k, sentence in enumerate(ids) if sentence]
        return TokenizedDocument(key, [ids[k] for k in keep], [flags[k] for k in keep])

    def many(self, items: Sequence[tuple], unknown=None) -> List[TokenizedDocument]:
        """Several (key, sentences) at once: one batch call to the tokenizer over all their sentences.

        `unknown` (a tokenization.UnknownWordSample) is shown every sentence with its ids, to count the
        words that became [UNK].
        """
        if self._segmenter is not None or not items:
            return [self(key, sentences, unknown) for key, sentences in items]
        flat = [sentence for _, sentences in items for sentence in sentences]
        tokenizer = self.tokenizer
        if self.grouping != "pieces" and hasattr(tokenizer, "encode_ids_batch"):
            # No word flags to derive from the tokens: ids alone, with empty sentences dropped.
            sentence_ids = tokenizer.encode_ids_batch(flat)
            if unknown is not None:
                unknown.add(flat, sentence_ids)
            documents = []
            start = 0
            for key, sentences in items:
                end = start + len(sentences)
                documents.append(TokenizedDocument(key, [ids for ids in sentence_ids[start:end] if ids]))
                start = end
            return documents
        if hasattr(tokenizer, "encode_batch"):
            encoded = tokenizer.encode_batch(flat)  # (tokens, ids) pairs: no second vocabulary look-up
        else:
            encoded = [(tokens, tokenizer.convert_tokens_to_ids(tokens)) for tokens in tokenizer.tokenize_batch(flat)]
        if unknown is not None:
            unknown.add(flat, [sentence_ids for _, sentence_ids in encoded])
        documents = []
        start = 0
        for key, sentences in items:
            chunk = encoded[start:start + len(sentences)]
            start += len(sentences)
            documents.append(self._from_encoded(key, chunk))
        return documents

    def _from_encoded(self, key: str, encoded) -> TokenizedDocument:
        ids = [list(sentence_ids) for _, sentence_ids in encoded if len(sentence_ids)]
        flags = None
        if self.grouping == "pieces":
            is_word_start = self.tokenizer.is_word_start
            flags = [self._masking.piece_flags(tokens, is_word_start) for tokens, sentence_ids in encoded
                     if len(sentence_ids)]
        return TokenizedDocument(key, ids, flags)
