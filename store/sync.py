"""A Chroma server as the one source of truth; each process's SQLite file is a cache of it.

With `--chroma-url`, three collections on the server hold everything needed to answer:

- `{prefix}_chunks`: chunk vectors, texts and metadata (article id, position, span, date, source);
- `{prefix}_articles`: each finished article's text (the document) and metadata, with `rev`,
  the time it was published, and `n_chunks`; written only after all its chunks are upserted,
  so an article on the server always has its chunks (a process killed midway leaves only
  chunks under content-derived ids, which the next ingest of that article overwrites);
- `{prefix}_deleted`: a tombstone per deleted article, with the `rev` of the deletion;
- `{prefix}_writers`: one small record per ingesting store folder, given a new token after each
  of its writes, so that a check when nothing changed is one request for a handful of records.

(Chroma needs a vector per record: those three carry a constant 1-d placeholder.)

The local cache (articles, chunks, the FTS5 BM25 index, word-form counts) is derived from those
records. A cache that never saw this server rebuilds itself from every article; afterwards
`CacheSync.sync` asks only for articles and tombstones whose `rev` is at least `since`, the
newest revision seen minus `MARGIN` seconds, and skips the revisions it has already applied
(kept per id in the cache). The margin covers a writer whose revision was stamped a moment
before its upsert became visible, and clock skew between machines. Those queries run only when
a writer's token differs from the last check's. A writer killed between its last write and its
token update is seen at the next change anyone makes (its revisions are still in the window
then). A server whose collections were deleted and made again (`hoidap reset`) is noticed by
the articles collection's id, and the cache is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import chromadb
import numpy as np
from tqdm import tqdm

from ingest.chunk import LEGACY_LAYOUT
from ingest.models import Article, Chunk
from store.chroma import VectorIndex
from store.docstore import DocStore, StoredArticle

logger = logging.getLogger(__name__)

# Seconds of revisions asked for again at each check (see the module docstring).
MARGIN = 60.0
BATCH = 200  # articles per request while rebuilding or catching up
SERVER_KEY = "server_articles_collection"
SINCE_KEY = "server_since"
HEADS_KEY = "server_writers"
_PLACEHOLDER = np.ones((1, 1), dtype=np.float32)


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma rejects None metadata values: leave those keys out."""
    return {k: v for k, v in meta.items() if v is not None}


def article_metadata(article: StoredArticle | Article, n_chunks: int, rev: float) -> dict:
    return _clean(
        {
            "title": article.title,
            "date": article.date,
            "source": article.source,
            "source_name": article.source_name,
            "author": article.author,
            "url": article.url,
            "external_id": article.external_id,
            "path": article.path,
            "captions": json.dumps(list(article.captions), ensure_ascii=False),
            "extra": json.dumps(article.extra, ensure_ascii=False),
            "n_chunks": n_chunks,
            "rev": rev,
        }
    )


def article_from_record(text: str, meta: dict[str, Any]) -> Article:
    """The article as ingest made it; its content-derived id is the record's id again."""
    return Article(
        title=meta["title"],
        text=text,
        path=meta.get("path", ""),
        date=meta.get("date"),
        source=meta.get("source"),
        source_name=meta.get("source_name"),
        author=meta.get("author"),
        url=meta.get("url"),
        external_id=meta.get("external_id"),
        captions=tuple(json.loads(meta.get("captions", "[]"))),
        extra=json.loads(meta.get("extra", "{}")),
    )


def writer_id(folder: str) -> str:
    """One id per ingesting store folder (its ingests never overlap: they hold its lock)."""
    return hashlib.sha256(f"{socket.gethostname()}\x1f{folder}".encode()).hexdigest()[:16]


class ServerRecords:
    """The server's article, tombstone and writer collections (created on first use).

    `writer`: the id this process's writes are announced under (see `writer_id`).
    """

    def __init__(self, client: chromadb.ClientAPI, prefix: str, writer: str = "") -> None:
        self.client = client
        self.names = (f"{prefix}_articles", f"{prefix}_deleted", f"{prefix}_writers")
        self.writer = writer or uuid.uuid4().hex[:16]
        self._handles: tuple[chromadb.Collection, ...] | None = None

    def _all(self) -> tuple[chromadb.Collection, ...]:
        if self._handles is None:
            self._handles = tuple(
                self.client.get_or_create_collection(name, embedding_function=None)
                for name in self.names
            )
        return self._handles

    def _open(self) -> tuple[chromadb.Collection, chromadb.Collection]:
        articles, deleted, _ = self._all()
        return articles, deleted

    def reopen(self) -> None:
        """Forget the collection handles (the collections may have been deleted and re-made)."""
        self._handles = None

    def heads(self) -> dict[str, str]:
        """Each writer's latest token: unchanged tokens mean nothing was written since."""
        got = self._all()[2].get(include=["metadatas"])
        return {i: str(m.get("token")) for i, m in zip(got["ids"], got["metadatas"])}

    def _announce(self, rev: float) -> str:
        token = uuid.uuid4().hex
        self._all()[2].upsert(
            ids=[self.writer], embeddings=_PLACEHOLDER, metadatas=[{"rev": rev, "token": token}]
        )
        return token

    @property
    def identity(self) -> str:
        """The articles collection's id: it changes when the server's store is reset."""
        return str(self._open()[0].id)

    def forget(self) -> None:
        """Delete the collections (`hoidap reset`)."""
        for name in self.names:
            try:
                self.client.delete_collection(name)
            except Exception:  # already absent
                logger.debug("collection %s was absent", name)
        self._handles = None

    def publish(
        self, articles: Iterable[tuple[StoredArticle | Article, int]]
    ) -> tuple[dict[str, float], str]:
        """Upsert finished articles with their chunk counts: (their revisions, the new token)."""
        items = list(articles)
        if not items:
            return {}, ""
        collection = self._open()[0]
        rev = time.time()
        for i in range(0, len(items), BATCH):
            part = items[i : i + BATCH]
            collection.upsert(
                ids=[a.id for a, _ in part],
                embeddings=np.repeat(_PLACEHOLDER, len(part), axis=0),
                documents=[a.text for a, _ in part],
                metadatas=[article_metadata(a, n, rev) for a, n in part],
            )
        return {a.id: rev for a, _ in items}, self._announce(rev)

    def retract(self, article_ids: list[str]) -> tuple[dict[str, float], str]:
        """Remove articles and leave tombstones: (the deletions' revisions, the new token)."""
        if not article_ids:
            return {}, ""
        articles, deleted = self._open()
        rev = time.time()
        for i in range(0, len(article_ids), BATCH):
            part = article_ids[i : i + BATCH]
            deleted.upsert(
                ids=part,
                embeddings=np.repeat(_PLACEHOLDER, len(part), axis=0),
                metadatas=[{"rev": rev} for _ in part],
            )
            articles.delete(ids=part)
        return {i: rev for i in article_ids}, self._announce(rev)

    def revisions_since(self, since: float) -> tuple[dict[str, float], dict[str, float]]:
        """(published, deleted): revisions at or after `since`, by article id."""
        out = []
        for collection in self._open():
            got = collection.get(where={"rev": {"$gte": since}}, include=["metadatas"])
            out.append({i: float(m["rev"]) for i, m in zip(got["ids"], got["metadatas"])})
        return out[0], out[1]

    def all_ids(self) -> list[str]:
        return list(self._open()[0].get(include=[])["ids"])

    def fetch(self, ids: list[str]) -> list[tuple[Article, int, float]]:
        """(article, chunk count, revision) of those of `ids` still on the server."""
        got = self._open()[0].get(ids=ids, include=["documents", "metadatas"])
        return [
            (article_from_record(text, meta), int(meta.get("n_chunks", 0)), float(meta["rev"]))
            for text, meta in zip(got["documents"], got["metadatas"])
        ]


class CacheSync:
    """Keeps one process's cache equal to the server, at most every `interval` seconds.

    Args:
        records: the local cache (a `DocStore` opened with `shared=True`).
        server: the server's article and tombstone collections.
        chunks: returns the chunk collection as now open (it may be created after we start);
            with True, opened again (the server was reset).
        interval: seconds between checks made by `maybe` (0: check every time).
    """

    def __init__(
        self,
        records: DocStore,
        server: ServerRecords,
        chunks: Callable[[bool], VectorIndex],
        interval: float,
    ) -> None:
        self.records = records
        self.server = server
        self._chunks = chunks
        self.interval = interval
        self._lock = threading.Lock()
        self._checked = -float("inf")

    def maybe(self) -> None:
        """Sync unless another check ran less than `interval` seconds ago.

        A server that fails meanwhile is logged, not raised. While another thread syncs, the
        caller reads the cache as it is rather than waiting (the UI answers several questions
        at once; only one of them pays for a catch-up).
        """
        if time.monotonic() - self._checked < self.interval:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            if time.monotonic() - self._checked >= self.interval:
                self._sync(progress=True)
        except Exception as e:  # the server is down or busy: read the cache meanwhile
            logger.warning("could not check the Chroma server for changes: %s", e)
        finally:
            self._checked = time.monotonic()
            self._lock.release()

    def sync(self, *, progress: bool = True) -> None:
        """Rebuild the cache when it never saw this server, then catch up with its changes."""
        with self._lock:
            self._sync(progress=progress)
            self._checked = time.monotonic()

    def published(self, written: tuple[dict[str, float], str]) -> None:
        """Record what this process wrote itself, so the next check does not fetch it back."""
        revs, token = written
        self.records.apply_server_changes([], {}, [], revs)
        heads = self._heads()
        if token and heads is not None:
            heads[self.server.writer] = token
            self.records.set_meta(HEADS_KEY, json.dumps(heads, sort_keys=True))

    def _heads(self) -> dict[str, str] | None:
        saved = self.records.get_meta(HEADS_KEY)
        return json.loads(saved) if saved else None

    def _sync(self, *, progress: bool) -> None:
        try:
            heads = self.server.heads()
        except Exception:  # the collections were deleted (a reset): open them again
            self.server.reopen()
            heads = self.server.heads()
        identity = self.server.identity
        if self.records.get_meta(SERVER_KEY) != identity:
            self._rebuild(identity, progress=progress)
        elif heads == self._heads():
            return  # nobody wrote since the last check
        self._catch_up(float(self.records.get_meta(SINCE_KEY) or 0.0))
        self.records.set_meta(HEADS_KEY, json.dumps(heads, sort_keys=True))

    def _rebuild(self, identity: str, *, progress: bool) -> None:
        started = time.time()
        if self.records.get_meta(SERVER_KEY) is not None:
            logger.info("the Chroma server was reset: rebuilding the local cache")
            self.records.clear()
            self._chunks(True)
        else:
            self._publish_local()  # a cache made before the server held articles
        if self.records.counts()["articles"] == 0:
            self.records.set_meta("word_forms", "1")  # counted as articles are applied
        ids = self.server.all_ids()
        have = self.records.done_ids(ids)
        missing = [i for i in ids if i not in have]
        bar = tqdm(
            total=len(missing),
            desc="Rebuilding the local cache from the server",
            unit="article",
            disable=not progress or not missing or None,  # None: only on a terminal
            leave=False,
        )
        for i in range(0, len(missing), BATCH):
            self._apply(self.server.fetch(missing[i : i + BATCH]), {})
            bar.update(len(missing[i : i + BATCH]))
        bar.close()
        self.records.set_meta(SINCE_KEY, repr(started - MARGIN))
        self.records.set_meta(SERVER_KEY, identity)

    def _publish_local(self) -> None:
        """A cache made before the server held articles: the server gets its finished articles.

        Their chunks are on the server already. A cache that ever applied or wrote a server
        revision (a rebuild that was interrupted, say) is not such a cache.
        """
        if self.records.synced_revs_exist():
            return
        for batch in self.records.done_articles():
            self.published(self.server.publish(batch))

    def _catch_up(self, since: float) -> None:
        published, deleted = self.server.revisions_since(since)
        if not published and not deleted:
            return
        known = self.records.synced_revs([*published, *deleted])
        latest: dict[str, tuple[float, bool]] = {}  # id -> (rev, still there)
        for revs, present in ((published, True), (deleted, False)):
            for i, rev in revs.items():
                if i not in latest or rev > latest[i][0]:
                    latest[i] = (rev, present)
        todo = {i: v for i, v in latest.items() if v[0] > known.get(i, -1.0)}
        gone = {i: rev for i, (rev, present) in todo.items() if not present}
        if gone:
            self.records.apply_server_changes([], {}, sorted(gone), gone)
        new = sorted(i for i, (_, present) in todo.items() if present)
        for i in range(0, len(new), BATCH):
            self._apply(self.server.fetch(new[i : i + BATCH]), {})
        newest = max([*published.values(), *deleted.values()])
        self.records.set_meta(SINCE_KEY, repr(max(since, newest - MARGIN)))

    def _apply(self, fetched: list[tuple[Article, int, float]], revs: dict[str, float]) -> None:
        """Write fetched articles with their chunks; one whose chunks are incomplete waits."""
        if not fetched:
            return
        index = self._chunks(False)
        by_article: dict[str, list[Chunk]] = {a.id: [] for a, _, _ in fetched}
        for _, meta, text in index.chunk_records(list(by_article)):
            chunk = Chunk(
                article_id=meta["article_id"],
                position=int(meta["position"]),
                start=int(meta["start"]),
                end=int(meta["end"]),
                text=text,
            )
            by_article[chunk.article_id].append(chunk)
        articles = []
        revs = dict(revs)
        for article, n_chunks, rev in fetched:
            chunks = sorted(by_article[article.id], key=lambda c: c.position)
            if len(chunks) != n_chunks:
                logger.info("article %s has %d of %d chunks", article.id, len(chunks), n_chunks)
                continue
            by_article[article.id] = chunks
            articles.append(article)
            revs[article.id] = rev
        layout = index.layout or LEGACY_LAYOUT
        self.records.apply_server_changes(articles, by_article, [], revs, layout)
