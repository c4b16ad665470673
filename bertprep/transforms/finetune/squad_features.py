"""SQuAD features as run_squad.py's `convert_examples_to_features` makes them, one example at a time.

Each context word is WordPiece-tokenized on its own; the question is cut to `max_query_length`
pieces; the document is covered by windows of `max_seq_length - len(query) - 3` pieces that start
`doc_stride` apart (the last one ends at the document's end); each window becomes
`[CLS] query [SEP] window [SEP]` with `token_to_orig_map` (position → word) and
`token_is_max_context` (is this the window where the piece has the most context on its shorter
side). Training answers are first projected to words, then narrowed to the pieces that spell the
tokenized answer (`_improve_answer_span` in the reference); a window that does not hold the whole
answer gets positions 0, as does an impossible question.

Numbering (`unique_id`, `example_index`) is global and is assigned by the pipeline afterwards.
"""
import collections
from typing import Dict, List, Sequence, Tuple

from bertprep.transforms.finetune.classifier_features import pad
from bertprep.transforms.finetune.squad_examples import AnswerError, SquadExample, shorten

UNUSABLE_ANSWER_POLICIES = ("dead-letter", "keep")


def tokenize_document(words: Sequence[str], tokenizer):
    """(pieces, piece → word index, word → first piece index) for whitespace-split words."""
    pieces: List[str] = []
    piece_to_word: List[int] = []
    word_to_piece: List[int] = []
    for word_index, word_pieces in enumerate(tokenizer.tokenize_batch(list(words))):
        word_to_piece.append(len(pieces))
        pieces.extend(word_pieces)
        piece_to_word.extend([word_index] * len(word_pieces))
    return pieces, piece_to_word, word_to_piece


def improve_answer_span(pieces: Sequence[str], start: int, end: int, tokenizer, answer_text: str) -> Tuple[int, int]:
    """The narrowest sub-span of [start, end] whose pieces equal the tokenized answer, else as given.

    Searched from the left with the longest candidate first, exactly as the reference, so that the
    same span is chosen when the answer's pieces occur more than once inside its words.
    """
    target = tokenizer.tokenize(answer_text)
    length = len(target)
    if not length:
        return start, end
    for new_start in range(start, end + 1):
        # A candidate [new_start, new_end] can only equal the target when it has the same length.
        new_end = new_start + length - 1
        if new_end <= end and list(pieces[new_start:new_end + 1]) == target:
            return new_start, new_end
    return start, end


def doc_windows(num_pieces: int, max_tokens_for_doc: int, doc_stride: int) -> List[Tuple[int, int]]:
    """(start, length) of each window over the document's pieces."""
    windows = []
    start = 0
    while start < num_pieces:
        length = min(num_pieces - start, max_tokens_for_doc)
        windows.append((start, length))
        if start + length == num_pieces:
            break
        start += min(length, doc_stride)
    return windows


def max_context_windows(windows: Sequence[Tuple[int, int]], num_pieces: int) -> List[int]:
    """For each piece, the window giving it the most context: max over windows of
    min(left, right) + 0.01 * window length; the first such window wins ties."""
    best_window = [-1] * num_pieces
    best_score = [None] * num_pieces
    for window_index, (start, length) in enumerate(windows):
        end = start + length - 1
        for position in range(start, end + 1):
            score = min(position - start, end - position) + 0.01 * length
            if best_score[position] is None or score > best_score[position]:
                best_score[position] = score
                best_window[position] = window_index
    return best_window


def convert_example(example: SquadExample, tokenizer, max_seq_length: int, doc_stride: int, max_query_length: int,
                    is_training: bool, unusable_answers: str = "dead-letter") -> Tuple[List[Dict], Dict]:
    """Features of one example (without unique_id/example_index) and facts for the run's stats.

    Two kinds of training answer cannot be learnt as labelled: one that starts or ends inside a
    piece ("Japan" annotated inside "Japanese"; the reference labels the whole words instead), and
    one that no window holds whole (too long for the window and stride; every window gets 0). With
    `unusable_answers="dead-letter"` such a question raises AnswerError, so that every label spells
    its answer and every kept answer is inside some window; "keep" is the reference behaviour.
    """
    query_tokens = tokenizer.tokenize(example.question_text)[:max_query_length]
    pieces, piece_to_word, word_to_piece = tokenize_document(example.doc_tokens, tokenizer)

    answer_start = answer_end = None
    if is_training and not example.is_impossible:
        answer_start = word_to_piece[example.start_position]
        if example.end_position < len(example.doc_tokens) - 1:
            answer_end = word_to_piece[example.end_position + 1] - 1
        else:
            answer_end = len(pieces) - 1
        answer_start, answer_end = improve_answer_span(pieces, answer_start, answer_end, tokenizer,
                                                       example.orig_answer_text)
        if unusable_answers != "keep" and list(pieces[answer_start:answer_end + 1]) != tokenizer.tokenize(
                example.orig_answer_text):
            raise AnswerError("answer not token-aligned: %r starts or ends inside a word piece of %r"
                              % (shorten(example.orig_answer_text),
                                 shorten(example.original_text(example.start_position, example.end_position))))

    if not pieces:
        raise AnswerError("empty text: the context has no tokens after tokenization")
    max_tokens_for_doc = max_seq_length - len(query_tokens) - 3
    windows = doc_windows(len(pieces), max_tokens_for_doc, doc_stride)
    best_window = max_context_windows(windows, len(pieces))
    query_part = ["[CLS]"] + query_tokens + ["[SEP]"]
    doc_offset = len(query_part)
    features = []
    answers_in_window = 0
    for window_index, (start, length) in enumerate(windows):
        tokens = query_part + list(pieces[start:start + length]) + ["[SEP]"]
        segment_ids = [0] * doc_offset + [1] * (length + 1)
        token_to_orig_map = {doc_offset + i: piece_to_word[start + i] for i in range(length)}
        token_is_max_context = {doc_offset + i: best_window[start + i] == window_index for i in range(length)}
        input_ids = tokenizer.convert_tokens_to_ids(tokens)
        feature = {
            "doc_span_index": window_index,
            "doc_span_start": start,
            "tokens": tokens,
            "token_to_orig_map": token_to_orig_map,
            "token_is_max_context": token_is_max_context,
            "input_ids": pad(input_ids, max_seq_length),
            "input_mask": pad([1] * len(input_ids), max_seq_length),
            "segment_ids": pad(segment_ids, max_seq_length),
        }
        if is_training:
            start_position = end_position = 0
            if not example.is_impossible and start <= answer_start and answer_end <= start + length - 1:
                start_position = answer_start - start + doc_offset
                end_position = answer_end - start + doc_offset
                answers_in_window += 1
            feature.update({"start_position": start_position, "end_position": end_position,
                            "is_impossible": int(example.is_impossible)})
        features.append(feature)
    if answer_start is not None and not answers_in_window and unusable_answers != "keep":
        raise AnswerError("answer in no window: no window holds all %d pieces of the answer (windows of %d pieces "
                          "every %d)" % (answer_end - answer_start + 1, max_tokens_for_doc, doc_stride))
    facts = {
        "features": len(features),
        "lengths": [len(feature["tokens"]) for feature in features],
        "doc_pieces": len(pieces),
        "tokens": len(pieces) + len(query_tokens),
        "unk": pieces.count("[UNK]") + query_tokens.count("[UNK]"),
        "unknown_words": collections.Counter(),  # filled below for a question holding an [UNK]
        "query_truncated": int(len(query_tokens) == max_query_length),
        "windows_with_answer": answers_in_window,
    }
    if facts["unk"]:
        # The question as a whole: a few words past --max-query-length may be counted.
        tokenizer.count_unknown_words(example.question_text, facts["unknown_words"])
        tokenizer.count_unknown_words(" ".join(example.doc_tokens), facts["unknown_words"])
    return features, facts
