from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunk import chunk_article, chunk_spans, split_sentences
from ingest.errors import IngestError
from ingest.models import Article
from ingest.read import iter_files, read_file
from ingest.settings import IngestSettings

REPO = Path(__file__).resolve().parents[2]
ARTICLES = REPO / "tests" / "fixtures" / "articles"
SAMPLE = REPO / "data" / "sample" / "000_cb7a5b37da5bff54.txt"
KEY_SENTENCE = (
    "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên "
    "(đạt 43,72% so với chỉ tiêu nghị quyết năm); 1.465 chi bộ thôn, làng, tổ dân phố có "
    "chi ủy (chiếm 92,95%); 1.233 trưởng thôn, tổ dân phố là đảng viên (đạt 78,23%), trong đó "
    "có 506 bí thư kiêm trưởng thôn, tổ dân phố (đạt 32,1%)."
)


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def all_articles() -> list[Article]:
    files, _ = iter_files([ARTICLES, SAMPLE])
    articles = []
    for path in files:
        try:
            articles.extend(read_file(path, IngestSettings()).articles)
        except IngestError:
            continue  # the deliberately bad fixtures
    return articles


def test_numbers_codes_and_places_are_not_split():
    text = (
        "Từ đầu năm đến ngày 30-6, đạt 43,72% với 1.465 chi bộ theo Nghị quyết số 02-NQ/TW. "
        "Đoàn đến TP.HCM và Tp.HCM lúc 8.30 sáng, giá 2,5 triệu đồng. Hết."
    )
    assert sentences(text) == [
        "Từ đầu năm đến ngày 30-6, đạt 43,72% với 1.465 chi bộ theo Nghị quyết số 02-NQ/TW.",
        "Đoàn đến TP.HCM và Tp.HCM lúc 8.30 sáng, giá 2,5 triệu đồng.",
        "Hết.",
    ]


def test_abbreviations_and_initials_are_not_boundaries():
    text = (
        "PGS.TS. Trần Thị Thúy và ThS. Lê Minh cùng TS. Hòa đến TP. Pleiku. "
        "Ông A. Nguyễn cho biết như vậy. Sau đó GS. Bình phát biểu."
    )
    assert sentences(text) == [
        "PGS.TS. Trần Thị Thúy và ThS. Lê Minh cùng TS. Hòa đến TP. Pleiku.",
        "Ông A. Nguyễn cho biết như vậy.",
        "Sau đó GS. Bình phát biểu.",
    ]


def test_sentence_ends_with_quotes_questions_and_lines():
    text = "Anh nói: “Tôi đi.” Chị hỏi: Vì sao? Không biết... Rồi thôi!\n1. Mục một.\nDòng cuối"
    assert sentences(text) == [
        "Anh nói: “Tôi đi.”",
        "Chị hỏi: Vì sao?",
        "Không biết...",
        "Rồi thôi!",
        "1. Mục một.",
        "Dòng cuối",
    ]


def test_lowercase_after_period_is_not_a_boundary():
    assert sentences("Giá tăng 5 lần so với năm ngoái. và còn tăng nữa.") == [
        "Giá tăng 5 lần so với năm ngoái. và còn tăng nữa."
    ]


def test_sentence_spans_index_the_text():
    text = "  Câu một.   Câu hai!\n\n  Câu ba?  \n"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Câu một.", "Câu hai!", "Câu ba?"]
    assert split_sentences("") == []
    assert split_sentences(" \n\n ") == []


def test_sample_sentence_is_kept_whole():
    article = read_file(SAMPLE, IngestSettings()).articles[0]
    assert KEY_SENTENCE in sentences(article.text)


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (300, 80), (700, 150), (1500, 300)])
def test_chunk_offsets_exact_for_every_fixture(size, overlap):
    settings = IngestSettings(chunk_size=size, chunk_overlap=overlap)
    articles = all_articles()
    assert len(articles) >= 10
    for article in articles:
        chunks = chunk_article(article, settings)
        assert chunks, article.path
        assert [c.position for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert chunk.text == chunk.text.strip()
            assert 0 < len(chunk.text) <= size
            assert chunk.article_id == article.id
        starts = [c.start for c in chunks]
        assert starts == sorted(set(starts))
        # Together the chunks cover every sentence of the article.
        for s, e in split_sentences(article.text):
            if e - s <= size:
                assert any(c.start <= s and e <= c.end for c in chunks)


def test_sample_key_sentence_whole_in_a_chunk_with_overlap():
    article = read_file(SAMPLE, IngestSettings()).articles[0]
    chunks = chunk_article(article, IngestSettings(chunk_size=700, chunk_overlap=150))
    assert len(chunks) > 3
    assert any(KEY_SENTENCE in c.text for c in chunks)
    starts = {s for s, _ in split_sentences(article.text)}
    ends = {e for _, e in split_sentences(article.text)}
    overlaps = [a.end - b.start for a, b in zip(chunks, chunks[1:]) if b.start < a.end]
    assert overlaps, "consecutive chunks should share trailing sentences"
    for a, b in zip(chunks, chunks[1:]):
        assert b.start in starts and a.end in ends  # whole sentences only
        assert a.end - b.start <= 150 or b is chunks[-1]


def test_overlap_is_whole_trailing_sentences():
    text = " ".join(f"Câu thứ {i} nói về chủ đề số {i} của bài viết." for i in range(30))
    spans = chunk_spans(text, chunk_size=200, chunk_overlap=100)
    starts = {s for s, _ in split_sentences(text)}
    ends = {e for _, e in split_sentences(text)}
    for (_, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 in starts and e1 in ends
        assert 0 < e1 - s2 <= 100


def test_zero_overlap_chunks_do_not_overlap():
    text = " ".join(f"Câu thứ {i} nói về chủ đề số {i}." for i in range(40))
    spans = chunk_spans(text, chunk_size=150, chunk_overlap=0)
    for (_, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 > e1


def test_chunks_prefer_paragraph_ends():
    para = "Đây là một câu khá dài để lấp đầy đoạn văn. " * 3
    text = "\n\n".join(para.strip() for _ in range(4))
    spans = chunk_spans(text, chunk_size=300, chunk_overlap=0)
    paragraph_ends = {i for i in range(len(text)) if text.startswith("\n\n", i)} | {len(text)}
    assert all(e in paragraph_ends for _, e in spans)


def test_long_sentence_split_at_word_boundaries():
    words = [f"từ{i}" for i in range(400)]
    text = " ".join(words) + "."
    spans = chunk_spans(text, chunk_size=120, chunk_overlap=30)
    assert len(spans) > 10
    for s, e in spans:
        piece = text[s:e]
        assert len(piece) <= 120
        assert (s == 0 or text[s - 1] == " ") and (e == len(text) or text[e] == " ")
    assert " ".join(text[s:e] for s, e in spans).count("từ399") >= 1


def test_unbroken_token_longer_than_chunk_is_cut():
    text = "Xem " + "x" * 500 + " nhé."
    spans = chunk_spans(text, chunk_size=100, chunk_overlap=0)
    assert all(e - s <= 100 for s, e in spans)
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")


def test_short_tail_gets_context():
    text = ("Một câu dài vừa phải để làm nội dung cho bài báo này. " * 6).strip() + "\n\nMINH"
    spans = chunk_spans(text, chunk_size=200, chunk_overlap=0)
    assert text[spans[-1][0] : spans[-1][1]] != "MINH"
    assert spans[-1][1] == len(text)


def test_chunk_ids_are_stable():
    article = read_file(SAMPLE, IngestSettings()).articles[0]
    first = [c.id for c in chunk_article(article, IngestSettings())]
    second = [c.id for c in chunk_article(article, IngestSettings())]
    assert first == second
    assert len(set(first)) == len(first)
