"""Token tagging (NER, BIO) features: one tag per input word, carried by the word's first piece.

Each word is WordPiece-tokenized on its own; its tag id goes on its first piece with weight 1.0,
and its other pieces, [CLS], [SEP] and padding get tag id 0 with weight 0.0, so the loss and the
metrics see exactly one prediction per input word and the tags can be read back in order.
A sentence whose pieces do not fit in `max_seq_length - 2` is either an error (dead letter) or,
with `split_long`, cut at word boundaries into several records.
"""
import collections
from typing import Dict, List, Sequence, Tuple

from bertprep.transforms.finetune.classifier_features import ExampleError, pad


def parse_conll(lines: Sequence[str]) -> Tuple[List[str], List[str]]:
    """`token ... tag` lines → (tokens, tags): the token is the first field, the tag the last (CoNLL 2003
    files carry POS and chunk columns between them)."""
    tokens, tags = [], []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if len(fields) < 2:
            raise ExampleError("bad line: line %d of the sentence has %d field(s), expected `token tag`: %r"
                               % (number, len(fields), line[:40]))
        tokens.append(fields[0])
        tags.append(fields[-1])
    return tokens, tags


def parse_json(value, tokens_field: str = "tokens", tags_field: str = "tags") -> Tuple[List[str], List[str]]:
    if not isinstance(value, dict):
        raise ExampleError("bad record: expected a JSON object with %r and %r" % (tokens_field, tags_field))
    for field in (tokens_field, tags_field):
        if not isinstance(value.get(field), list):
            raise ExampleError("missing column: %r is not a list" % field)
    tokens = [str(token) for token in value[tokens_field]]
    tags = [str(tag) for tag in value[tags_field]]
    if len(tokens) != len(tags):
        raise ExampleError("length mismatch: %d tokens but %d tags" % (len(tokens), len(tags)))
    return tokens, tags


def word_pieces(tokens: Sequence[str], tokenizer) -> List[List[str]]:
    pieces = tokenizer.tokenize_batch(list(tokens))
    for index, word in enumerate(pieces):
        if not word:
            raise ExampleError("empty token: word %d (%r) has no pieces after tokenization"
                               % (index + 1, tokens[index]))
    return pieces


def chunk_words(pieces: Sequence[Sequence[str]], max_pieces: int, split_long: bool) -> List[Tuple[int, int]]:
    """[start, end) word ranges whose pieces fit in `max_pieces` each."""
    total = sum(len(word) for word in pieces)
    if total <= max_pieces:
        return [(0, len(pieces))]
    if not split_long:
        raise ExampleError("too long: %d pieces do not fit in max_seq_length %d (%d pieces); use --split-long "
                           "or a larger --max-seq-length" % (total, max_pieces + 2, max_pieces))
    chunks = []
    start = 0
    used = 0
    for index, word in enumerate(pieces):
        if len(word) > max_pieces:
            raise ExampleError("too long: word %d alone has %d pieces, more than %d" % (index + 1, len(word),
                                                                                        max_pieces))
        if used + len(word) > max_pieces:
            chunks.append((start, index))
            start, used = index, 0
        used += len(word)
    chunks.append((start, len(pieces)))
    return chunks


def convert_sentence(tokens: Sequence[str], tags: Sequence[str], tag_ids: Dict[str, int], tokenizer,
                     max_seq_length: int, example_id: int, split_long: bool = False):
    """(list of feature dicts, facts for the run's stats) for one sentence."""
    if not tokens:
        raise ExampleError("empty text: the sentence has no tokens")
    unknown = sorted(set(tag for tag in tags if tag not in tag_ids))
    if unknown:
        raise ExampleError("unknown label: %s (known: %s)" % (", ".join(repr(t) for t in unknown),
                                                               ", ".join(sorted(tag_ids))))
    pieces = word_pieces(tokens, tokenizer)
    records = []
    lengths = []
    for start, end in chunk_words(pieces, max_seq_length - 2, split_long):
        sequence = ["[CLS]"]
        label_ids = [0]
        label_weights = [0.0]
        for word, tag in zip(pieces[start:end], tags[start:end]):
            sequence.extend(word)
            label_ids.extend([tag_ids[tag]] + [0] * (len(word) - 1))
            label_weights.extend([1.0] + [0.0] * (len(word) - 1))
        sequence.append("[SEP]")
        label_ids.append(0)
        label_weights.append(0.0)
        input_ids = tokenizer.convert_tokens_to_ids(sequence)
        records.append({
            "input_ids": pad(input_ids, max_seq_length),
            "input_mask": pad([1] * len(input_ids), max_seq_length),
            "segment_ids": [0] * max_seq_length,
            "label_ids": pad(label_ids, max_seq_length),
            "label_weights": list(label_weights) + [0.0] * (max_seq_length - len(label_weights)),
            "example_id": example_id,
        })
        lengths.append(len(sequence))
    flat = [piece for word in pieces for piece in word]
    unk = flat.count("[UNK]")
    facts = {"lengths": lengths, "tokens": len(flat), "unk": unk, "tags": list(tags), "records": len(records),
             "unknown_words": collections.Counter()}
    if unk:
        tokenizer.count_unknown_words(" ".join(tokens), facts["unknown_words"])
    return records, facts
