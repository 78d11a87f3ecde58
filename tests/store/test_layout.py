"""A store keeps the chunk layout it was built with, until `reindex` rebuilds it from its files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.chunk import LEGACY_LAYOUT, ChunkLayout
from ingest.settings import IngestSettings
from store.chroma import DIM_KEY, MODEL_KEY, StoreError
from store.lexical import query_terms
from store.store import Store

TITLE = "Hội nghị tổng kết vụ cà phê Kon Tum"
BODY = " ".join(
    f"Đoạn {i}: năng suất bình quân đạt {i},1 tấn/ha, tăng 0,2 tấn so với năm trước."
    for i in range(30)
)
SMALL = IngestSettings(chunk_size=300, chunk_overlap=0, chunk_title=False)


def write_article(folder: Path, name: str, body: str, *, title: str) -> Path:
    """A one-article JSONL file, so the article has a title of our choosing."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    row = {"id": name, "title": title, "text": body}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def chunk_rows(store: Store) -> list[tuple[str, int, str]]:
    return store.records._query("SELECT id, position, text FROM chunks ORDER BY position")


def test_a_new_store_records_the_settings_layout(make_store_assistant, tmp_path):
    assistant = make_store_assistant()
    path = write_article(tmp_path / "in", "a.jsonl", BODY, title=TITLE)
    assistant.store.ingest([path], IngestSettings(), progress=False)
    layout = ChunkLayout.of(IngestSettings())
    assert assistant.store.index.layout == layout
    assert assistant.stats().layout == layout.describe()
    assert Store(assistant.settings.store).index.layout == layout, "read back by a new process"


def test_every_chunk_is_searched_with_its_title(make_assistant, embedder, tmp_path):
    assistant = make_assistant()
    path = write_article(tmp_path / "in", "a.jsonl", BODY, title=TITLE)
    titled = IngestSettings(chunk_size=300, chunk_overlap=0, chunk_title=True)
    assistant.store.ingest([path], titled, progress=False)
    rows = chunk_rows(assistant.store)
    assert len(rows) >= 4
    # BM25: a word of the title alone finds every chunk, not only the first.
    found = assistant.store.records.lexical_search(query_terms("tổng kết"), 50)
    assert len(found) == len(rows)
    # The vector is the title and the text embedded together; the quoted text is the article's.
    last_id, _, last_text = rows[-1]
    assert TITLE not in last_text
    stored = assistant.store.index.vectors([last_id])[last_id]
    expected = embedder.embed_passages([f"{TITLE}. {last_text}"])[0]
    bare = embedder.embed_passages([last_text])[0]
    assert float(np.dot(stored, expected)) > 0.999
    assert float(np.dot(stored, bare)) < float(np.dot(stored, expected)) - 0.005


def test_the_store_layout_wins_over_the_settings(make_store_assistant, tmp_path):
    assistant = make_store_assistant()
    first = write_article(tmp_path / "in", "a.jsonl", BODY, title=TITLE)
    assistant.store.ingest([first], SMALL, progress=False)
    second = write_article(tmp_path / "in", "b.jsonl", BODY.replace("Đoạn", "Phần"), title="Khác")
    report = assistant.store.ingest([second], IngestSettings(), progress=False)
    assert not report.failed
    assert assistant.store.index.layout == ChunkLayout.of(SMALL)
    assert max(len(text) for _, _, text in chunk_rows(assistant.store)) <= 300
    assert len(report.notes) == 1 and "hoidap reindex --yes" in report.notes[0]
    assert "300-character chunks" in report.notes[0]
    # Nothing to say when the settings match, or when nothing was embedded.
    third = write_article(tmp_path / "in", "c.jsonl", BODY.replace("Đoạn", "Mục"), title="Ba")
    assert not assistant.store.ingest([third], SMALL, progress=False).notes
    assert not assistant.store.ingest([second], IngestSettings(), progress=False).notes


def test_a_store_from_before_the_layout_was_recorded_is_legacy(make_assistant, tmp_path):
    assistant = make_assistant()
    store = assistant.store
    # What earlier versions created: the model and dimension, no layout.
    store.client.create_collection(
        store.collection_name,
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={MODEL_KEY: store.settings.model, DIM_KEY: 384},
    )
    old = Store(store.settings, embedder=store.embedder)
    assert old.index.layout == LEGACY_LAYOUT
    path = write_article(tmp_path / "in", "a.jsonl", BODY * 2, title=TITLE)
    report = old.ingest([path], IngestSettings(), progress=False)
    assert not report.failed and "hoidap reindex" in report.notes[0]
    assert max(len(text) for _, _, text in chunk_rows(old)) <= LEGACY_LAYOUT.chunk_size
    assert old.stats().layout == LEGACY_LAYOUT.describe()
    old.close()


def two_files_in_small_chunks(make_assistant, tmp_path: Path):
    """An assistant whose store holds two one-article files in 300-character chunks."""
    assistant = make_assistant()
    a = write_article(tmp_path / "in", "a.jsonl", BODY, title=TITLE)
    b = write_article(tmp_path / "in", "b.jsonl", BODY.replace("Đoạn", "Phần"), title="Khác")
    assistant.store.ingest([a, b], SMALL, progress=False)
    return assistant, a, b


def test_reindex_rebuilds_every_file_in_the_settings_layout(make_assistant, tmp_path):
    assistant, _, _ = two_files_in_small_chunks(make_assistant, tmp_path)
    before = assistant.stats()
    report = assistant.store.reindex(IngestSettings(), progress=False)
    assert not report.failed and report.count("added") == 2
    after = assistant.stats()
    assert after.articles == before.articles == 2
    assert after.chunks < before.chunks, "1,000-character chunks are fewer than 300-character ones"
    assert assistant.store.index.layout == ChunkLayout.of(IngestSettings())
    assert after.vectors == after.chunks and after.pending == 0
    assert not list(assistant.store.settings.store_path.glob("*.reindex.json"))


def test_reindex_changes_nothing_when_a_file_is_gone(make_assistant, tmp_path):
    assistant, _, b = two_files_in_small_chunks(make_assistant, tmp_path)
    before = assistant.stats()
    b.unlink()
    with pytest.raises(StoreError, match=r"1 of the 2 files .* nothing was changed") as e:
        assistant.store.reindex(IngestSettings(), progress=False)
    assert str(b) in str(e.value)
    assert assistant.stats() == before
    assert assistant.store.index.layout == ChunkLayout.of(SMALL)


@pytest.mark.slow
def test_reindex_is_refused_on_a_chroma_server(make_assistant, chroma_server, tmp_path):
    assistant = make_assistant(chroma_url=chroma_server, collection="reindexrefused")
    a = write_article(tmp_path / "in", "a.jsonl", BODY, title=TITLE)
    assistant.store.ingest([a], SMALL, progress=False)
    with pytest.raises(StoreError, match="hoidap reset --yes"):
        assistant.store.reindex(IngestSettings(), progress=False)
    assert assistant.stats().articles == 1
