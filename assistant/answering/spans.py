"""Typed answer spans: the number, date, name or place in a sentence that answers a question.

`find_spans` lists the expressions of a type in a sentence, and `extract_span` picks the one
that answers the question, by the question words around it. Everything here is a pure function
over strings; offsets index the sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.answering.qtype import QKind, QuestionType, Span, SpanKind, bar_set
from assistant.answering.units import MAGNITUDE
from assistant.language import fold, tokens

_NUM = r"(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?"
_PERCENT_RE = re.compile(rf"(?<![\w.,/-]){_NUM}\s*(?:%|phần trăm|percent\b)", re.IGNORECASE)
_NUMBER_RE = re.compile(rf"(?<![\w.,/-])(?:{_NUM}/)?{_NUM}(?![\w%/-]|[.,]\d|\s*%)")
_DATE_PREFIX = r"(?:(?<!\w)(?:rạng sáng|sáng|trưa|chiều|tối|đêm|hôm|ngày|mùng|mồng)\s+)?"
_DATE_RES = (
    # 28-6-2021, ngày 30-6, chiều 15-7, 25/3/2022, 30.6.2021
    re.compile(
        rf"{_DATE_PREFIX}(?<![\w.,/-])(\d{{1,2}})([-/])(\d{{1,2}})(?:\2(\d{{4}}))?"
        r"(?![\w/-]|[.,]\d)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"{_DATE_PREFIX}(?<![\w.,/-])(\d{{1,2}})\.(\d{{1,2}})\.(\d{{4}})(?![\w/-]|[.,]\d)",
        re.IGNORECASE,
    ),
    # tháng 7/2022, tháng 7-2022, tháng 7 năm 2022, tháng 7
    re.compile(r"tháng\s+(\d{1,2})(?:\s*[-/]\s*\d{4}|\s+năm\s+\d{4})?(?![\w/-]|[.,]\d)", re.I),
    # năm 2020
    re.compile(r"năm\s+(\d{4})(?![\w/-]|[.,]\d)", re.IGNORECASE),
    # 8 giờ 30, 8h30
    re.compile(r"(?<![\w.,/-])(\d{1,2})\s*(?:giờ|h)\s*(\d{1,2})?(?:\s*phút)?(?!\w)", re.I),
)
# Words after which a number is a code, an ordinal or a year, never a count.
_NOT_COUNT_BEFORE = frozenset("số thứ năm khóa khoá kỳ điều khoản lần".split())
_UNIT_STOP = frozenset(
    """bị được đã là có và với so của trong thì mà đạt chiếm tại ở trên này đó cho từ đến
    theo khi nhưng hoặc hay cũng vẫn sẽ đang do vì nên để tăng giảm gồm""".split()
)


def _valid_date(m: re.Match[str]) -> bool:
    if m.re is _DATE_RES[0] or m.re is _DATE_RES[1]:
        day, month = int(m.group(1)), int(m.group(3) if m.re is _DATE_RES[0] else m.group(2))
        return 1 <= day <= 31 and 1 <= month <= 12
    if m.re is _DATE_RES[2]:
        return 1 <= int(m.group(1)) <= 12
    if m.re is _DATE_RES[4]:
        return int(m.group(1)) <= 24
    return True


def _date_spans(sentence: str) -> list[Span]:
    spans: list[Span] = []
    for rx in _DATE_RES:
        for m in rx.finditer(sentence):
            if not _valid_date(m):
                continue
            if any(s.start < m.end() and m.start() < s.end for s in spans):
                continue
            spans.append(Span(m.group(), m.start(), m.end(), "date"))
    return sorted(spans, key=lambda s: s.start)


def _percent_spans(sentence: str) -> list[Span]:
    return [Span(m.group(), m.start(), m.end(), "percent") for m in _PERCENT_RE.finditer(sentence)]


def _word_before(sentence: str, pos: int) -> str:
    m = re.search(r"([^\W\d_]+)\s+$", sentence[max(0, pos - 24) : pos])
    return m.group(1).lower() if m else ""


def _quantity_spans(sentence: str, hint: Sequence[str] = ()) -> list[Span]:
    dates = _date_spans(sentence)
    spans: list[Span] = []
    for m in _NUMBER_RE.finditer(sentence):
        if any(d.start <= m.start() < d.end for d in dates):
            continue
        if _word_before(sentence, m.start()) in _NOT_COUNT_BEFORE:
            continue
        end = _unit_end(sentence, m.end(), hint)
        spans.append(Span(sentence[m.start() : end], m.start(), end, "quantity"))
    return spans


def _unit_end(sentence: str, pos: int, hint: Sequence[str]) -> int:
    """Where "787 | đảng viên" ends: the counted noun, magnitude words included."""
    words = []
    for m in re.finditer(r"\s+([^\W\d_]+)", sentence[pos:]):
        if m.start() != (words[-1][1] if words else 0):
            break  # punctuation in between
        words.append((m.group(1), m.end()))
        if len(words) == 5:
            break
    if not words:
        return pos
    folded = [fold(w) for w, _ in words]
    if hint and tuple(folded[: len(hint)]) == tuple(hint):
        return pos + words[len(hint) - 1][1]
    k = 0
    while k < len(words) and words[k][0].lower() in MAGNITUDE:
        k += 1
    take = k
    for w, _ in words[k : k + 2]:
        if w.lower() in _UNIT_STOP or (w[0].isupper() and take > k):
            break
        take += 1
    return pos + words[take - 1][1] if take else pos


# Names: a surname, then one to four capitalized words.
_SURNAMES = frozenset(
    """Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Đoàn Lâm
    Trịnh Mai Trương Hà Cao Lưu Tạ Thái Quách Tô Châu Chu Từ Đàm Văn Kiều Lương Mạc Tăng Triệu
    Vương Thân Hứa Lại Khổng Ông Phùng Nông Lò Kpă Ksor Siu Rơ Rah Nay Puih Rcom Rmah Đào
    Nghiêm La Doãn Tôn Kim Y H""".split()
)
# Honorifics after which capitalized words are a name, whatever the surname.
_HONORIFIC = frozenset("ông bà anh chị em cháu cụ thầy cô chú bác chí".split())
# Words that end a name ("Nguyễn Văn A | Chủ tịch").
_NOT_NAME = frozenset("Ủy UBND HĐND Ban Sở Bộ Phó Trưởng Chủ Bí Giám Tổng Thủ Tỉnh Huyện".split())
# Lower-case second syllables inside capitalized names of bodies ("Ban Tổ chức Tỉnh ủy").
_CONT = frozenset(
    """chức ủy uỷ hành vụ trị nhân dân sự quốc phủ hội tịch thư đốc ban nghiệp học tế văn hóa
    hoá trận lực đoàn viên đồng an huy đội sát kiểm tra bạc hàng tâm phòng bộ""".split()
)
_BODY_HEAD1 = frozenset(
    "Ban Bộ Sở Cục Viện Hội UBND HĐND MTTQ Đoàn Phòng Trường Báo Đài Tòa".split()
)
_BODY_HEAD2 = bar_set(
    """tỉnh ủy|thành ủy|huyện ủy|thị ủy|đảng ủy|tỉnh uỷ|thành uỷ|huyện uỷ|đảng uỷ|đảng bộ
    |ủy ban|uỷ ban|hội đồng|công an|công ty|tổng công|tổng cục|liên đoàn|mặt trận|quốc hội
    |chính phủ|trung tâm|bệnh viện|văn phòng|ngân hàng|kho bạc|chi cục|học viện|đại học
    |tập đoàn|hợp tác|tòa án|tỉnh đoàn|thành đoàn|bộ chỉ|bộ đội"""
)
_PLACE_TYPES = frozenset(
    "tỉnh thành phố huyện thị xã trấn phường quận thôn làng buôn bản khu đường xóm ấp tp".split()
)
_PLACE_PREP = frozenset("tại ở in at".split())
_LETTER_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int

    @property
    def cap(self) -> bool:
        return self.text[0].isupper()


def _cap_runs(sentence: str, words: list[_Word]) -> list[list[int]]:
    """Runs of capitalized words ("Ban Tổ chức Tỉnh ủy Gia Lai"), as word indices."""
    runs: list[list[int]] = []
    cur: list[int] = []
    for i, w in enumerate(words):
        prev = words[cur[-1]] if cur else None
        gap = sentence[prev.end : w.start] if prev else ""
        joined = prev is not None and (gap == " " or (gap == "." and prev.text.isupper()))
        if w.cap:
            if cur and joined:
                cur.append(i)
            else:
                if cur:
                    runs.append(cur)
                cur = [i]
        elif (
            cur
            and joined
            and w.text in _CONT
            and (words[cur[-1]].cap or (len(cur) > 1 and words[cur[-2]].cap))
        ):
            cur.append(i)
        else:
            if cur:
                runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def _span(sentence: str, words: list[_Word], i: int, j: int, kind: SpanKind) -> Span:
    start, end = words[i].start, words[j].end
    return Span(sentence[start:end], start, end, kind)


def _name_end(words: list[_Word], run: list[int], k: int, limit: int) -> int:
    """Last run position of a name starting at run position k (k itself if none)."""
    last = k
    while last + 1 < len(run) and last + 1 - k < limit:
        w = words[run[last + 1]]
        if not w.cap or w.text in _NOT_NAME:
            break
        last += 1
    return last


def _entity_spans(sentence: str) -> tuple[list[Span], list[Span], list[Span]]:
    """Persons, bodies and places in a sentence."""
    words = [_Word(m.group(), m.start(), m.end()) for m in _LETTER_WORD.finditer(sentence)]
    persons: list[Span] = []
    bodies: list[Span] = []
    places: list[Span] = []
    for run in _cap_runs(sentence, words):
        name_starts: list[int] = []
        first = words[run[0]]
        before = words[run[0] - 1].text.lower() if run[0] > 0 else ""
        k = 0
        while k < len(run):
            w = words[run[k]]
            honorific = k == 0 and before in _HONORIFIC
            if (w.text in _SURNAMES or honorific) and k + 1 < len(run) and words[run[k + 1]].cap:
                last = _name_end(words, run, k, 5)
                if last > k:
                    persons.append(_span(sentence, words, run[k], run[last], "person"))
                    name_starts.append(k)
                    k = last + 1
                    continue
            k += 1
        # A body starts its run; one inside a run is part of a title ("Trưởng ban Tổ chức
        # Tỉnh ủy"), not an actor.
        pair = f"{first.text.lower()} {words[run[1]].text.lower()}" if len(run) > 1 else ""
        if first.text in _BODY_HEAD1 or pair in _BODY_HEAD2:
            stop = min([s for s in name_starts if s > 0], default=len(run))
            if stop >= 2 or first.text.isupper():
                bodies.append(_span(sentence, words, run[0], run[stop - 1], "body"))
        # Places: after "tại/ở" (with "tỉnh", "thành phố" ... before the name), or named
        # with a place type ("tỉnh Gia Lai").
        lead = run[0]
        while lead > 0 and words[lead - 1].text.lower() in _PLACE_TYPES and run[0] - lead < 2:
            lead -= 1
        prep = words[lead - 1].text.lower() if lead > 0 else ""
        typed = lead < run[0] or first.text.lower() in _PLACE_TYPES
        if prep in _PLACE_PREP or typed:
            stop = min(name_starts, default=len(run)) if name_starts != [0] else len(run)
            if stop > 0:
                places.append(_span(sentence, words, lead, run[stop - 1], "place"))
    return persons, bodies, places


@lru_cache(maxsize=4096)
def _find_spans(kind: str, sentence: str, hint: tuple[str, ...], entity: str) -> tuple[Span, ...]:
    return tuple(_find_spans_uncached(kind, sentence, hint, entity))


def find_spans(
    kind: SpanKind | QKind, sentence: str, hint: Sequence[str] = (), entity: str = "any"
) -> list[Span]:
    """All expressions of a type in a sentence, in order.

    Args:
        kind: "quantity", "percent", "date", "person" (people and bodies, or only one of them
            with `entity`), "body" or "place"; "other" gives nothing.
        sentence: One sentence (any text works).
        hint: For quantities, the accent-folded counted noun, so its words become the unit.
        entity: For "person": "person", "body" or "any".

    Returns:
        Spans whose offsets index `sentence`.
    """
    return list(_find_spans(kind, sentence, tuple(hint), entity))


def _find_spans_uncached(
    kind: str, sentence: str, hint: tuple[str, ...], entity: str
) -> list[Span]:
    if kind == "quantity":
        return _quantity_spans(sentence, hint)
    if kind == "percent":
        return _percent_spans(sentence)
    if kind == "date":
        return _date_spans(sentence)
    if kind in ("person", "body", "place"):
        persons, bodies, places = _entity_spans(sentence)
        if kind == "place":
            return places
        if kind == "body" or entity == "body":
            return bodies
        if entity == "person":
            return persons
        return sorted(persons + bodies, key=lambda s: s.start)
    return []


# --------------------------------------------------------------------------------------------
# choosing a span

# Clause boundaries: punctuation, and "và"/"còn" between coordinated facts.
_CLAUSE = re.compile(r"[,;:()\[\]–—]|\s-\s|\s(?:và|còn|nhưng|trong đó|so với)\s", re.IGNORECASE)
_MAJOR = re.compile(r"[;:]")
# (inside the span's clause before it, after it, in the neighbouring clauses)
_DIRECTION = {
    "quantity": (0.7, 1.0, 0.3),
    "percent": (1.0, 0.7, 0.3),
    "date": (1.0, 0.8, 0.3),
    "person": (1.0, 1.0, 0.4),
    "body": (1.0, 1.0, 0.4),
    "place": (1.0, 0.6, 0.3),
}


def _clauses(sentence: str) -> list[tuple[int, int]]:
    bounds = [0]
    for m in _CLAUSE.finditer(sentence):
        bounds += [m.start(), m.end()]
    bounds.append(len(sentence))
    return [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]


def _overlap(text: str, terms: Mapping[str, float]) -> float:
    found = {t.folded for t in tokens(text)}
    return sum(w for t, w in terms.items() if t in found)


def _context_score(
    sentence: str, span: Span, clauses: list[tuple[int, int]], terms: Mapping[str, float]
) -> float:
    before_w, after_w, near_w = _DIRECTION[span.kind]
    k = next((i for i, (s, e) in enumerate(clauses) if s <= span.start < e), 0)
    s, e = clauses[k]
    score = before_w * _overlap(sentence[s : span.start], terms)
    score += after_w * _overlap(sentence[span.end : max(e, span.end)], terms)
    majors = [m.start() for m in _MAJOR.finditer(sentence)]
    for n in (k - 1, k + 1):
        if 0 <= n < len(clauses):
            ns, ne = clauses[n]
            crosses = any(min(ns, s) <= p < max(ne, e) for p in majors)
            score += near_w * (0.5 if crosses else 1.0) * _overlap(sentence[ns:ne], terms)
    return score


# Words that change a title's meaning: "Phó Trưởng ban" is not "Trưởng ban".
_MODIFIERS = {"phó": "pho", "nguyên": "nguyen"}


def _entity_score(
    sentence: str,
    span: Span,
    same_kind: list[Span],
    terms: Mapping[str, float],
    asked: set[str],
) -> float:
    """Question words around a name, within what its apposition covers.

    That is from the previous name of its kind (or a ";") up to it, and from it to the next
    one: in "A-Ủy viên …, Trưởng ban …; B-Phó …" the titles after A are A's.
    """
    before_w, after_w, _ = _DIRECTION[span.kind]
    majors = [m.start() for m in _MAJOR.finditer(sentence)]
    lo = max(
        [s.end for s in same_kind if s.end <= span.start]
        + [p + 1 for p in majors if p < span.start]
        + [0]
    )
    hi = min(
        [s.start for s in same_kind if s.start >= span.end]
        + [p for p in majors if p >= span.end]
        + [len(sentence)]
    )
    score = 0.0
    for weight, region in (
        (before_w, sentence[lo : span.start]),
        (after_w, sentence[span.end : hi]),
    ):
        toks = tokens(region)
        modified = any(
            t.lower in _MODIFIERS and _MODIFIERS[t.lower] not in asked and nxt.folded in terms
            for t, nxt in zip(toks, toks[1:])
        )
        score += weight * _overlap(region, terms) * (0.5 if modified else 1.0)
    return score


def extract_span(
    qtype: QuestionType,
    sentence: str,
    terms: Mapping[str, float] | None = None,
    *,
    question_words: Iterable[str] = (),
) -> Span | None:
    """The expression of the expected type that answers the question, if the sentence has one.

    Candidates are scored by the question's words around them: in the same clause (before or
    after, as the type usually stands in Vietnamese: "kết nạp được 787 đảng viên",
    "Nghị quyết số 02-NQ/TW ngày 28-6-2021"), then in the neighbouring clauses. Entities made
    of the question's own words (the title asked about) are skipped.

    Args:
        qtype: From `detect_qtype`.
        sentence: The sentence to extract from.
        terms: Accent-folded question words with weights.
        question_words: Accent-folded words of the question, to skip entities it names.

    Returns:
        The best span, or None when the type is "other" or the sentence has none.
    """
    if qtype.kind == "other":
        return None
    candidates = find_spans(qtype.kind, sentence, qtype.hint, qtype.entity)
    if not candidates:
        return None
    terms = terms or {}
    asked = set(question_words)
    clauses = _clauses(sentence)
    best: tuple[float, Span] | None = None
    for i, span in enumerate(candidates):
        if span.kind in ("person", "body"):
            same_kind = [s for s in candidates if s.kind == span.kind and s is not span]
            score = _entity_score(sentence, span, same_kind, terms, asked) - 0.01 * i
        else:
            score = _context_score(sentence, span, clauses, terms) - 0.01 * i
        if span.kind in ("person", "body", "place"):
            own = [t.folded for t in tokens(span.text)]
            inside = sum(t in asked for t in own) / len(own)
            if inside == 1.0:
                continue  # the question's own subject, not its answer
            score -= 2.0 * inside
            if qtype.entity == "any" and span.kind == "person":
                score += 0.25
        if span.kind == "quantity" and qtype.hint:
            unit = tuple(t.folded for t in tokens(span.text) if not t.folded.isdigit())
            if unit[: len(qtype.hint)] == qtype.hint:
                score += 2.0
        if span.kind == "date":
            score += 0.1 * math.log1p(len(span.text))  # "ngày 28-6-2021" over "năm 2021"
        if best is None or score > best[0]:
            best = (score, span)
    return best[1] if best else None
