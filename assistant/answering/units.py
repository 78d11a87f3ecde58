"""The unit a question asks in, and whether a sentence states something in that unit.

Why: the reader reads meaning, not units. Given a question whose article lacks the answer it
still finds a sentence that "answers" it with a figure of another kind ("bao nhiêu năm tù?" ->
"25 tuổi", "sâu bao nhiêu mét?" -> "2", "bao nhiêu héc-ta?" -> "bột Alumin"). A question that
names its unit (years, metres, hectares, money, a year, a day, an hour) can only be answered by
a sentence stating a figure in that unit, so the reader reads only those and, when there is
none, the answer abstains (docs/EVALUATION.md, session 17).

Count nouns ("bao nhiêu người") are not units: the article says "2 nạn nhân" or "khiến 2
người tử vong" as often as "2 người chết", so they are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.language import Token, fold

# Unit classes by the folded word(s) that name them right after "bao nhiêu"/"how many" (or
# the cue itself: "bao lâu" asks a duration). Several words map to one class: an answer in
# months answers "how many years" well enough.
_UNIT_WORDS: dict[str, str] = {
    # durations
    "nam": "duration", "thang": "duration", "tuan": "duration", "ngay": "duration",
    "gio": "duration", "tieng": "duration", "phut": "duration", "giay": "duration",
    "year": "duration", "years": "duration", "month": "duration", "months": "duration",
    "week": "duration", "weeks": "duration", "day": "duration", "days": "duration",
    "hour": "duration", "hours": "duration", "minute": "duration", "minutes": "duration",
    # age
    "tuoi": "age",
    # lengths and speeds
    "met": "length", "m": "length", "km": "length", "cm": "length", "mm": "length",
    "meter": "length", "meters": "length", "metre": "length", "metres": "length",
    "kilometer": "length", "kilometers": "length", "kilometres": "length",
    # areas
    "ha": "area", "hecta": "area", "hec": "area", "hectare": "area", "hectares": "area",
    "m2": "area",
    # weights
    "tan": "weight", "kg": "weight", "ton": "weight", "tons": "weight", "tonnes": "weight",
    "kilogram": "weight", "kilograms": "weight",
    # money
    "tien": "money", "dong": "money", "vnd": "money", "usd": "money", "money": "money",
    "ty": "money", "trieu": "money",
}  # fmt: skip
_CUE_UNITS = {"bao lau": "duration", "how long": "extent", "bao xa": "length"}
# Date questions that name the part of the date they want ("ngày nào", "what year"); "khi
# nào", "bao giờ", "when" name none.
_DATE_UNITS = {
    "ngay nao": "day", "ngay may": "day", "ngay bao nhieu": "day", "thang nao": "day",
    "thang may": "day", "hom nao": "day", "what date": "day", "which date": "day",
    "what day": "day", "which day": "day", "what month": "day", "which month": "day",
    "nam nao": "year", "nam bao nhieu": "year", "what year": "year", "which year": "year",
    "may gio": "time", "what time": "time",
}  # fmt: skip

# A figure, or a number written out ("hai tháng", "chưa tới năm giây"), folded, and the space
# after it.
_NUM = r"(?<![\w.,])(?:\d[\d.,]*\s*|(?:mot|hai|ba|bon|tu|nam|sau|bay|tam|chin|muoi|vai|nua)\s+)"
# Words of magnitude after a figure ("1,2 triệu"), and their folded forms in a pattern.
MAGNITUDE = frozenset("nghìn ngàn triệu tỷ tỉ trăm vạn".split())
_MAGNITUDE = rf"(?:(?:{'|'.join(sorted({fold(w) for w in MAGNITUDE}))})\s+)*"


# Units of time, folded: a duration's and, with lengths, what "how long" is answered in.
_TIME_WORDS = "nam|thang|tuan|ngay|gio|tieng|phut|giay|h"


def _after_number(words: str) -> re.Pattern[str]:
    return re.compile(rf"{_NUM}{_MAGNITUDE}(?:{words})(?!\w)")


# What a sentence must hold, on its accent-folded lowercase text, for each unit class.
_FITS: dict[str, re.Pattern[str]] = {
    "duration": _after_number(rf"{_TIME_WORDS}|thap ky|thap nien|the ky|chung than"),
    "age": re.compile(rf"{_NUM}tuoi|\btuoi\s+\d|\bsinh nam\s+\d{{4}}"),
    "length": _after_number(r"m|met|km|cm|mm|kilomet|cay so|dam|mi|km/h|km/gio|m/s"),
    # "how long": a length or a duration
    "extent": _after_number(rf"{_TIME_WORDS}|m|met|km|cm|kilomet|cay so|dam"),
    "area": _after_number(r"ha|hecta|hec-ta|hec ta|m2|km2|sao|mau"),
    "weight": _after_number(r"tan|kg|kilogam|ta|yen|gram|g"),
    "money": _after_number(r"dong|d|vnd|usd|trieu|ty|ti|nghin|ngan|do la|euro"),
    # 30-6, 25/3/2022, 30.6, ngày 8, tháng 7, mùng 2, thứ Hai, Chủ nhật: a year alone is no day
    "day": re.compile(
        r"(?<![\d.,])\d{1,2}\s*[-/.]\s*\d{1,2}(?!\d)|\b(?:ngay|thang|mung|mong)\s+\d"
        r"|\bthu\s+(?:hai|ba|tu|nam|sau|bay)\b|\bchu nhat\b"
    ),
    "year": re.compile(r"(?<![\d.,])\d{3,4}(?![\d]|[.,]\d)|\bnam \d"),
    # 17h30, 4g16, 19 giờ 30, 7:15, một giờ sáng
    "time": re.compile(rf"(?<![\w.,])\d{{1,2}}\s*(?:h|g|gio|:)\s*\d{{0,2}}(?!\w)|{_NUM}gio"),
}
# A life sentence answers "how many years in prison".
_LIFE = re.compile(r"\b(?:chung than|tu hinh)\b")


def asked_unit(kind: str, cue: str, after: Sequence[Token]) -> str | None:
    """The unit class a typed question asks in, or None when it names none.

    Args:
        kind: The question type ("quantity", "percent", "date"...).
        cue: The folded question phrase ("bao nhieu", "ngay nao", "what year").
        after: The question's tokens right after the phrase.
    """
    if kind == "quantity":
        if cue in _CUE_UNITS:
            return _CUE_UNITS[cue]
        if not after or (len(after) > 1 and after[1].folded.isdigit()):
            return None  # "bao nhiêu năm 2007": a year, not years
        return _UNIT_WORDS.get(after[0].folded)
    if kind == "date":
        return _DATE_UNITS.get(cue)
    return None


def states_unit(unit: str | None, sentence: str) -> bool:
    """Whether `sentence` states a figure in `unit` (always, when the question named none)."""
    if unit is None:
        return True
    text = fold(sentence)
    if _FITS[unit].search(text):
        return True
    return unit == "duration" and bool(_LIFE.search(text))
