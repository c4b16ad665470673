"""SQuAD-format JSON (v1.1, v2.0, CMRC 2018): one record a question, in file order.

A SQuAD file is one JSON document, so it is read whole (one file at a time; SQuAD-sized files are
tens of MB). Locating answers in the context is the job's work (transforms/finetune/squad_examples).
"""
import json
from typing import Iterator, Union

from bertprep.io import fs
from bertprep.io.formats.lines import BOM, UNDECODABLE
from bertprep.io.records import DeadLetter, Record


def iter_squad_file(path: str) -> Iterator[Union[Record, DeadLetter]]:
    """Records (one per question) and DeadLetters for one SQuAD JSON file.

    A record's line number is the question's 1-based position in the file; its value holds the
    question (`qa`), its paragraph's `context`, the article's `title` and the (article, paragraph,
    question) `position`. A file that is not UTF-8 or not SQuAD JSON is one dead letter at line 0.
    """
    handle = fs.open_read(path)
    try:
        data = handle.read()
    finally:
        handle.close()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        yield DeadLetter(path, 0, "%s: invalid UTF-8 at byte %d" % (UNDECODABLE, error.start), None)
        return
    if text.startswith(BOM):
        text = text[1:]
    try:
        document = json.loads(text)
        articles = document["data"]
        if not isinstance(articles, list):
            raise TypeError("'data' is not a list")
    except (ValueError, KeyError, TypeError) as error:
        yield DeadLetter(path, 0, "bad SQuAD JSON: %s" % error, None)
        return
    number = 0
    for article_index, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            number += 1
            yield DeadLetter(path, number, "bad SQuAD JSON: article %d has no paragraphs" % article_index, None)
            continue
        for paragraph_index, paragraph in enumerate(paragraphs):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            questions = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(questions, list):
                number += 1
                yield DeadLetter(path, number, "bad SQuAD JSON: article %d paragraph %d has no qas"
                                 % (article_index, paragraph_index), None)
                continue
            for question_index, qa in enumerate(questions):
                number += 1
                if not isinstance(qa, dict) or not isinstance(context, str):
                    yield DeadLetter(path, number, "bad SQuAD JSON: question without context or fields", qa)
                    continue
                yield Record(path, number, {
                    "position": [article_index, paragraph_index, question_index],
                    "title": article.get("title", ""),
                    "context": context,
                    "qa": qa,
                })
