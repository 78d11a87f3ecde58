"""Word-form counts (for restoring diacritics) follow the articles stored, added or removed."""

from __future__ import annotations

from pathlib import Path

from ingest.chunk import LEGACY_LAYOUT
from ingest.models import Article, Chunk
from store.docstore import DocStore
from store.lexical import word_forms


def _article(text: str, title: str = "Kết nạp đảng viên") -> Article:
    return Article(title=title, text=text, path="a.txt")


def _write(store: DocStore, article: Article) -> None:
    chunk = Chunk(article.id, 0, 0, len(article.text), article.text)
    store.begin_articles(article.path, [article], {article.id: [chunk]}, LEGACY_LAYOUT)
    store.mark_done([article.id])


def _count(store: DocStore, form: str, folded: str) -> int:
    return dict(store.form_candidates([folded])[folded]).get(form, 0)


def test_word_forms_pairs_stop_at_numbers_and_punctuation():
    forms, pairs = word_forms("Ngày 30 tháng 6, đảng viên Đảng viên.")
    assert forms["đảng"] == 2 and forms["viên"] == 2 and "30" not in forms
    assert pairs["đảng viên"] == 2
    assert "ngày tháng" not in pairs and "6 đảng" not in pairs and "viên đảng" in pairs


def test_counts_follow_adds_replacements_and_deletes(tmp_path: Path):
    store = DocStore(tmp_path / "records.sqlite3")
    store.ensure_word_forms()
    first = _article("Đảng viên mới. Đang học tập.")
    _write(store, first)
    assert _count(store, "đảng", "dang") == 2  # title and text
    assert _count(store, "đang", "dang") == 1
    assert store.pair_counts(["đảng viên", "viên đảng"]) == {"đảng viên": 2}
    _write(store, first)  # the same article written again is not counted twice
    assert _count(store, "đảng", "dang") == 2
    store.delete_articles([first.id])
    assert _count(store, "đảng", "dang") == 0
    assert store.pair_counts(["đảng viên"]) == {}
    store.close()


def test_older_store_is_counted_once_at_its_next_ingest(tmp_path: Path):
    store = DocStore(tmp_path / "records.sqlite3")
    _write(store, _article("Đảng viên mới."))
    _write(store, _article("Đảng bộ tỉnh.", title="Đảng bộ"))
    incremental = store.form_candidates(["dang", "vien"])
    store._db.execute("DELETE FROM word_forms")  # as a store written before the counts existed
    assert store.form_candidates(["dang"]) == {"dang": []}
    store.ensure_word_forms()
    assert store.form_candidates(["dang", "vien"]) == incremental
    assert _count(store, "đảng", "dang") == 4
    store.ensure_word_forms()  # done once: a second call counts nothing again
    assert _count(store, "đảng", "dang") == 4
    store.close()
