"""`Assistant.as_retriever()`: a real LangChain `BaseRetriever` over a real store and model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from assistant.core import Assistant
from assistant.settings import Settings
from ingest.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
KONTUM = {
    "id": "BKT-2022-08-0042",
    "url": "https://baokontum.com.vn/van-hoa/le-hoi-cong-chieng-42.html",
    "title": "Lễ hội cồng chiêng",
    "date": "2022-08-20",
    "source": "BKT",
    "text": "Lễ hội cồng chiêng Kon Tum năm nay có 321 nghệ nhân tham gia.",
}
METADATA = {
    "chunk_id",
    "article_id",
    "external_id",
    "title",
    "start",
    "end",
    "score",
    "similarity",
    "lexical",
    "date",
    "source",
    "url",
}


@pytest.fixture(scope="module")
def assistant(embedder, tmp_path_factory):
    from store.store import Store

    root = tmp_path_factory.mktemp("retriever")
    archive = root / "kontum.jsonl"
    archive.write_text(json.dumps(KONTUM, ensure_ascii=False) + "\n", encoding="utf-8")
    settings = Settings.load().with_overrides(store={"store": root / "store"})
    a = Assistant(settings, Store(settings.store, embedder=embedder))  # no reader: not used
    assert not a.ingest([SAMPLE, archive], progress=False).failed
    yield a
    a.close()


def test_documents_carry_the_article_and_the_offsets(assistant):
    retriever = assistant.as_retriever()
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?")
    assert docs and all(isinstance(d, Document) for d in docs)
    assert len(docs) == assistant.settings.assistant.top_k
    for doc in docs:
        assert set(doc.metadata) == METADATA and doc.id == doc.metadata["chunk_id"]
        article = assistant.article(doc.metadata["article_id"])
        assert article.text[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content
    assert "787" in " ".join(d.page_content for d in docs)
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


def test_the_archive_id_and_url_are_in_the_metadata(assistant):
    [doc, *_] = assistant.as_retriever(k=1).invoke("cồng chiêng Kon Tum bao nhiêu nghệ nhân")
    assert doc.metadata["external_id"] == KONTUM["id"] and doc.metadata["url"] == KONTUM["url"]
    assert doc.metadata["source"] == "Báo Kon Tum" and doc.metadata["date"] == "2022-08-20"


def test_k_and_filters_per_retriever_and_per_call(assistant):
    retriever = assistant.as_retriever(k=2, filters={"source": "GLO"})
    docs = retriever.invoke("nghệ nhân cồng chiêng")
    assert len(docs) == 2 and {d.metadata["source"] for d in docs} == {"Báo Gia Lai"}
    one = retriever.invoke("nghệ nhân cồng chiêng", k=1, filters={"source": "BKT"})
    assert [d.metadata["external_id"] for d in one] == [KONTUM["id"]]
    assert retriever.invoke("nghệ nhân cồng chiêng", filters={"since": "2023"}) == []


def test_it_composes_into_a_chain(assistant):
    retriever = assistant.as_retriever(k=3)
    context = retriever | RunnableLambda(lambda docs: "\n\n".join(d.page_content for d in docs))
    assert "787" in context.invoke("How many party members were admitted by 30 June?")
    assert [len(d) for d in retriever.batch(["đảng viên", "cồng chiêng"])] == [3, 3]


def test_bad_filters_fail_when_the_retriever_is_made(assistant):
    with pytest.raises(UsageError, match="Invalid since date"):
        assistant.as_retriever(filters={"since": "July"})
    with pytest.raises(UsageError, match="Unknown filter"):
        assistant.as_retriever(filters={"topic": "x"})
    with pytest.raises(UsageError, match="empty"):
        assistant.as_retriever().invoke("  ")
