"""Text cleaning shared by articles and queries, so both sides compare the same characters.

All functions are pure. `clean_text` is what every article body goes through before it is
stored; `normalize_query` applies the same rules to a question, and `fold_diacritics` gives
an accent-insensitive key for search.

Tone marks: Vietnamese has two placements for `oa`, `oe`, `uy` without a final consonant
(`hoà`/`hòa`, `khoẻ`/`khỏe`, `thuý`/`thúy`). We keep the traditional one (`hòa`, `khỏe`,
`thúy`), which most news outlets, including the sample archive, use.
`underthesea.text_normalize` also does this but re-tokenizes (adds spaces around
punctuation), which would change the text, so a small syllable-level rule is used instead.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

# Character-class ranges of what renders as nothing but breaks matching (zero-width, BOM,
# soft hyphen, bidi marks).
_INVISIBLE = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"
# Everything that ends a line: Windows/old-Mac newlines and the Unicode separators.
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
# Control characters (C0 except \t and \n, DEL, C1); removed outright.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f" + _INVISIBLE + "]")
_BLANK_RUNS = re.compile(r"\n{3,}")

_CONSONANTS = frozenset("bcdđghklmnpqrstvxBCDĐGHKLMNPQRSTVX")
# o+a, o+e or u+y ending a word, tone on the last vowel (the "new" style). The initial
# consonants are checked in `_move_tone`: a regex lookbehind here made cleaning 7x slower.
_NEW_STYLE_TONE = re.compile(r"(?:[oO][àáảãạÀÁẢÃẠèéẻẽẹÈÉẺẼẸ]|[uU][ỳýỷỹỵỲÝỶỸỴ])(?![^\W\d_])")


def _move_tone(match: re.Match[str]) -> str:
    text, pos = match.string, match.start()
    first, last = match.group(0)
    begin = pos
    while begin > 0 and text[begin - 1] in _CONSONANTS:
        begin -= 1
    if begin > 0 and text[begin - 1].isalpha():
        return match.group(0)  # not the start of the syllable ("khoa" inside a longer word)
    if first in "uU" and text[begin:pos].lower().endswith("q"):
        return match.group(0)  # "quý": the u belongs to "qu", the tone is already right.
    decomposed = unicodedata.normalize("NFD", last)
    return unicodedata.normalize("NFC", first + decomposed[1:]) + decomposed[0]


def normalize_tone_marks(text: str) -> str:
    """Rewrite `hoà`, `khoẻ`, `thuý` as `hòa`, `khỏe`, `thúy`; length is unchanged.

    Expects NFC text (see `clean_text`).
    """
    return _NEW_STYLE_TONE.sub(_move_tone, text)


def clean_text(text: str) -> str:
    r"""Clean an article body so equal texts compare equal and chunk offsets are stable.

    NFC, one tone-mark placement, no zero-width/control characters, single spaces within a
    line, no spaces at line ends, and runs of blank lines reduced to one blank line (so
    paragraphs stay visible as `\n\n`). Single line breaks are kept.
    """
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)  # after removals, so "a\u200b\u0301" becomes "á"
    # str.split() knows every Unicode space (NBSP, thin space ...) and is 3x faster than a regex.
    text = "\n".join([" ".join(line.split()) for line in text.split("\n")])
    text = _BLANK_RUNS.sub("\n\n", text)
    text = normalize_tone_marks(text)
    return text.strip()


def clean_line(text: str) -> str:
    """Clean a one-line field (title, author, caption): `clean_text` with newlines as spaces."""
    return " ".join(clean_text(text).split())


def normalize_query(text: str) -> str:
    """Clean a question exactly like article text, on a single line, so both sides match."""
    return clean_line(text)


def fold_diacritics(text: str) -> str:
    """Lowercase and strip Vietnamese marks (`Đắk Lắk` -> `dak lak`) for accent-insensitive keys."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).lower()


_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?!\d)")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\d{2,6})?$")
_DAY_FIRST = re.compile(r"(?<!\d)(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?!\d)")
_VI_DATE = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s*(?:năm|,|/)?\s*(\d{4})", re.I)
_MONTH_YEAR = re.compile(
    r"(?:tháng\s+)?(?<![\d/.-])(\d{1,2})\s*(?:[-/.]|\s+năm\s+)\s*(\d{4})(?!\d)", re.I
)
_YEAR = re.compile(r"^(\d{4})$")


def _format_date(year: str, month: str | None = None, day: str | None = None) -> str | None:
    y = int(year)
    if not 1800 <= y <= 2200:
        return None
    if month is None:
        return f"{y:04d}"
    m = int(month)
    if not 1 <= m <= 12:
        return None
    if day is None:
        return f"{y:04d}-{m:02d}"
    try:
        return _dt.date(y, m, int(day)).isoformat()
    except ValueError:
        return None


def normalize_date(value: object) -> str | None:
    """Normalize a date to ISO, only as precise as the input (`2022`, `2022-07`, `2022-07-15`).

    Accepts ISO dates and timestamps (`2022-07-15T08:00:00+07:00`, date part kept as written),
    `20220715`, day-first `15/7/2022`, `15-7-2022`, `7/2022` and `ngày 15 tháng 7 năm 2022`.
    Returns None when no valid date is recognized, so a bad value never becomes a wrong date.
    """
    if value is None or isinstance(value, bool):
        return None
    text = clean_line(str(value))
    if not text:
        return None
    if m := _COMPACT_DATE.match(text):
        return _format_date(*m.groups())
    if m := _YEAR.match(text):
        return _format_date(m.group(1))
    for pattern in (_ISO_DATE, _VI_DATE, _DAY_FIRST):
        if m := pattern.search(text):
            y, mo, d = m.groups() if pattern is _ISO_DATE else reversed(m.groups())
            return _format_date(y, mo, d)
    if m := _MONTH_YEAR.search(text):
        return _format_date(m.group(2), m.group(1))
    return None
