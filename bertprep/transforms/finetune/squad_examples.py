"""SQuAD-format JSON (v1.1, v2.0, CMRC 2018) → one example per question, with answers located.

The file is read by bertprep.io.formats.squad (`iter_squad_file`): questions come
out in file order (article, paragraph, question) with their position, which the pipeline sorts on to
number examples and features exactly as run_squad.py does.

Context words follow run_squad.py (split on space, tab, CR, LF and U+202F) with one addition for
text written without spaces: every CJK ideograph is a word of its own. Without it a Chinese
paragraph is one "word", an answer maps to the whole paragraph and the reference then takes the
first place its pieces occur; with it the answer is located from `answer_start`, character by
character. Splitting never changes the WordPiece tokens (the tokenizer already cuts around each
ideograph), only the word numbering. `cjk_words="auto"` splits paragraphs written without spaces
(CJK ideographs and kana at least 30% of the non-space characters) and leaves the others exactly as
the reference numbers them (a few Chinese characters quoted in Vietnamese or English text).
"""
import dataclasses
from typing import Dict, List, Optional, Tuple

from bertprep.transforms.tokenization.wordpiece import is_cjk_codepoint

CONTEXT_WHITESPACE = frozenset(" \t\r\n\u202f")
CJK_WORD_MODES = ("auto", "split", "keep")
UNSPACED_SHARE = 0.3


def _is_kana(cp: int) -> bool:
    return 0x3040 <= cp <= 0x30FF or 0xFF65 <= cp <= 0xFF9F


def written_without_spaces(text: str) -> bool:
    """True when CJK ideographs and kana make up at least 30% of the non-space characters."""
    visible = 0
    unspaced = 0
    for char in text:
        if char.isspace():
            continue
        visible += 1
        cp = ord(char)
        if is_cjk_codepoint(cp) or _is_kana(cp):
            unspaced += 1
    return visible > 0 and unspaced >= UNSPACED_SHARE * visible


def split_cjk_for(text: str, mode: str) -> bool:
    if mode == "split":
        return True
    if mode == "keep":
        return False
    return written_without_spaces(text)


class AnswerError(ValueError):
    """A question that cannot become a training example; the message is the dead-letter reason."""


def shorten(text: str, limit: int = 60) -> str:
    """Text for a dead-letter reason: cut to `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "…"


def split_words(text: str, split_cjk: bool = True) -> Tuple[List[str], List[int], List[Tuple[int, int]]]:
    """(words, char_to_word_offset, word character spans [start, end)).

    `char_to_word_offset[i]` is the word holding character i (a space maps to the word before it,
    -1 before the first word), as in the reference.
    """
    words: List[str] = []
    spans: List[List[int]] = []
    char_to_word = []
    after_space = True
    for position, char in enumerate(text):
        if char in CONTEXT_WHITESPACE:
            after_space = True
        elif split_cjk and is_cjk_codepoint(ord(char)):
            words.append(char)
            spans.append([position, position + 1])
            after_space = True  # the next character starts a new word too
        else:
            if after_space:
                words.append(char)
                spans.append([position, position + 1])
            else:
                words[-1] += char
                spans[-1][1] = position + 1
            after_space = False
        char_to_word.append(len(words) - 1)
    return words, char_to_word, [tuple(span) for span in spans]


@dataclasses.dataclass
class SquadExample:
    """One question with its paragraph split into words. Positions are word indexes (-1: no answer)."""

    qas_id: str
    question_text: str
    doc_tokens: List[str]
    word_spans: List[Tuple[int, int]]
    context: str
    orig_answer_text: Optional[str] = None
    start_position: Optional[int] = None
    end_position: Optional[int] = None
    is_impossible: bool = False
    answers: Tuple[str, ...] = ()

    def original_text(self, first_word: int, last_word: int) -> str:
        """The paragraph's own characters from one word to another (original spacing kept)."""
        return self.context[self.word_spans[first_word][0]:self.word_spans[last_word][1]]


def _answers(qa: Dict) -> List[Dict]:
    answers = qa.get("answers") or []
    return [answer for answer in answers if isinstance(answer, dict)]


def looks_unanswerable(qa: Dict) -> bool:
    """A question marked `is_impossible` or without answers: only SQuAD 2.0 data has them."""
    return bool(qa.get("is_impossible")) or not _answers(qa)


def make_example(value: Dict, is_training: bool, version_2_with_negative: bool,
                 cjk_words: str = "auto") -> SquadExample:
    """A SquadExample from one question record; AnswerError when training data is unusable."""
    qa = value["qa"]
    context = value["context"]
    qas_id = qa.get("id")
    question = qa.get("question")
    if qas_id is None:
        raise AnswerError("missing field: question has no 'id'")
    if not isinstance(question, str) or not question.strip():
        raise AnswerError("empty text: question is empty")
    split_cjk = split_cjk_for(context, cjk_words)
    words, char_to_word, spans = split_words(context, split_cjk)
    if not words:
        raise AnswerError("empty text: context is empty")
    answers = tuple(str(answer.get("text", "")) for answer in _answers(qa))
    example = SquadExample(str(qas_id), question, words, spans, context, answers=answers)
    if version_2_with_negative:
        example.is_impossible = bool(qa.get("is_impossible", False))
    if not is_training:
        # As the reference, evaluation examples carry no positions and never count as impossible;
        # `is_impossible` is kept only for scoring (empty gold answers).
        example.answers = () if example.is_impossible else answers
        example.is_impossible = False
        return example
    if example.is_impossible:
        example.start_position = example.end_position = -1
        example.orig_answer_text = ""
        return example
    answer_list = _answers(qa)
    if len(answer_list) != 1:
        raise AnswerError("answer count: training questions need exactly 1 answer, this one has %d"
                          % len(answer_list))
    answer = answer_list[0]
    answer_text = answer.get("text")
    answer_start = answer.get("answer_start")
    if not isinstance(answer_text, str) or not answer_text.strip():
        raise AnswerError("empty answer: the answer text is empty")
    if not isinstance(answer_start, int) or isinstance(answer_start, bool) or not (
            0 <= answer_start and answer_start + len(answer_text) <= len(context)):
        raise AnswerError("answer mismatch: answer_start %r is outside the context (%d characters)"
                          % (answer_start, len(context)))
    start_word = char_to_word[answer_start]
    end_word = char_to_word[answer_start + len(answer_text) - 1]
    if context[answer_start:answer_start + len(answer_text)] != answer_text:
        # The reference's test: the words the answer falls in must contain its text. It accepts
        # answers whose spacing differs from the context; anything else is a wrong answer_start.
        found = " ".join(words[max(start_word, 0):end_word + 1])
        if start_word < 0 or " ".join(split_words(answer_text, split_cjk)[0]) not in found:
            raise AnswerError("answer mismatch: %r is not at answer_start %d (the context has %r there)"
                              % (shorten(answer_text), answer_start,
                                 shorten(context[answer_start:answer_start + len(answer_text)])))
    example.orig_answer_text = answer_text
    example.start_position = start_word
    example.end_position = end_word
    return example
