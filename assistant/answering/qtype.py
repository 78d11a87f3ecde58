"""Question types, for Vietnamese (with or without marks) and English.

`detect_qtype` reads what a question asks for (a quantity, a percentage, a date, a person or
body, a place) from its question words; `assistant.answering.spans` finds the answers of that type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from assistant.answering.units import asked_unit
from assistant.language import Token, fold, gloss_english, tokens

QKind = Literal["quantity", "percent", "date", "person", "place", "other"]
SpanKind = Literal["quantity", "percent", "date", "person", "body", "place"]
EntityPreference = Literal["person", "body", "any"]


@dataclass(frozen=True)
class QuestionType:
    """What a question asks for.

    Attributes:
        kind: The expected answer type.
        cue: Token indices `[i, j)` (into `language.tokens(question)`) of the question words
            ("bao nhiêu", "how many"); they are not content words.
        hint: Accent-folded words naming what is counted ("đảng viên" in "bao nhiêu đảng
            viên", glossed for English: "party members" -> "dang vien").
        entity: For "person" questions, whether a person, a body (agency, committee) or either
            is expected.
        unit: For quantities and dates, the unit class the question names ("duration" for
            "bao nhiêu năm tù", "year" for "năm nào"; `assistant.answering.units`), or None.
    """

    kind: QKind
    cue: tuple[int, int] | None = None
    hint: tuple[str, ...] = ()
    entity: EntityPreference = "any"
    unit: str | None = None


@dataclass(frozen=True)
class Span:
    """An answer expression inside a sentence: `sentence[start:end] == text`."""

    text: str
    start: int
    end: int
    kind: SpanKind


# --------------------------------------------------------------------------------------------
# question types

# Question phrases, written with marks. A word of the question matches a word of a phrase
# when they are equal, or when the question word has no marks at all and equals the phrase
# word folded ("bao nhieu" matches "bao nhiêu"; "máy" never matches "mấy"). Phrases starting
# with "=" only match as written (unaccented "dau" is far more often "đầu" than "đâu").
_CUES: dict[QKind, tuple[str, ...]] = {
    "percent": (
        "bao nhiêu phần trăm", "mấy phần trăm", "tỷ lệ", "tỉ lệ", "phần trăm",
        "what percentage", "what percent", "which percentage", "how many percent",
        "what proportion", "what share", "what rate", "percentage",
    ),
    "date": (
        "khi nào", "lúc nào", "bao giờ", "ngày nào", "ngày mấy", "ngày bao nhiêu", "năm nào",
        "năm bao nhiêu", "tháng nào", "tháng mấy", "thời gian nào", "thời điểm nào", "hôm nào",
        "hồi nào", "dịp nào", "mấy giờ", "since when", "when", "what date", "which date",
        "what day", "which day", "what year", "which year", "what month", "which month",
        "what time",
    ),
    "quantity": (
        "bao nhiêu", "mấy", "số lượng", "bao lâu", "bao xa", "how many", "how much", "how long",
        "how far", "how large", "how big", "what number", "number of", "what amount",
    ),
    "person": (
        "ai", "người nào", "vị nào", "ông nào", "bà nào", "đồng chí nào", "những ai",
        "cơ quan nào", "đơn vị nào", "tổ chức nào", "ban nào", "sở nào", "bộ nào", "who",
        "whom", "whose", "which agency", "what agency", "which organization",
        "what organization", "which organisation", "which body", "what body", "which unit",
        "which committee", "which department", "which ministry",
    ),
    "place": (
        "ở đâu", "tại đâu", "=đâu", "nơi nào", "địa điểm nào", "chỗ nào", "tỉnh nào",
        "huyện nào", "xã nào", "nước nào", "thành phố nào", "địa phương nào", "vùng nào",
        "khu vực nào", "where", "which province", "what province", "which city", "what city",
        "which district", "which country", "what country", "what place", "which place",
        "what location", "which commune", "which village",
    ),
}  # fmt: skip
_KIND_ORDER: tuple[QKind, ...] = ("percent", "date", "quantity", "person", "place")


def bar_set(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.split("|"))


_BODY_CUES = bar_set(
    """cơ quan nào|đơn vị nào|tổ chức nào|ban nào|sở nào|bộ nào|which agency|what agency
    |which organization|what organization|which organisation|which body|what body|which unit
    |which committee|which department|which ministry"""
)
# "máy bay", "máy tính": unaccented "may" before these is "máy", not "mấy".
_NOT_MAY = frozenset("bay tinh moc man thu may".split())
# Words that end a quantity hint ("bao nhiêu đảng viên | bị kỷ luật"), as written, and those
# that also end it unaccented ("dang" is more often "đảng" than "đang", so it is not one).
_HINT_STOP = frozenset(
    """bị được đã là có đạt chiếm tại ở trong của và với cho đến từ thì mà này đó nào không
    chưa sẽ đang hiện hay trên năm""".split()
)
_HINT_STOP_PLAIN = frozenset(
    """bi duoc la dat chiem tai o trong cua va voi cho den tu thi ma nay nao khong chua se
    hien hay tren were was are is have has had did do does been be in by at of to for on
    from with during since after before this that the""".split()
)
_ANY_ENTITY = frozenset({"ai", "những ai", "who", "whom", "whose"})


def _cue_index() -> dict[str, list[tuple[int, QKind, bool, tuple[str, ...], tuple[str, ...], str]]]:
    """Question phrases by the folded form of their first word."""
    index: dict[str, list[tuple[int, QKind, bool, tuple[str, ...], tuple[str, ...], str]]] = {}
    for order, kind in enumerate(_KIND_ORDER):
        for phrase in _CUES[kind]:
            exact = phrase.startswith("=")
            words = tuple(phrase.lstrip("=").split())
            folded = tuple(fold(w) for w in words)
            index.setdefault(folded[0], []).append((order, kind, exact, words, folded, phrase))
    return index


_CUE_INDEX = _cue_index()


def _word_matches(tok: Token, word: str, folded: str, exact: bool) -> bool:
    if tok.lower == word:
        return True
    return not exact and not tok.accented and tok.folded == folded


def detect_qtype(question: str) -> QuestionType:
    """Detect what a question asks for.

    The longest question phrase wins ("ngày bao nhiêu" is a date, not a quantity); a "%" or a
    percentage word next to a quantity phrase makes it a percentage question.

    Args:
        question: A Vietnamese (with or without marks) or English question.

    Returns:
        The question type, with the cue's token range and what is counted, if anything.
    """
    toks = tokens(question)
    best: tuple[int, int, int, QKind, str] | None = None  # (-length, order, start, kind, phrase)
    rate: tuple[int, int, int, QKind, str] | None = None  # "tỷ lệ": only a weak cue
    for i, first in enumerate(toks):
        for order, kind, exact, words, folded, phrase in _CUE_INDEX.get(first.folded, ()):
            n = len(words)
            if i + n > len(toks) or not all(
                _word_matches(toks[i + k], words[k], folded[k], exact) for k in range(n)
            ):
                continue
            if phrase == "mấy" and first.lower == "may":
                nxt = toks[i + 1].folded if i + 1 < len(toks) else ""
                if nxt in _NOT_MAY:
                    continue
            key = (-n, order, i, kind, phrase)
            if phrase in _RATE_CUES:
                rate = rate or key
            elif best is None or key < best:
                best = key
    if best is None and rate is not None and not any(_asks_other(t) for t in toks):
        best = rate
    if best is None:
        return QuestionType("other")
    neg_len, _, start, kind, phrase = best
    end = start + -neg_len
    if kind == "quantity" and ("%" in question or rate is not None):
        kind = "percent"
    hint: tuple[str, ...] = ()
    if kind in ("quantity", "percent"):
        hint = _hint(question, toks, end)
    entity: EntityPreference = "any"
    if kind == "person":
        entity = "body" if phrase in _BODY_CUES else "any" if phrase in _ANY_ENTITY else "person"
    unit = asked_unit(kind, fold(phrase.lstrip("=")), toks[end : end + 2])
    return QuestionType(kind, (start, end), hint, entity, unit)


# "Tỷ lệ" names a rate but asks nothing: "Tỷ lệ ... là bao nhiêu?" asks a percentage, "Tỷ lệ
# ... ở độ tuổi nào?" an age group, "Vì sao tỷ lệ ... cao?" a reason. Alone, with no other
# question word, it asks a percentage ("Tỷ lệ hộ nghèo năm 2022?").
_RATE_CUES = frozenset({"tỷ lệ", "tỉ lệ"})
_OTHER_QUESTION_WORDS = frozenset("gì nào sao đâu ai".split())


def _asks_other(tok: Token) -> bool:
    return tok.lower in _OTHER_QUESTION_WORDS or (
        not tok.accented and tok.folded in ("gi", "nao", "sao")
    )


def _hint(question: str, toks: list[Token], end: int) -> tuple[str, ...]:
    """The words right after "bao nhiêu"/"how many": what is being counted."""
    words: list[Token] = []
    for tok in toks[end : end + 2]:
        plain = not tok.accented
        if tok.lower in _HINT_STOP or (plain and tok.folded in _HINT_STOP_PLAIN):
            break
        if tok.folded.isdigit():
            break
        words.append(tok)
    if not words:
        return ()
    if all(not t.accented for t in words) and any(t.folded not in _VI_HINT_OK for t in words):
        phrase = question[words[0].start : words[-1].end]
        glossed = [alts[0] for _, alts in gloss_english(phrase) if alts]
        if glossed:  # English: "party members" -> "dang vien"
            return tuple(glossed[0])
    return tuple(t.folded for t in words)


# Unaccented words that are Vietnamese rather than English in a hint.
_VI_HINT_OK = frozenset(
    """dang vien chi bo nguoi ho thi sinh hoc can cong chuc xa thon lang ha tan dong trieu ty
    nghin ngan tram con cay nha truong benh nhan doanh nghiep du an""".split()
)
