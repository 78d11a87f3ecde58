"""A question analysed once: every later stage reads this object instead of re-detecting.

`analyse` cleans the question, detects its language, restores the marks of a Vietnamese
question typed without them (from the store's word counts), tells whether it leans on the
conversation, reads what it asks for (a number, a date, a person...), and writes what the
reader reads. Retrieval, the reader and the answer all take
the result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answering.qtype import QuestionType, detect_qtype
from assistant.language import detect_language
from assistant.models import Language
from assistant.retrieval.diacritics import FormCounts, restore_diacritics
from ingest.clean import fold_diacritics, normalize_query

_FOLLOW_UP = re.compile(
    r"^(con|vay|the con|con ve|and|what about|how about|also|then)\b"
    r"|\b(do|ay|nay|kia|ong ay|ba ay|ho|he|she|they|it|its|their|him|her|that|those|these)\b"
)


def is_unaccented_vietnamese(question: str) -> bool:
    return detect_language(question) == "vi" and fold_diacritics(question) == question.lower()


def is_follow_up(question: str) -> bool:
    """Short or pronoun-led questions lean on the conversation for their topic."""
    folded = fold_diacritics(question).strip()
    return len(folded.split()) <= 6 or bool(_FOLLOW_UP.search(folded))


def reader_text(question: str, history: Sequence[tuple[str, str]]) -> str:
    """What the reader reads: a follow-up carries the previous question before it."""
    if history and is_follow_up(question):
        return f"{normalize_query(history[-1][0])} / {question}"
    return question


@dataclass(frozen=True)
class Question:
    """A question and what was read off it.

    `text` is the cleaned question as asked; `search` the same with restored marks (equal to
    `text` unless it was typed without them); `reader_text` the search text, after the previous
    question for a follow-up.
    """

    text: str
    search: str
    language: Language
    unaccented: bool
    history: tuple[tuple[str, str], ...]
    follow_up: bool
    reader_text: str
    qtype: QuestionType


def analyse(
    question: str, history: Sequence[tuple[str, str]] = (), counts: FormCounts | None = None
) -> Question:
    """Analyse a question once, for retrieval, the reader and the answer."""
    text = normalize_query(question)
    unaccented = is_unaccented_vietnamese(text)
    search = restore_diacritics(text, counts) if unaccented and counts is not None else text
    pairs = tuple(history)
    follow_up = bool(pairs) and is_follow_up(search)
    return Question(
        text=text,
        search=search,
        language=detect_language(text),
        unaccented=unaccented,
        history=pairs,
        follow_up=follow_up,
        reader_text=reader_text(search, pairs),
        qtype=detect_qtype(search),
    )
