"""SQLite record of what is stored: files, articles (full cleaned text), chunks and their states.

Chroma holds the vectors; this file holds everything a citation or a re-ingest needs to know
without asking Chroma: which file produced which article, whether an article's vectors were
fully written (`state = 'done'`), and each chunk's character span in its article. It plays the
role of LangChain's record manager, with two extras that API lacks: the same article reached
from two files is stored once (`file_articles` links), and a write-ahead `pending` state makes a
batch killed midway resumable without duplicates or losses.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from ingest.chunk import LEGACY_LAYOUT, ChunkLayout
from ingest.clean import fold_diacritics
from ingest.models import Article, Chunk
from store.lexical import index_tokens, match_expression, word_forms

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    n_articles INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    date TEXT,
    date_from INTEGER,
    date_to INTEGER,
    source TEXT,
    source_name TEXT,
    author TEXT,
    url TEXT,
    external_id TEXT,
    path TEXT NOT NULL,
    captions TEXT NOT NULL DEFAULT '[]',
    extra TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS file_articles (
    path TEXT NOT NULL,
    article_id TEXT NOT NULL,
    PRIMARY KEY (path, article_id)
);
CREATE INDEX IF NOT EXISTS file_articles_article ON file_articles(article_id);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(keys, tokenize="unicode61 tokenchars '_'");
CREATE TABLE IF NOT EXISTS word_forms (
    form TEXT PRIMARY KEY,
    folded TEXT NOT NULL,
    n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS word_forms_folded ON word_forms(folded);
CREATE TABLE IF NOT EXISTS form_pairs (pair TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
"""

# Only in a cache of a Chroma server, where other processes add and delete articles too:
# `unlinked` journals articles this process unlinked (so a crash before their deletion is redone
# without taking other processes' articles, which this cache holds unlinked, for orphans), and
# `synced` holds the server revision of each article (or deletion) applied to the cache.
SHARED_SCHEMA = """
CREATE TABLE IF NOT EXISTS unlinked (article_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS synced (id TEXT PRIMARY KEY, rev REAL NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with the metadata citations show."""

    id: str
    title: str
    text: str
    date: str | None
    source: str | None
    source_name: str | None
    author: str | None
    url: str | None
    external_id: str | None
    path: str
    captions: tuple[str, ...]
    extra: dict[str, str]


@dataclass(frozen=True)
class StoredChunk:
    id: str
    article_id: str
    position: int
    start: int
    end: int
    text: str


# A query term in more chunks than this is "common" (see `DocStore.lexical_search`).
COMMON_TERM_SHARE = 0.01
COMMON_TERM_MIN_DOCS = 500


def date_bounds(date: str | None) -> tuple[int | None, int | None]:
    """Turn `2022`, `2022-07` or `2022-07-15` into an inclusive yyyymmdd range for filtering."""
    if not date:
        return None, None
    parts = date[:10].split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else None
        day = int(parts[2]) if len(parts) > 2 else None
    except ValueError:
        return None, None
    if month is None:
        return year * 10000 + 101, year * 10000 + 1231
    if day is None:
        return year * 10000 + month * 100 + 1, year * 10000 + month * 100 + 31
    value = year * 10000 + month * 100 + day
    return value, value


def _delete_chunks(db: sqlite3.Connection, article_id: str) -> None:
    db.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE article_id = ?)",
        (article_id,),
    )
    db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))


def _count_forms(db: sqlite3.Connection, texts: Iterable[str], sign: int = 1) -> None:
    """Add (or with sign -1, take away) the word forms and pairs of `texts` to the counts."""
    forms: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for text in texts:
        f, p = word_forms(text)
        forms.update(f)
        pairs.update(p)
    db.executemany(
        "INSERT INTO word_forms(form, folded, n) VALUES (?, ?, ?) "
        "ON CONFLICT(form) DO UPDATE SET n = n + excluded.n",
        [(form, fold_diacritics(form), sign * n) for form, n in forms.items()],
    )
    db.executemany(
        "INSERT INTO form_pairs(pair, n) VALUES (?, ?) "
        "ON CONFLICT(pair) DO UPDATE SET n = n + excluded.n",
        [(pair, sign * n) for pair, n in pairs.items()],
    )


def _stored_texts(db: sqlite3.Connection, article_ids: Iterable[str]) -> list[str]:
    texts = []
    for article_id in article_ids:
        row = db.execute("SELECT title, text FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row:
            texts.append(f"{row[0]}\n{row[1]}")
    return texts


def _write_articles(
    db: sqlite3.Connection,
    articles: list[Article],
    chunks: dict[str, list[Chunk]],
    state: str,
    layout: ChunkLayout,
) -> None:
    """Replace articles, their chunks, BM25 keys and word-form counts (caller's transaction)."""
    now = _now()
    _count_forms(db, _stored_texts(db, [a.id for a in articles]), -1)  # replaced ones
    _count_forms(db, (f"{a.title}\n{a.text}" for a in articles))
    for a in articles:
        lo, hi = date_bounds(a.date)
        db.execute(
            "INSERT OR REPLACE INTO articles(id, title, text, date, date_from, date_to, "
            "source, source_name, author, url, external_id, path, captions, extra, state, "
            "added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.id, a.title, a.text, a.date, lo, hi, a.source, a.source_name,
                a.author, a.url, a.external_id, a.path,
                json.dumps(list(a.captions), ensure_ascii=False),
                json.dumps(a.extra, ensure_ascii=False), state, now,
            ),
        )  # fmt: skip
        _delete_chunks(db, a.id)
        for c in chunks[a.id]:
            cur = db.execute(
                "INSERT INTO chunks(id, article_id, position, start, end, text) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (c.id, c.article_id, c.position, c.start, c.end, c.text),
            )
            db.execute(
                "INSERT INTO chunks_fts(rowid, keys) VALUES (?, ?)",
                (
                    cur.lastrowid,
                    index_tokens(layout.lexical_text(a, c)),
                ),
            )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class DocStore:
    """Thread-safe wrapper over one SQLite file (WAL mode, one connection, one lock).

    `shared`: the file is the local cache of a Chroma server that other processes write too.
    """

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.shared = shared
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        if shared:
            self._db.executescript(SHARED_SCHEMA)
        self._db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab "
            "USING fts5vocab(main, 'chunks_fts', 'row')"
        )
        self._freq_cache: dict[str, int] = {}
        self._freq_size = -1
        self._form_total = 0
        self._form_total_size = -1

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _query_in(self, sql: str, values: Iterable[object]) -> list[tuple]:
        """Rows of ``sql``, whose ``{marks}`` is an ``IN`` list of ``values``, 500 at a time.

        SQLite bounds the parameters of one statement; an ingest asks about thousands of ids.
        """
        values = list(values)
        rows: list[tuple] = []
        for i in range(0, len(values), 500):
            part = values[i : i + 500]
            rows += self._query(sql.format(marks=",".join("?" * len(part))), part)
        return rows

    # meta -----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # files ----------------------------------------------------------------------------------
    def file_digest(self, path: str) -> str | None:
        rows = self._query("SELECT digest FROM files WHERE path = ?", (path,))
        return rows[0][0] if rows else None

    def linked_paths(self) -> list[str]:
        """Paths with article links, including files whose ingest was interrupted."""
        rows = self._query(
            "SELECT path FROM files UNION SELECT path FROM file_articles ORDER BY path"
        )
        return [r[0] for r in rows]

    def articles_of_file(self, path: str) -> set[str]:
        rows = self._query("SELECT article_id FROM file_articles WHERE path = ?", (path,))
        return {r[0] for r in rows}

    def record_file(self, path: str, digest: str, n_articles: int) -> None:
        """Mark a file complete; written last, so a crash before it makes the next run redo it."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO files(path, digest, n_articles, ingested_at) "
                "VALUES (?, ?, ?, ?)",
                (path, digest, n_articles, _now()),
            )

    def forget_file(self, path: str) -> set[str]:
        """Drop a file's record and links; returns the article ids no other file still links."""
        with self.transaction() as db:
            ids = {
                r[0]
                for r in db.execute(
                    "SELECT article_id FROM file_articles WHERE path = ?", (path,)
                ).fetchall()
            }
            db.execute("DELETE FROM file_articles WHERE path = ?", (path,))
            db.execute("DELETE FROM files WHERE path = ?", (path,))
            self._journal_unlinked(db, ids)
        return {i for i in ids if not self._is_linked(i)}

    def unlink(self, path: str, article_ids: Iterable[str]) -> set[str]:
        """Remove links from a file to articles; returns those left linked to no file."""
        ids = set(article_ids)
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM file_articles WHERE path = ? AND article_id = ?",
                [(path, i) for i in ids],
            )
            self._journal_unlinked(db, ids)
        return {i for i in ids if not self._is_linked(i)}

    def _journal_unlinked(self, db: sqlite3.Connection, ids: Iterable[str]) -> None:
        if self.shared:
            db.executemany(
                "INSERT OR IGNORE INTO unlinked(article_id) VALUES (?)", [(i,) for i in ids]
            )

    def _is_linked(self, article_id: str) -> bool:
        return bool(
            self._query("SELECT 1 FROM file_articles WHERE article_id = ? LIMIT 1", (article_id,))
        )

    # articles -------------------------------------------------------------------------------
    def done_ids(self, ids: Iterable[str]) -> set[str]:
        sql = "SELECT id FROM articles WHERE state = 'done' AND id IN ({marks})"
        return {r[0] for r in self._query_in(sql, ids)}

    def begin_articles(
        self,
        path: str,
        articles: list[Article],
        chunks: dict[str, list[Chunk]],
        layout: ChunkLayout,
    ) -> None:
        """Write articles as `pending` with their chunks, before any vector is written."""
        with self.transaction() as db:
            _write_articles(db, articles, chunks, "pending", layout)
            db.executemany(
                "INSERT OR IGNORE INTO file_articles(path, article_id) VALUES (?, ?)",
                [(path, a.id) for a in articles],
            )

    def link(self, path: str, article_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO file_articles(path, article_id) VALUES (?, ?)",
                [(path, i) for i in article_ids],
            )

    def mark_done(self, article_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE articles SET state = 'done' WHERE id = ?", [(i,) for i in article_ids]
            )

    def delete_articles(self, article_ids: Iterable[str]) -> None:
        article_ids = list(article_ids)
        with self.transaction() as db:
            _count_forms(db, _stored_texts(db, article_ids), -1)
            for i in article_ids:
                _delete_chunks(db, i)
                db.execute("DELETE FROM articles WHERE id = ?", (i,))
            if self.shared:
                db.executemany(
                    "DELETE FROM unlinked WHERE article_id = ?", [(i,) for i in article_ids]
                )

    # word forms (diacritic restoration) ----------------------------------------------------
    def ensure_word_forms(self, *, progress: bool = False, batch: int = 500) -> None:
        """Count the word forms of articles stored before the counts existed; once per store.

        New and changed articles are counted as they are written; this catches up a store
        built by an older version (about a minute for 40k articles). Called under the ingest
        lock.
        """
        if self.get_meta("word_forms") == "1":
            return
        with self.transaction() as db:
            db.execute("DELETE FROM word_forms")
            db.execute("DELETE FROM form_pairs")
            (total,) = db.execute("SELECT COUNT(*) FROM articles").fetchone()
            bar = tqdm(
                total=total,
                desc="Counting word forms (once)",
                unit="article",
                disable=not progress or not total,
                leave=False,
            )
            rows = db.execute("SELECT title, text FROM articles")
            while part := rows.fetchmany(batch):
                _count_forms(db, (f"{title}\n{text}" for title, text in part))
                bar.update(len(part))
            bar.close()
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('word_forms', '1')")

    def form_candidates(self, folded: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """Written forms seen for each folded syllable (`dang` -> `đảng`, `đang`...) with counts."""
        keys = list(dict.fromkeys(folded))
        out: dict[str, list[tuple[str, int]]] = {k: [] for k in keys}
        if keys:
            for form, key, n in self._query(
                f"SELECT form, folded, n FROM word_forms WHERE n > 0 AND folded IN "
                f"({','.join('?' * len(keys))})",
                keys,
            ):
                out[key].append((form, n))
        return out

    def pair_counts(self, pairs: Iterable[str]) -> dict[str, int]:
        sql = "SELECT pair, n FROM form_pairs WHERE n > 0 AND pair IN ({marks})"
        return dict(self._query_in(sql, dict.fromkeys(pairs)))

    def form_total(self) -> int:
        """All counted words, for unigram probabilities; cached until the index changes."""
        if self._form_total_size != self._size:
            self._form_total = self._query("SELECT COALESCE(SUM(n), 0) FROM word_forms")[0][0]
            self._form_total_size = self._size
        return self._form_total

    def orphan_ids(self) -> set[str]:
        """Articles no file links (left by a crash between unlinking and deleting).

        In a server's cache, only those this process unlinked, or left pending: the others are
        other processes' articles, which no local file links.
        """
        sql = "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM file_articles)"
        if self.shared:
            sql += " AND (state = 'pending' OR id IN (SELECT article_id FROM unlinked))"
        return {r[0] for r in self._query(sql)}

    def ids_by_external_id(self, external_id: str) -> list[str]:
        """Store ids of the finished articles with this archive id, oldest first."""
        rows = self._query(
            "SELECT id FROM articles WHERE external_id = ? AND state = 'done' "
            "ORDER BY added_at, id",
            (external_id,),
        )
        return [r[0] for r in rows]

    def article(self, article_id: str) -> StoredArticle | None:
        rows = self._query(
            "SELECT id, title, text, date, source, source_name, author, url, external_id, path, "
            "captions, extra FROM articles WHERE id = ?",
            (article_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return StoredArticle(*r[:10], tuple(json.loads(r[10])), json.loads(r[11]))

    def chunks(self, chunk_ids: Iterable[str]) -> dict[str, StoredChunk]:
        sql = "SELECT id, article_id, position, start, end, text FROM chunks WHERE id IN ({marks})"
        return {r[0]: StoredChunk(*r) for r in self._query_in(sql, chunk_ids)}

    def lexical_search(
        self,
        terms: list[str],
        k: int,
        *,
        since: int | None = None,
        until: int | None = None,
        sources: list[str] | None = None,
    ) -> list[tuple[str, float]]:
        """BM25 over the folded keys: (chunk id, score) best first; higher is better.

        Terms found in more than ~1% of chunks are left out of the query (keeping at least the
        three rarest): their posting lists are what make an OR query slow on a large store, and
        their IDF is low enough that the dense side ranks those passages anyway. FTS5 ranks
        first with `ORDER BY rank LIMIT` (its fast path); filters and the `done` state are
        applied to that candidate list, which is widened when filters are given.
        `since`/`until` are yyyymmdd bounds: an article counts when its date range overlaps.
        """
        if not terms or k <= 0:
            return []
        freq = self._document_frequencies(terms)
        common = max(COMMON_TERM_MIN_DOCS, COMMON_TERM_SHARE * self._size)
        keep = [t for t in terms if 0 < freq.get(t, 0) <= common]
        if not keep:
            keep = sorted((t for t in terms if freq.get(t)), key=freq.__getitem__)[:3]
        if not keep:
            return []
        filtered = since is not None or until is not None or bool(sources)
        ranked = self._query(
            "SELECT rowid, -rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
            (match_expression(keep), k * (20 if filtered else 2)),
        )
        if not ranked:
            return []
        rows = self._query(
            "SELECT c.rowid, c.id, a.state, a.date_from, a.date_to, a.source FROM chunks c "
            "JOIN articles a ON a.id = c.article_id "
            f"WHERE c.rowid IN ({','.join('?' * len(ranked))})",
            [r[0] for r in ranked],
        )
        info = {r[0]: r[1:] for r in rows}
        hits: list[tuple[str, float]] = []
        for rowid, score in ranked:
            if rowid not in info:
                continue
            chunk_id, state, date_from, date_to, source = info[rowid]
            if state != "done":
                continue
            if since is not None and (date_to is None or date_to < since):
                continue
            if until is not None and (date_from is None or date_from > until):
                continue
            if sources and source not in sources:
                continue
            hits.append((chunk_id, float(score)))
            if len(hits) == k:
                break
        return hits

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """Each term's inverse chunk frequency, `log(1 + N / (n + 1))`; absent terms left out.

        The counts are the BM25 index's own (cached like `lexical_search`'s), so weighing a
        question's terms costs no more than searching them did.
        """
        size = self._size
        freq = self._document_frequencies(terms)
        return {t: math.log(1 + size / (n + 1)) for t, n in freq.items() if n}

    @property
    def _size(self) -> int:
        return self._query("SELECT COALESCE(MAX(rowid), 0) FROM chunks")[0][0]

    def _document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """Chunks containing each term, cached until the index changes."""
        size = self._size
        if self._freq_size != size:
            self._freq_cache.clear()
            self._freq_size = size
        missing = [t for t in terms if t not in self._freq_cache]
        if missing:
            rows = self._query(
                f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN "
                f"({','.join('?' * len(missing))})",
                missing,
            )
            found = dict(rows)
            for t in missing:
                self._freq_cache[t] = found.get(t, 0)
        return {t: self._freq_cache[t] for t in terms}

    def counts(self) -> dict[str, int]:
        (files,) = self._query("SELECT COUNT(*) FROM files")[0]
        (articles,) = self._query("SELECT COUNT(*) FROM articles WHERE state = 'done'")[0]
        (pending,) = self._query("SELECT COUNT(*) FROM articles WHERE state = 'pending'")[0]
        (chunks,) = self._query(
            "SELECT COUNT(*) FROM chunks WHERE article_id IN "
            "(SELECT id FROM articles WHERE state = 'done')"
        )[0]
        return {"files": files, "articles": articles, "pending": pending, "chunks": chunks}

    # the cache of a Chroma server ------------------------------------------------------------
    def synced_revs(self, ids: Iterable[str]) -> dict[str, float]:
        """The server revision last applied for each of `ids` (absent: never applied)."""
        return dict(self._query_in("SELECT id, rev FROM synced WHERE id IN ({marks})", ids))

    def synced_revs_exist(self) -> bool:
        return bool(self._query("SELECT 1 FROM synced LIMIT 1"))

    def apply_server_changes(
        self,
        articles: list[Article],
        chunks: dict[str, list[Chunk]],
        deleted: list[str],
        revs: dict[str, float],
        layout: ChunkLayout = LEGACY_LAYOUT,
    ) -> None:
        """Apply what the server says in one transaction: articles, deletions, revisions.

        `layout`: the server collection's, for the BM25 text of the articles' chunks.
        """
        with self.transaction() as db:
            if deleted:
                _count_forms(db, _stored_texts(db, deleted), -1)
                for i in deleted:
                    _delete_chunks(db, i)
                    db.execute("DELETE FROM articles WHERE id = ?", (i,))
            if articles:
                _write_articles(db, articles, chunks, "done", layout)
            db.executemany(
                "INSERT OR REPLACE INTO synced(id, rev) VALUES (?, ?)", list(revs.items())
            )

    def clear(self) -> None:
        """Empty every table (a cache whose server was reset), keeping the file."""
        with self.transaction() as db:
            for table in (
                "files", "articles", "file_articles", "chunks", "chunks_fts", "word_forms",
                "form_pairs", "meta", *(("unlinked", "synced") if self.shared else ()),
            ):  # fmt: skip
                db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)

    def chunk_counts(self, article_ids: Iterable[str]) -> dict[str, int]:
        sql = (
            "SELECT article_id, COUNT(*) FROM chunks WHERE article_id IN ({marks}) "
            "GROUP BY article_id"
        )
        return dict(self._query_in(sql, article_ids))

    def done_articles(self, batch: int = 200) -> Iterator[list[tuple[StoredArticle, int]]]:
        """Finished articles with their chunk counts, in batches (to publish them to a server)."""
        rows = self._query("SELECT id FROM articles WHERE state = 'done' ORDER BY id")
        ids = [r[0] for r in rows]
        for i in range(0, len(ids), batch):
            part = ids[i : i + batch]
            counts = self.chunk_counts(part)
            found = [self.article(a) for a in part]
            yield [(a, counts.get(a.id, 0)) for a in found if a is not None]

    def sources(self) -> list[tuple[str, str | None, int]]:
        """(source code, display name, article count), most articles first."""
        rows = self._query(
            "SELECT source, MAX(source_name), COUNT(*) FROM articles "
            "WHERE state = 'done' AND source IS NOT NULL GROUP BY source ORDER BY 3 DESC"
        )
        return [(r[0], r[1], r[2]) for r in rows]
