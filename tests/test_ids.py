"""The archive's own id and url travel with every passage, citation and article lookup.

Real store, real model: a JSONL archive article with `id` and `url` next to the sample `.txt`
article, which has neither.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.articles import article_dict, check_span, find_article, marked_text
from assistant.core import Assistant
from assistant.settings import Settings
from ingest.errors import HoidapError
from store.store import Store

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
EXTERNAL_ID = "BKT-2022-08-0042"
URL = "https://baokontum.com.vn/van-hoa/le-hoi-cong-chieng-42.html"
TEXT = (
    "Lễ hội cồng chiêng Kon Tum năm nay có 321 nghệ nhân tham gia.\n\n"
    "Các đội cồng chiêng đến từ 10 huyện, thành phố trong tỉnh."
)
Q_GONGS = "Lễ hội cồng chiêng Kon Tum có bao nhiêu nghệ nhân tham gia?"


def archive_line(**fields) -> str:
    record = {"id": EXTERNAL_ID, "url": URL, "title": "Lễ hội cồng chiêng", "text": TEXT}
    return json.dumps(
        {**record, "source": "BKT", "date": "2022-08-20", **fields}, ensure_ascii=False
    )


@pytest.fixture
def rules_assistant(embedder, tmp_path):
    """The word-overlap answerer (`HOIDAP_READER=false`): citations without the trained reader."""
    settings = Settings.load().with_overrides(
        store={"store": tmp_path / "store"}, assistant={"reader": False}
    )
    assistant = Assistant(settings, Store(settings.store, embedder=embedder))
    archive = tmp_path / "archive.jsonl"
    archive.write_text(archive_line() + "\n", encoding="utf-8")
    assert not assistant.ingest([SAMPLE, archive], progress=False).failed
    yield assistant
    assistant.close()


def test_passages_and_citations_carry_the_external_id_and_url(rules_assistant):
    answer, passages = rules_assistant.respond(Q_GONGS)
    top = passages[0]
    assert (top.external_id, top.url) == (EXTERNAL_ID, URL)
    assert not answer.abstained and "321" in answer.text
    cited = answer.citations[0]
    assert (cited.external_id, cited.url) == (EXTERNAL_ID, URL)
    assert cited.article_id == top.article_id != EXTERNAL_ID
    data = answer.to_dict(passages)
    assert data["citations"][0]["external_id"] == EXTERNAL_ID
    assert data["passages"][0]["external_id"] == EXTERNAL_ID
    assert "article_text" not in data["passages"][0]


def test_the_sample_txt_article_has_no_external_id(rules_assistant):
    _, passages = rules_assistant.respond("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?")
    glo = next(p for p in passages if p.source == "Báo Gia Lai")
    assert glo.external_id is None and glo.article_id


def test_find_article_by_either_id(rules_assistant):
    store = rules_assistant.store
    by_external = find_article(store, EXTERNAL_ID)
    assert by_external is not None and by_external.text == TEXT
    by_internal = find_article(store, by_external.id)
    assert by_internal == by_external
    assert find_article(store, f"  {EXTERNAL_ID} ") == by_external  # pasted with spaces
    assert find_article(store, "no-such-id") is None and find_article(store, "") is None
    record = article_dict(by_external)
    assert record["external_id"] == EXTERNAL_ID and record["url"] == URL
    assert "path" not in record


def test_an_external_id_two_articles_share_names_both(rules_assistant, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text(archive_line(text="Một bài khác, cùng mã bài báo.") + "\n", encoding="utf-8")
    assert not rules_assistant.ingest([other], progress=False).failed
    with pytest.raises(HoidapError, match="2 stored articles have the external id"):
        find_article(rules_assistant.store, EXTERNAL_ID)


def test_the_cited_span_is_marked_and_checked(rules_assistant):
    article = find_article(rules_assistant.store, EXTERNAL_ID)
    start = TEXT.index("321")
    assert marked_text(TEXT, start, start + 3).startswith(
        "Lễ hội cồng chiêng Kon Tum năm nay có [[321]]"
    )
    assert marked_text(TEXT, None, None) == TEXT
    check_span(article, start, start + 3)
    check_span(article, None, None)
    for start, end in ((5, None), (None, 5), (5, 5), (0, len(TEXT) + 1), (-1, 3)):
        with pytest.raises(ValueError):
            check_span(article, start, end)
