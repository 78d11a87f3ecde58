"""The extractive answerer on the sample article: typed short answers, citations, abstention."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from assistant.answering.qtype import detect_qtype
from assistant.answering.rules import ABSTAIN_TEXT, QUOTE_LIMIT, answer_extractive
from assistant.answering.spans import extract_span, find_spans
from assistant.models import Answer, Passage
from ingest.chunk import chunk_spans, split_sentences
from ingest.clean import clean_text

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "000_cb7a5b37da5bff54.txt"

ADMITTED = "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên"
DISCIPLINED = (
    "Về công tác quản lý, giáo dục đảng viên, từ đầu năm đến ngày 30-6, có 129 đảng viên bị "
    "thi hành kỷ luật"
)
RESOLUTION = "Đồng thời, phối hợp với các cơ quan, đơn vị liên quan"
FIRST_VI = "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"


def _stored_body(raw: str) -> str:
    """The sample as the store keeps it: no `date (GLO)-` header, photo captions or byline."""
    body = re.sub(r"\A\s*date\s+\S+\s*\([^)]*\)\s*-?\s*", "", raw)
    lines = [line for line in body.splitlines() if "Ảnh:" not in line]
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[-1].isupper():
        lines.pop()
    return clean_text("\n".join(lines))


@pytest.fixture(scope="module")
def article() -> str:
    return _stored_body(SAMPLE.read_text(encoding="utf-8"))


def _passage(article: str, start: int, end: int, rank: int, similarity: float) -> Passage:
    return Passage(
        chunk_id=f"sample-{start}",
        article_id="cb7a5b37da5bff54",
        title="Gia Lai: sơ kết công tác tổ chức xây dựng Đảng 6 tháng đầu năm",
        text=article[start:end],
        start=start,
        end=end,
        article_text=article,
        score=1.0 / (60 + rank),
        similarity=similarity,
        date="2022-07",
        source="Báo Gia Lai",
    )


def _passages(article: str, needle: str, *, at: int = 0, similarity: float = 0.87) -> list[Passage]:
    """A window of ~300 chars around `needle` ranked `at`, among chunks of the other paragraphs."""
    k = article.index(needle)
    window = (max(0, k - 120), min(len(article), k + 180))
    others = [(s, e) for s, e in chunk_spans(article, 400, 0) if e <= window[0] or s >= window[1]][
        :7
    ]
    spans = others[:at] + [window] + others[at:]
    return [
        _passage(article, s, e, rank, similarity if (s, e) == window else 0.80)
        for rank, (s, e) in enumerate(spans)
    ]


def _check_citations(answer: Answer, article: str) -> None:
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text
        assert article[c.start : c.end] == c.passage
    assert 0.0 <= answer.confidence <= 1.0


def test_how_many_in_english(article: str) -> None:
    answer = answer_extractive(
        "How many party members were admitted by 30 June?", _passages(article, ADMITTED)
    )
    assert not answer.abstained
    assert answer.language == "en"
    assert answer.short is not None and "787" in answer.short
    assert answer.text.startswith("According to the article")
    assert "[1]" in answer.text
    cited = answer.citations[0]
    assert cited.passage.startswith(ADMITTED)
    assert cited.source == "Báo Gia Lai" and cited.date == "2022-07"
    _check_citations(answer, article)


@pytest.mark.parametrize("question", [FIRST_VI, "Tinh den 30-6 ket nap duoc bao nhieu dang vien?"])
def test_how_many_in_vietnamese_with_and_without_marks(article: str, question: str) -> None:
    answer = answer_extractive(question, _passages(article, ADMITTED))
    assert answer.language == "vi"
    assert answer.short == "787 đảng viên"
    assert answer.text.startswith("Theo bài báo")
    assert "787 đảng viên" in answer.text and "[1]" in answer.text
    assert answer.citations[0].passage.startswith(ADMITTED)
    _check_citations(answer, article)


def test_answer_found_below_distractors(article: str) -> None:
    """The right window ranked third still wins on its words and its number."""
    answer = answer_extractive(FIRST_VI, _passages(article, ADMITTED, at=2))
    assert answer.short == "787 đảng viên"
    assert answer.citations[0].passage.startswith(ADMITTED)


@pytest.mark.parametrize(
    "question", ["Còn bao nhiêu đảng viên bị kỷ luật?", "and how many were disciplined?"]
)
def test_follow_up_uses_history(article: str, question: str) -> None:
    # The window holds both the "787 admitted" and the "129 disciplined" sentences.
    passages = _passages(article, DISCIPLINED)
    history = [(FIRST_VI, "787 đảng viên")]
    answer = answer_extractive(question, passages, history=history)
    assert not answer.abstained
    assert answer.short is not None and answer.short.startswith("129")
    assert answer.citations[0].passage.startswith(DISCIPLINED)
    _check_citations(answer, article)


def test_who_skips_the_title_asked_about(article: str) -> None:
    answer = answer_extractive(
        "Ai là Trưởng ban Tổ chức Tỉnh ủy?", _passages(article, "Các đồng chí: Huỳnh")
    )
    assert answer.short == "Huỳnh Quang Thái"  # not "Lý Anh Sang", the deputy ("Phó")
    assert "Huỳnh Quang Thái" in answer.citations[0].passage
    _check_citations(answer, article)


def test_who_deputy(article: str) -> None:
    answer = answer_extractive(
        "Ai là Phó Trưởng ban Tổ chức Tỉnh ủy?", _passages(article, "Các đồng chí: Huỳnh")
    )
    assert answer.short == "Lý Anh Sang"


def test_who_body(article: str) -> None:
    answer = answer_extractive("Ai tổ chức hội nghị sơ kết?", _passages(article, "Chiều 15-7"))
    assert answer.short == "Ban Tổ chức Tỉnh ủy Gia Lai"


def test_when_picks_the_date_of_the_named_document(article: str) -> None:
    answer = answer_extractive(
        "Nghị quyết số 02-NQ/TW ban hành ngày nào?", _passages(article, RESOLUTION)
    )
    assert answer.short is not None and "28-6-2021" in answer.short  # not the plan's 3-11-2021
    assert answer.citations[0].passage.startswith(RESOLUTION)
    _check_citations(answer, article)


def test_when_without_marks(article: str) -> None:
    answer = answer_extractive(
        "Ke hoach so 50-KH/TU ban hanh khi nao?", _passages(article, RESOLUTION)
    )
    assert answer.short is not None and "3-11-2021" in answer.short


def test_what_percentage(article: str) -> None:
    answer = answer_extractive(
        "What percentage of the annual target did party admissions reach?",
        _passages(article, ADMITTED),
    )
    assert answer.short == "43,72%"


def test_open_question_has_no_short_answer(article: str) -> None:
    answer = answer_extractive(
        "Hội nghị đã thảo luận những gì?", _passages(article, "Hội nghị đã tập trung thảo luận")
    )
    assert answer.short is None
    assert answer.citations[0].passage.startswith("Hội nghị đã tập trung thảo luận")
    assert answer.text.startswith("Theo bài báo: “Hội nghị đã tập trung thảo luận")


def test_sentences_are_quoted_whole_up_to_the_limit(article: str) -> None:
    answer = answer_extractive(FIRST_VI, _passages(article, ADMITTED))
    full = answer.citations[0].passage
    assert full.endswith("(đạt 32,1%).") and len(full) < QUOTE_LIMIT
    assert f"“{full}”" in answer.text


def test_long_sentence_is_shortened_in_the_text_not_in_the_citation() -> None:
    tail = "; ".join(
        f"xã {i} đã trồng {i * 10} cây xanh dọc các tuyến đường liên thôn" for i in range(12)
    )
    article = f"Từ đầu năm đến ngày 30-6, toàn tỉnh đã kết nạp được 787 đảng viên; {tail}."
    assert len(article) > QUOTE_LIMIT
    answer = answer_extractive(FIRST_VI, [_passage(article, 0, len(article), 0, 0.87)])
    assert "787" in answer.text and " …”" in answer.text
    assert answer.citations[0].passage == article


@pytest.mark.parametrize(
    ("question", "language"),
    [("Giá vàng hôm nay bao nhiêu?", "vi"), ("What is the price of gold in Hanoi today?", "en")],
)
def test_abstains_on_unrelated_passages(article: str, question: str, language: str) -> None:
    passages = [
        _passage(article, s, e, rank, 0.76)
        for rank, (s, e) in enumerate(chunk_spans(article, 400, 0)[:8])
    ]
    answer = answer_extractive(question, passages)
    assert answer.abstained
    assert answer.citations == []
    assert answer.short is None
    assert answer.language == language
    assert answer.text == ABSTAIN_TEXT[language]
    assert answer.confidence < 0.3


def test_abstains_without_passages() -> None:
    answer = answer_extractive("How many party members were admitted?", [])
    assert answer.abstained and answer.citations == []
    assert answer.text == "I could not find this in the articles."
    answer = answer_extractive("Có bao nhiêu đảng viên?", [])
    assert answer.text == "Không tìm thấy thông tin này trong kho bài báo."


def test_min_confidence_abstains_but_keeps_the_confidence(article: str) -> None:
    passages = _passages(article, ADMITTED)
    confident = answer_extractive(FIRST_VI, passages)
    assert confident.confidence > 0.6
    strict = answer_extractive(FIRST_VI, passages, min_confidence=confident.confidence + 0.01)
    assert strict.abstained and strict.citations == []
    assert strict.confidence == confident.confidence


def test_confidence_ranks_relevant_above_unrelated(article: str) -> None:
    relevant = answer_extractive(FIRST_VI, _passages(article, ADMITTED))
    unrelated = answer_extractive(
        "Giá cà phê hôm nay bao nhiêu?", _passages(article, ADMITTED, similarity=0.78)
    )
    assert relevant.confidence > unrelated.confidence + 0.3


def test_sentence_similarity_is_combined(article: str) -> None:
    """English words miss the Vietnamese text; the caller's similarity picks the sentence."""
    passages = _passages(article, DISCIPLINED)
    seen: list[list[str]] = []

    def similarity(question: str, sentences: list[str]) -> list[float]:
        seen.append(sentences)
        return [0.9 if "xóa tên" in s else 0.76 for s in sentences]

    answer = answer_extractive(
        "How many members were struck off the rolls?",
        passages,
        sentence_similarity=similarity,
    )
    assert seen and all(s in passages[0].article_text for s in seen[0])
    assert answer.citations[0].passage.startswith(DISCIPLINED)
    assert answer.language == "en"


def test_offsets_that_do_not_index_the_article_fall_back_to_the_passage(article: str) -> None:
    k = article.index(ADMITTED)
    text = article[k : k + 200]
    passage = Passage(
        chunk_id="x",
        article_id="a",
        title="t",
        text=text,
        start=0,
        end=len(text),
        article_text="",
        score=1.0,
        similarity=0.88,
    )
    answer = answer_extractive(FIRST_VI, [passage])
    assert answer.short == "787 đảng viên"
    c = answer.citations[0]
    assert text[c.start : c.end] == c.passage


def test_max_citations_caps_open_answers(article: str) -> None:
    passages = _passages(article, "Hội nghị đã tập trung thảo luận")
    answer = answer_extractive("công tác tổ chức xây dựng Đảng", passages, max_citations=1)
    assert len(answer.citations) == 1


def test_latency_is_a_few_milliseconds(article: str) -> None:
    passages = [
        _passage(article, s, e, rank, 0.85)
        for rank, (s, e) in enumerate(chunk_spans(article, 700, 150)[:10])
    ]
    answer_extractive(FIRST_VI, passages)  # warm the sentence caches
    start = time.perf_counter()
    for _ in range(20):
        answer_extractive("How many party members were admitted by 30 June?", passages)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.05  # generous: the whole ask has 150 ms


# --------------------------------------------------------------------------------------------
# question types and spans


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many party members were admitted?", "quantity"),
        ("Có mấy chi bộ?", "quantity"),
        ("co bao nhieu dang vien", "quantity"),
        ("What percentage of the target?", "percent"),
        ("Tỷ lệ đạt bao nhiêu %?", "percent"),
        ("Tỷ lệ mắc ho gà của nước ta là bao nhiêu?", "percent"),
        ("Tỷ lệ hộ nghèo năm 2022?", "percent"),
        # "tỷ lệ" beside another question word asks that: an age group, a year, a reason
        ("Tỷ lệ nghiện rượu cao nhất nằm ở độ tuổi nào?", "other"),
        ("Tỉ lệ tăng trưởng tụt xuống mức âm vào năm nào?", "date"),
        ("Vì sao tỷ lệ nhập cư của Canada cao?", "other"),
        ("Hội nghị diễn ra khi nào?", "date"),
        ("hoi nghi dien ra khi nao", "date"),
        ("Sinh ngày bao nhiêu?", "date"),
        ("When was it issued?", "date"),
        ("Ai là Trưởng ban?", "person"),
        ("Who chaired the meeting?", "person"),
        ("Hội nghị tổ chức ở đâu?", "place"),
        ("hoi nghi to chuc o dau", "place"),
        ("Where was the conference held?", "place"),
        ("Hội nghị bàn những gì?", "other"),
        ("Từ đầu năm đến nay", "other"),  # "đầu" is not "đâu"
        ("Mua máy bay", "other"),  # "máy" is not "mấy"
    ],
)
def test_detect_qtype(question: str, kind: str) -> None:
    assert detect_qtype(question).kind == kind


def test_quantity_hint_names_the_unit() -> None:
    assert detect_qtype("Có bao nhiêu đảng viên bị kỷ luật?").hint == ("dang", "vien")
    assert detect_qtype("How many party members were admitted?").hint == ("dang", "vien")


def test_numbers_and_codes_are_not_split_or_miscounted(article: str) -> None:
    sentence = next(article[s:e] for s, e in split_sentences(article) if "787" in article[s:e])
    quantities = [s.text for s in find_spans("quantity", sentence)]
    assert quantities[:2] == ["787 đảng viên", "1.465 chi bộ"]
    assert [s.text for s in find_spans("percent", sentence)] == [
        "43,72%",
        "92,95%",
        "78,23%",
        "32,1%",
    ]
    assert [s.text for s in find_spans("date", sentence)] == ["ngày 30-6"]
    codes = "Nghị quyết số 02-NQ/TW ngày 28-6-2021 (nhiệm kỳ 2020-2025), có 20/3.494 chi bộ."
    assert [s.text for s in find_spans("date", codes)] == ["ngày 28-6-2021"]
    assert [s.text for s in find_spans("quantity", codes)] == ["20/3.494 chi bộ"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("khai mạc vào tháng 7/2022 tại Pleiku", "tháng 7/2022"),
        ("thành lập năm 2020", "năm 2020"),
        ("sáng 28-6-2021, tỉnh tổ chức", "sáng 28-6-2021"),
    ],
)
def test_date_expressions(text: str, expected: str) -> None:
    assert [s.text for s in find_spans("date", text)] == [expected]


def test_place_after_tai() -> None:
    qtype = detect_qtype("Lễ hội được tổ chức ở đâu?")
    span = extract_span(qtype, "Lễ hội cồng chiêng được tổ chức tại TP.HCM vào tháng 7/2022.")
    assert span is not None and span.text == "TP.HCM"
    span = extract_span(qtype, "Lễ hội diễn ra ở huyện Chư Păh, tỉnh Gia Lai.")
    assert span is not None and span.text == "huyện Chư Păh"
