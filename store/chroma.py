"""Chroma, in our vocabulary: chunk vectors in, nearest chunk ids out.

Chroma never embeds here (the collection has no embedding function; we pass vectors), because
its default embedder would try to download a model. Usage::

    index = VectorIndex.open(settings, model_label="multilingual-e5-small", dimension=384)
    index.upsert(chunk_ids, vectors, metadatas)
    hits = index.search(query_vector, k=20, where={"source": "GLO"})
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

from ingest.chunk import LEGACY_LAYOUT, ChunkLayout
from ingest.errors import HoidapError
from store.settings import StoreSettings

logger = logging.getLogger(__name__)

MODEL_KEY = "hoidap_model"
DIM_KEY = "hoidap_dim"
# The chunk layout (`ingest.chunk.ChunkLayout`), one key a field; absent: `LEGACY_LAYOUT`.
LAYOUT_KEYS = {"chunk_size": "hoidap_chunk_size", "chunk_overlap": "hoidap_chunk_overlap",
               "chunk_title": "hoidap_chunk_title"}  # fmt: skip


class StoreError(HoidapError):
    """The store cannot be opened or written as asked; the message says what to do."""


@dataclass(frozen=True)
class VectorHit:
    """A nearest chunk and its cosine similarity (the chunk's details live in the records)."""

    chunk_id: str
    similarity: float


def make_client(settings: StoreSettings) -> chromadb.ClientAPI:
    """An embedded client at the store folder, or an HTTP client for `chroma_url`."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(
                f"Invalid Chroma URL {settings.chroma_url!r}: expected http://HOST:PORT"
            )
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
            )
            client.heartbeat()
        except Exception as e:
            raise StoreError(
                f"Cannot reach the Chroma server at {settings.chroma_url} ({type(e).__name__}). "
                "Is `chroma run` started there?"
            ) from e
        return client
    path = settings.store_path / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except OSError as e:
        raise StoreError(f"Cannot use the store folder {path}: {e.strerror or e}") from e


class VectorIndex:
    """One Chroma collection of chunk vectors, tagged with the model that made them."""

    def __init__(self, collection: chromadb.Collection | None) -> None:
        self._collection = collection  # None: the store is empty, nothing written yet

    @classmethod
    def open(
        cls,
        client: chromadb.ClientAPI,
        name: str,
        *,
        model_label: str | None,
        dimension: int | None = None,
        layout: ChunkLayout | None = None,
    ) -> VectorIndex:
        """Open (or create, given `dimension` and `layout`) the collection and check its model.

        Raises:
            StoreError: the collection was made with another model or dimension.
        """
        try:
            existing = client.get_collection(name, embedding_function=None)
        except Exception:  # chromadb raises NotFoundError / ValueError depending on the backend
            existing = None
        if existing is None:
            if dimension is None or model_label is None or layout is None:
                return cls(None)
            metadata = {MODEL_KEY: model_label, DIM_KEY: dimension}
            metadata |= {key: getattr(layout, field) for field, key in LAYOUT_KEYS.items()}
            try:
                collection = client.create_collection(
                    name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata=metadata,
                )
                return cls(collection)
            except Exception:  # another process on the same server created it meanwhile
                existing = client.get_collection(name, embedding_function=None)
        meta = existing.metadata or {}
        stored_model, stored_dim = meta.get(MODEL_KEY), meta.get(DIM_KEY)
        if model_label is not None and stored_model not in (None, model_label):
            raise StoreError(
                f"This store was indexed with the model {stored_model!r} "
                f"({stored_dim} dimensions), but {model_label!r} is configured. "
                f"Use the same model (--model {stored_model}), or re-index with this one: "
                "`hoidap reindex --yes` (or `hoidap reset --yes` then `hoidap ingest PATHS`, "
                "or pick another --store folder)."
            )
        if dimension is not None and stored_dim not in (None, dimension):
            raise StoreError(
                f"This store holds {stored_dim}-dimensional vectors but the model makes "
                f"{dimension}. Re-index: `hoidap reset --yes` then `hoidap ingest PATHS`."
            )
        return cls(existing)

    @property
    def exists(self) -> bool:
        return self._collection is not None

    @property
    def model_label(self) -> str | None:
        return (self._collection.metadata or {}).get(MODEL_KEY) if self.exists else None

    @property
    def layout(self) -> ChunkLayout | None:
        """How this store's chunks were cut (None: nothing stored yet, any layout will do)."""
        if not self.exists:
            return None
        meta = self._collection.metadata or {}
        if LAYOUT_KEYS["chunk_size"] not in meta:
            return LEGACY_LAYOUT
        return ChunkLayout(
            int(meta[LAYOUT_KEYS["chunk_size"]]),
            int(meta[LAYOUT_KEYS["chunk_overlap"]]),
            bool(meta[LAYOUT_KEYS["chunk_title"]]),
        )

    @property
    def dimension(self) -> int | None:
        return (self._collection.metadata or {}).get(DIM_KEY) if self.exists else None

    def count(self) -> int:
        return self._collection.count() if self.exists else 0

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        documents: Sequence[str] | None = None,
    ) -> None:
        """Write vectors; `documents` (the chunk texts) let LangChain's Chroma read them back."""
        assert self._collection is not None, "open the index with a dimension to write"
        # Chroma caps one request's size; stay well under it.
        step = 1000
        for i in range(0, len(ids), step):
            self._collection.upsert(
                ids=list(ids[i : i + step]),
                embeddings=vectors[i : i + step],
                metadatas=list(metadatas[i : i + step]),
                documents=list(documents[i : i + step]) if documents is not None else None,
            )

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        if not self.exists:
            return
        for i in range(0, len(article_ids), 100):
            part = list(article_ids[i : i + 100])
            self._collection.delete(where={"article_id": {"$in": part}})

    def search(
        self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """The `k` nearest chunks to a unit vector, optionally filtered by metadata.

        Only ids and distances are asked for: the HNSW search itself takes a few milliseconds
        even at 200k chunks, while having Chroma read back the hits' metadata or documents from
        its SQLite file costs ten times that; callers read chunks from the records instead.
        """
        if not self.exists or k <= 0:
            return []
        try:
            result = self._collection.query(
                query_embeddings=[vector], n_results=k, where=where or None, include=["distances"]
            )
        except Exception as e:  # a server that went away mid-run: say so, not a traceback
            raise StoreError(f"The vector search failed ({type(e).__name__}: {e}).") from e
        distances = result["distances"][0]  # type: ignore[index]
        return [
            VectorHit(chunk_id=i, similarity=1.0 - float(d))
            for i, d in zip(result["ids"][0], distances)
        ]

    def preload(self) -> threading.Thread | None:
        """Start loading the search index from disk in the background; returns the thread.

        An embedded store reads its HNSW index on the first search (over a second at 200k
        chunks). Chroma releases the GIL while it does, so a search started now overlaps with
        whatever the caller does meanwhile, such as loading the embedding model. The thread is
        not a daemon: a process ending early waits for it rather than killing it inside Chroma.
        """
        if not self.exists or not self.dimension:
            return None
        collection = self._collection
        assert collection is not None
        vector = np.zeros(int(self.dimension), dtype=np.float32)
        vector[0] = 1.0

        def load() -> None:
            try:
                collection.query(query_embeddings=[vector], n_results=1, include=[])
            except Exception:  # an empty or changing collection: the real search will tell
                logger.debug("preloading the vector index failed", exc_info=True)

        thread = threading.Thread(target=load, name="hoidap-index-preload")
        thread.start()
        return thread

    def chunk_records(self, article_ids: Sequence[str]) -> list[tuple[str, dict[str, Any], str]]:
        """(chunk id, metadata, text) of every chunk of these articles (to rebuild a cache)."""
        if not self.exists or not article_ids:
            return []
        got = self._collection.get(
            where={"article_id": {"$in": list(article_ids)}}, include=["metadatas", "documents"]
        )
        return list(zip(got["ids"], got["metadatas"], got["documents"]))  # type: ignore[arg-type]

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (to score passages that only the lexical index found)."""
        if not self.exists or not chunk_ids:
            return {}
        try:
            got = self._collection.get(ids=list(chunk_ids), include=["embeddings"])
        except Exception:  # an id deleted meanwhile: those passages simply get no dense score
            logger.warning("could not read stored vectors of %d chunks", len(chunk_ids))
            return {}
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}
