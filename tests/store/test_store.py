"""The store against a real Chroma (embedded, and a `chroma run` server) and the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.errors import UsageError
from store.chroma import StoreError
from store.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

BODY_A = (
    "Chiều 15-7, Sở Nông nghiệp tỉnh Kon Tum tổ chức hội nghị tổng kết vụ cà phê. "
    "Toàn tỉnh đã trồng mới 1.250 ha cà phê, đạt 98,4% kế hoạch năm.\n\n"
    "Năng suất bình quân đạt 3,1 tấn/ha, tăng 0,2 tấn so với năm trước."
)
BODY_B = (
    "Sáng 2-8, UBND TP.HCM công bố kế hoạch xây dựng 12 trường học mới trong năm 2023. "
    "Tổng vốn đầu tư dự kiến là 4.500 tỷ đồng.\n\n"
    "Các trường sẽ được đưa vào sử dụng trước năm học 2024-2025."
)


def vector_ids(store: Store) -> set[str]:
    collection = store.client.get_collection(store.collection_name)
    return set(collection.get(include=[])["ids"])


def chunk_ids(store: Store) -> set[str]:
    return {r[0] for r in store.records._query("SELECT id FROM chunks")}


def assert_consistent(store: Store) -> None:
    """Every stored chunk has exactly one vector and nothing else is in Chroma."""
    assert vector_ids(store) == chunk_ids(store)
    assert store.stats().pending == 0


def test_sample_ingest_then_rerun_embeds_nothing(make_store_assistant, embedder):

    assistant = make_store_assistant()
    report = assistant.ingest([SAMPLE], progress=False)
    assert report.count("added") == 1 and not report.failed
    stats = assistant.stats()
    assert stats.articles == 1 and stats.chunks >= 3
    assert stats.model == "multilingual-e5-small" and stats.dimension == 384
    assert_consistent(assistant.store)

    # A new process would build a new Store: without an embedder it must not need one.
    fresh = Store(assistant.settings.store)
    again = fresh.ingest([SAMPLE], assistant.settings.ingest, progress=False)
    assert again.count("unchanged") == 1 and again.chunks_embedded == 0
    assert fresh._embedder is None, "re-ingesting unchanged files must not load the model"
    assert fresh.stats().chunks == stats.chunks
    fresh.close()


def test_changed_file_replaces_its_chunks(make_store_assistant, write_article, tmp_path):
    assistant = make_store_assistant()
    path = write_article(tmp_path / "in", "a.txt", BODY_A)
    assistant.ingest([path], progress=False)
    before = vector_ids(assistant.store)
    write_article(tmp_path / "in", "a.txt", BODY_A.replace("1.250 ha", "1.300 ha"))
    report = assistant.ingest([path], progress=False)
    assert report.count("updated") == 1
    assert report.articles_added == 1 and report.articles_removed == 1
    after = vector_ids(assistant.store)
    assert after and not (after & before), "old chunks must be gone"
    assert assistant.stats().articles == 1
    assert_consistent(assistant.store)


def test_same_article_under_two_names_is_stored_once(make_store_assistant, write_article, tmp_path):
    assistant = make_store_assistant()
    a = write_article(tmp_path / "in", "a.txt", BODY_A)
    shutil.copy(a, tmp_path / "in" / "copy-of-a.txt")
    report = assistant.ingest([tmp_path / "in"], progress=False)
    assert report.count("added") == 2
    assert report.articles_added == 1
    assert assistant.stats().articles == 1

    # Removing one copy keeps the article; removing both drops it.
    a.unlink()
    report = assistant.ingest([tmp_path / "in"], prune=True, progress=False)
    assert report.count("removed") == 1 and assistant.stats().articles == 1
    (tmp_path / "in" / "copy-of-a.txt").unlink()
    report = assistant.ingest([tmp_path / "in"], prune=True, progress=False)
    assert report.count("removed") == 1 and report.articles_removed == 1
    assert assistant.stats().articles == 0
    assert_consistent(assistant.store)


def test_jsonl_change_reembeds_only_the_changed_article(make_store_assistant, tmp_path):
    assistant = make_store_assistant()
    rows = [
        {
            "id": "a",
            "title": "Cà phê Kon Tum",
            "text": BODY_A,
            "date": "2022-07-15",
            "source": "BKT",
        },
        {"id": "b", "title": "Trường học TP.HCM", "text": BODY_B, "date": "2022-08-02"},
    ]
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    first = assistant.ingest([path], progress=False)
    assert first.articles_added == 2
    rows[1]["text"] = BODY_B.replace("12 trường", "15 trường")
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    second = assistant.ingest([path], progress=False)
    assert second.count("updated") == 1
    assert second.articles_added == 1 and second.articles_removed == 1
    assert 0 < second.chunks_embedded < first.chunks_embedded
    assert assistant.stats().articles == 2
    assert_consistent(assistant.store)


def test_bad_inputs_are_reported_and_the_batch_goes_on(
    make_store_assistant, write_article, tmp_path
):
    assistant = make_store_assistant()
    folder = tmp_path / "in"
    good = write_article(folder, "good.txt", BODY_A)
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (folder / "bad.jsonl").write_text('{"title": "x"\nnot json\n', encoding="utf-8")
    report = assistant.ingest([folder], progress=False)
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["good.txt"].status == "added"
    for name in ("empty.txt", "binary.txt", "bad.jsonl"):
        assert by_name[name].status == "failed", name
        assert by_name[name].reason and "\n" not in by_name[name].reason
    assert by_name["photo.jpg"].status == "skipped"
    assert report.failed
    assert assistant.stats().articles == 1

    # A stored file that turns bad keeps its stored article.
    good.write_bytes(b"\x00\x01\x02" * 100)
    report = assistant.ingest([good], progress=False)
    assert report.failed and assistant.stats().articles == 1
    assert_consistent(assistant.store)


def test_missing_path_is_a_usage_error_before_any_work(make_store_assistant, tmp_path):
    assistant = make_store_assistant()
    with pytest.raises(UsageError):
        assistant.ingest([tmp_path / "nope"], progress=False)
    assert assistant.stats().articles == 0


def test_other_model_on_an_existing_store_fails_clearly(make_store_assistant, tmp_path):

    assistant = make_store_assistant()
    assistant.ingest([SAMPLE], progress=False)
    settings = assistant.settings.store.model_copy(update={"model": "some-other/model"})
    with pytest.raises(StoreError, match="hoidap reset"):
        Store(settings)


def test_langchain_vectorstore_reads_the_same_collection(make_store_assistant):
    assistant = make_store_assistant()
    assistant.ingest([SAMPLE], progress=False)
    vectorstore = assistant.store.as_vectorstore()
    docs = vectorstore.similarity_search("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", k=2)
    assert any("787 đảng viên" in d.page_content for d in docs)
    article = assistant.article(docs[0].metadata["article_id"])
    meta = docs[0].metadata
    assert article.text[meta["start"] : meta["end"]] == docs[0].page_content


def test_vector_index_preloads_in_the_background(make_store_assistant, embedder):
    assistant = make_store_assistant()
    assert assistant.store.index.preload() is None  # nothing stored yet: nothing to load
    assistant.ingest([SAMPLE], progress=False)
    thread = assistant.store.index.preload()
    assert thread is not None and not thread.daemon
    thread.join(timeout=120)
    assert not thread.is_alive()
    vector = embedder.embed_queries(["Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"])[0]
    hits = assistant.store.index.search(vector, 3)
    assert hits and all(-1.0 <= h.similarity <= 1.0 for h in hits)
    chunks = assistant.store.records.chunks([h.chunk_id for h in hits])
    assert any("787 đảng viên" in c.text for c in chunks.values())
