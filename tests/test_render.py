"""Renderers: article data is always text, and the highlight lands on the cited characters."""

from __future__ import annotations

import html
import re

import pytest

from assistant.ui import render
from assistant.ui.i18n import STRINGS, t
from store.docstore import StoredArticle
from store.report import FileOutcome, IngestReport
from store.store import StoreStats

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
JS_LINK = "[click](javascript:alert(1))"


def article(text: str, **kw) -> StoredArticle:
    fields = dict(
        id="a1",
        title="Tiêu đề",
        text=text,
        date="2022-07",
        source="GLO",
        source_name="Báo Gia Lai",
        author=None,
        url=None,
        external_id=None,
        path="x.txt",
        captions=(),
        extra={},
    )
    fields.update(kw)
    return StoredArticle(**fields)


def no_markup_from(data: str, out: str) -> None:
    """None of the tags or handlers in `data` survive as markup in `out`."""
    assert "<script" not in out and "<img" not in out
    assert "onerror=" not in out.replace("onerror=&quot;", "")  # only as escaped text
    assert "javascript:" not in re.findall(r'href="([^"]*)"', out)


def test_article_highlight_marks_exactly_the_cited_span():
    text = "Mở đầu. Có 787 đảng viên được kết nạp. Kết thúc."
    start = text.index("Có")
    end = text.index(" Kết thúc")
    out = render.article_html(article(text), start, end, "vi", 1)
    marked = re.search(r'<mark id="hoidap-cited"[^>]*>(.*?)</mark>', out, re.S)
    assert marked and html.unescape(marked.group(1)) == text[start:end]
    body = re.search(r'<div class="hoidap-text">(.*)</div></div>$', out, re.S).group(1)
    assert html.unescape(re.sub(r"</?mark[^>]*>", "", body)) == text


def test_article_offsets_count_characters_after_escaping():
    """Offsets index the raw text; escaping `<&` before the span must not shift the mark."""
    text = "a < b & c > d. <b>Câu được trích</b>. Hết."
    start, end = text.index("<b>"), text.index(". Hết")
    out = render.article_html(article(text), start, end, "vi")
    marked = re.search(r"<mark[^>]*>(.*?)</mark>", out, re.S).group(1)
    assert html.unescape(marked) == "<b>Câu được trích</b>"
    assert "<b>" not in out


@pytest.mark.parametrize(("start", "end"), [(-5, 3), (2, 10_000), (None, None), (5, 2), (8, 8)])
def test_article_offsets_are_clamped(start, end):
    text = "0123456789"
    out = render.article_html(article(text), start, end, "vi")
    body = html.unescape(re.sub(r"<[^>]+>", "", out.split('class="hoidap-text">')[1]))
    assert body == text
    marked = re.search(r"<mark[^>]*>(.*?)</mark>", out)
    lo = min(max(start or 0, 0), 10)
    hi = min(max(end or 0, lo), 10)
    assert (marked.group(1) if marked else "") == text[lo:hi]


def test_article_escapes_every_field():
    doc = article(
        f"Body {XSS} {JS_LINK}",
        title=XSS,
        date="<b>2022</b>",
        source_name='"><script>x</script>',
        author="<i>A</i>",
        url="javascript:alert(1)",
    )
    out = render.article_html(doc, 0, 4, "en")
    no_markup_from(XSS, out)
    assert "<b>" not in out and "<i>" not in out
    assert html.escape(XSS) in out
    assert "href=" not in out  # a javascript: url is shown, never linked
    assert "javascript:alert(1)" in out


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://baogialai.com.vn/a?b=1&c=2", True),
        ("http://x.vn", True),
        ("javascript:alert(1)", False),
        (" JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:x", False),
        ("//evil.com", False),
        ('https://x.vn/"onmouseover="alert(1)', True),
        (None, False),
    ],
)
def test_urls_are_linked_only_when_http(url, linked):
    href = render.safe_href(url)
    assert (href is not None) == linked
    if href:
        assert '"' not in href and "<" not in href
        assert href.startswith(("http://", "https://"))


def test_citation_cards_escape_and_number():
    citations = [
        {
            "n": 1,
            "article_id": "a1",
            "title": XSS,
            "passage": f"Có 787 đảng viên {XSS}",
            "date": "2022-07",
            "source": "<b>GLO</b>",
            "url": "javascript:alert(1)",
            "start": 0,
            "end": 3,
        },
        {"n": 2, "article_id": "a2", "title": "T2", "passage": "p", "url": "https://x.vn/a"},
    ]
    out = render.citation_cards(citations, "vi")
    no_markup_from(XSS, out)
    assert 'data-cite="1"' in out and 'data-cite="2"' in out
    assert "[1]" in out and "[2]" in out and "787" in out
    assert 'href="https://x.vn/a"' in out and 'href="javascript' not in out


def test_empty_citations_say_what_to_do():
    assert t("vi", "no_sources") in render.citation_cards([], "vi")
    assert t("en", "no_sources") in render.citation_cards([], "en")


def test_chat_text_shows_markup_literally():
    out = render.chat_text(f"{XSS} {JS_LINK} **bold** ![i](x.png) $x$ # h")
    assert "<" not in out and ">" not in out.replace("&gt;", "")
    assert "](" not in out  # no Markdown link or image can form
    assert "\\*\\*bold\\*\\*" in out


def test_chat_messages_from_pairs():
    msgs = render.chat_messages([("q1", "a1"), ("q2", "")])
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]


def test_progressive_ends_with_the_whole_text_and_grows():
    text = "Tính đến 30-6 , toàn tỉnh kết nạp 787 đảng viên [1]."
    parts = list(render.progressive(text, steps=4))
    assert parts[-1] == text and len(parts) >= 2
    assert all(text.startswith(p) for p in parts)
    assert [len(p) for p in parts] == sorted(len(p) for p in parts)
    assert list(render.progressive("")) == [""]


def test_stats_and_empty_store():
    empty = StoreStats(0, 0, 0, 0, 0, "multilingual-e5-small", None, "/x")
    full = StoreStats(1, 1, 12, 0, 12, "multilingual-e5-small", 384, "/x")
    assert "hoidap ingest" in render.stats_html(empty, "vi")
    assert "hoidap ingest" in render.stats_html(empty, "en")
    out = render.stats_html(full, "en")
    assert "1 articles" in out and "12 chunks" in out and "multilingual-e5-small" in out


def test_upload_table_and_summary_in_both_languages():
    report = IngestReport()
    report.add(FileOutcome("a.txt", "added", articles=2))
    report.add(FileOutcome("b.exe", "skipped", reason="b.exe: unsupported file type"))
    report.add(FileOutcome("c.txt", "failed", problems=["p1", "p2"]))
    rows = render.report_rows(report)
    assert rows[2] == ["c.txt", "failed", 0, "p1; p2"]
    vi = render.upload_table(rows, "vi")
    assert vi["headers"] == t("vi", "headers")
    assert vi["data"][:2] == [
        ["a.txt", "thêm mới", 2, ""],
        ["b.exe", "bỏ qua", 0, "b.exe: unsupported file type"],
    ]
    assert render.upload_table(rows, "en")["data"][0][1] == "added"
    assert "1 added" in render.upload_summary(rows, "en")
    assert "1 thêm mới" in render.upload_summary(rows, "vi")
    assert render.upload_summary([], "vi") == ""


def test_source_choices_label_and_code():
    assert render.source_choices([("GLO", "Báo Gia Lai", 3), ("X", None, 1)]) == [
        ("Báo Gia Lai (GLO) · 3", "GLO"),
        ("X (X) · 1", "X"),
    ]


def test_both_languages_have_the_same_keys():
    assert STRINGS["vi"].keys() == STRINGS["en"].keys()
    assert STRINGS["vi"]["status"].keys() == STRINGS["en"]["status"].keys()
    assert t("fr", "send") == t("vi", "send")  # unknown language: Vietnamese
