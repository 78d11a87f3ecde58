"""The store layer's one entry point: article records, chunk vectors and the embedder together."""

from __future__ import annotations

import fcntl
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.chunk import ChunkLayout
from ingest.settings import IngestSettings
from store.chroma import StoreError, VectorIndex, make_client
from store.docstore import DocStore, StoredArticle
from store.indexer import Indexer
from store.report import IngestReport
from store.settings import StoreSettings
from store.sync import CacheSync, ServerRecords, writer_id

if TYPE_CHECKING:
    from langchain_chroma import Chroma

    from store.embedder import Embedder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreStats:
    files: int
    articles: int
    chunks: int
    pending: int
    vectors: int
    model: str | None
    dimension: int | None
    location: str
    layout: str | None = None  # how its chunks were cut (`ChunkLayout.describe`); None: empty

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def records_path(settings: StoreSettings) -> Path:
    """Where the SQLite records live: in the store folder, per server when Chroma is remote.

    With a server they are a cache of it (see `store.sync`): deleting the folder is harmless.
    """
    if settings.chroma_url:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", settings.chroma_url).strip("_")
        return settings.store_path / "servers" / f"{slug}_{settings.collection}" / "records.sqlite3"
    return settings.store_path / f"{settings.collection}.records.sqlite3"


class Store:
    """Articles and their chunk vectors, in Chroma (vectors) and SQLite (records and text).

    The embedding model is loaded only when something must be embedded, so `stats`, browsing
    sources and re-ingesting unchanged files stay fast. With a Chroma server, the server holds
    everything and the SQLite file is this process's cache of it, brought up to date when the
    store opens (a rebuild, on an empty folder) and then by `records` at most once every
    `sync_interval` seconds, so every process sees what the others ingested or pruned.
    """

    def __init__(
        self,
        settings: StoreSettings,
        *,
        embedder: Embedder | None = None,
        check_model: bool = True,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self.client = make_client(settings)
        try:
            self._records = DocStore(records_path(settings), shared=bool(settings.chroma_url))
        except OSError as e:
            raise StoreError(f"Cannot open the store records: {e}") from e
        self.collection_name = f"{settings.collection}_chunks"
        self._check_model = check_model
        self._index = VectorIndex.open(
            self.client, self.collection_name, model_label=settings.model if check_model else None
        )
        self._sync: CacheSync | None = None
        if settings.chroma_url:
            self._sync = CacheSync(
                self._records,
                ServerRecords(self.client, settings.collection, writer_id(str(self._records.path))),
                self._open_index,
                settings.sync_interval,
            )
            self.refresh()  # an empty folder is rebuilt now, not on the first question

    @property
    def records(self) -> DocStore:
        """The article records, brought up to date with the server first when there is one."""
        if self._sync is not None:
            self._sync.maybe()
        return self._records

    def refresh(self, *, progress: bool = True) -> None:
        """Bring the cache up to date with the server now (nothing to do when embedded).

        Raises:
            StoreError: the server cannot be read.
        """
        if self._sync is None:
            return
        try:
            self._sync.sync(progress=progress)
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(
                f"Cannot read the Chroma server at {self.settings.chroma_url}: {e}"
            ) from e

    def _open_index(self, reopen: bool = False) -> VectorIndex:
        """The chunk collection, opened again if another process created it since we started."""
        if reopen or not self._index.exists:
            model = self.settings.model if self._check_model else None
            self._index = VectorIndex.open(self.client, self.collection_name, model_label=model)
        return self._index

    @property
    def location(self) -> str:
        if self.settings.chroma_url:
            return f"{self.settings.chroma_url} (cache in {records_path(self.settings).parent})"
        return str(self.settings.store_path)

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use.

        Loading it takes seconds, and a search or write right after needs the vector index,
        which an embedded store also reads from disk on first use: that read is started first,
        so the two overlap instead of adding up in a cold `hoidap ask`.
        """
        if self._embedder is None:
            from store.embedder import Embedder

            if not self.settings.chroma_url:
                self._index.preload()
            self._embedder = Embedder.from_settings(self.settings)
        return self._embedder

    def layout(self, settings: IngestSettings) -> ChunkLayout:
        """The layout new chunks get: the store's own, or the settings' for an empty store."""
        return self._open_index().layout or ChunkLayout.of(settings)

    def _index_for_write(self, layout: ChunkLayout) -> VectorIndex:
        if not self._index.exists or self._index.dimension is None:
            self._index = VectorIndex.open(
                self.client,
                self.collection_name,
                model_label=self.settings.model,
                dimension=self.embedder.dimension,
                layout=layout,
            )
        elif self._index.dimension != self.embedder.dimension:
            raise StoreError(
                f"This store holds {self._index.dimension}-dimensional vectors but the model "
                f"makes {self.embedder.dimension}. Re-index with `hoidap reset --yes`."
            )
        return self._index

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        lock_path = self._records.path.with_suffix(".lock")
        with open(lock_path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                raise StoreError(
                    f"Another ingest is writing to this store ({self.location}); "
                    "wait for it to finish."
                ) from e
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ingest(
        self,
        paths: list[Path],
        settings: IngestSettings,
        *,
        prune: bool = False,
        progress: bool = True,
    ) -> IngestReport:
        """Add, update or (with `prune`) remove articles so the store matches the files.

        Raises:
            UsageError: a path does not exist (nothing is done).
            StoreError: the store cannot be written (another ingest runs, wrong model).
        """
        with self._write_lock():
            self.refresh(progress=progress)  # what other processes wrote is not redone
            self._records.ensure_word_forms(progress=progress)
            layout, wanted = self.layout(settings), ChunkLayout.of(settings)
            indexer = Indexer(
                self._records,
                self._open_index(),
                lambda: self._index_for_write(layout),
                lambda texts: self.embedder.embed_passages(texts),
                settings.model_copy(update=asdict(layout)),
                flush_size=self.settings.batch_size * 16,
                progress=progress,
                publish=self._publish if self._sync else None,
                retract=self._retract if self._sync else None,
            )
            report = indexer.run(paths, prune=prune)
            if layout != wanted and report.chunks_embedded:
                report.notes.append(
                    f"This store keeps its layout, {layout.describe()}; the settings ask for "
                    f"{wanted.describe()}. `hoidap reindex --yes` rebuilds "
                    "it from its files in the settings' layout (README: Chunk layout)."
                )
            return report

    def reindex(self, settings: IngestSettings, *, progress: bool = True) -> IngestReport:
        """Empty the store and ingest again every file it was built from, in `settings`' layout.

        Every file is checked before anything is deleted: a store whose files are gone keeps
        its articles. The list is kept beside the records until the ingest ends, so an
        interrupted re-index is finished by running it again.

        Raises:
            StoreError: a file is missing, or the store is a Chroma server's (other folders
                ingested articles this one cannot read again).
        """
        if self._sync is not None:
            raise StoreError(
                "A store on a Chroma server holds what every folder ingested, and this one "
                "knows only its own files: re-index with `hoidap reset --yes`, then "
                "`hoidap ingest` from each folder again."
            )
        pending = self._records.path.with_name(f"{self.settings.collection}.reindex.json")
        paths = self._records.linked_paths()
        if pending.is_file():  # an earlier re-index stopped after the reset, or a file failed
            paths = sorted({*paths, *json.loads(pending.read_text(encoding="utf-8"))})
        if not paths:
            raise StoreError("The store has no files to re-index: `hoidap ingest PATH` first.")
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            shown = "\n  ".join(missing[:10]) + ("\n  …" if len(missing) > 10 else "")
            raise StoreError(
                f"{len(missing)} of the {len(paths)} files this store was built from are gone, "
                f"so their articles could not be stored again; nothing was changed:\n  {shown}"
            )
        pending.write_text(json.dumps(paths, ensure_ascii=False), encoding="utf-8")
        self.reset()
        report = self.ingest([Path(p) for p in paths], settings, progress=progress)
        if not report.failed:
            pending.unlink(missing_ok=True)
        return report

    def _publish(self, article_ids: list[str]) -> None:
        """Put finished articles on the server (their chunks are there already)."""
        assert self._sync is not None
        counts = self._records.chunk_counts(article_ids)
        found = [self._records.article(i) for i in article_ids]
        items = [(a, counts.get(a.id, 0)) for a in found if a is not None]
        self._sync.published(self._sync.server.publish(items))

    def _retract(self, article_ids: list[str]) -> None:
        """Take articles off the server, leaving tombstones the other caches apply."""
        assert self._sync is not None
        self._sync.published(self._sync.server.retract(article_ids))

    def as_vectorstore(self) -> Chroma:
        """The chunk collection as a LangChain `Chroma` vector store, for LangChain pipelines.

        It embeds queries with this store's embedder (prefixes included) and returns chunks as
        `Document`s whose metadata carry `article_id`, `start` and `end`.
        """
        from langchain_chroma import Chroma

        from store.langchain_embeddings import as_langchain_embeddings

        if not self._index.exists:
            raise StoreError("The store is empty: ingest articles first (`hoidap ingest PATH`).")
        return Chroma(
            client=self.client,
            collection_name=self.collection_name,
            embedding_function=as_langchain_embeddings(self.embedder),
        )

    @property
    def index(self) -> VectorIndex:
        return self._open_index() if self._sync is not None else self._index

    def article(self, article_id: str) -> StoredArticle | None:
        return self.records.article(article_id)

    def stats(self) -> StoreStats:
        counts = self.records.counts()
        return StoreStats(
            files=counts["files"],
            articles=counts["articles"],
            chunks=counts["chunks"],
            pending=counts["pending"],
            vectors=self._index.count(),
            model=self._index.model_label or self.settings.model,
            dimension=self._index.dimension,
            location=self.location,
            layout=layout.describe() if (layout := self._index.layout) else None,
        )

    def reset(self) -> None:
        """Delete every article and vector of this store (used to re-index with another model).

        With a server this empties the server: every process's cache is rebuilt, empty.
        """
        with self._write_lock():
            try:
                self.client.delete_collection(self.collection_name)
            except Exception:  # already absent
                logger.debug("collection %s was absent", self.collection_name)
            if self._sync is not None:
                self._sync.server.forget()
            path = self._records.path
            self._records.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            self._records = DocStore(path, shared=self._sync is not None)
            if self._sync is not None:
                self._sync.records = self._records
            self._index = VectorIndex.open(self.client, self.collection_name, model_label=None)

    def close(self) -> None:
        self._records.close()
