"""Text to vectors: one sentence-transformers model behind the LangChain ``Embeddings`` interface.

e5 models are trained with ``query: `` and ``passage: `` prefixes and retrieve noticeably worse
without them; the prefixes are added here and only here, so no caller can forget them or add them
twice. Ingestion uses the numpy paths (`Embedder.embed_passages`), which hand whole batches to
``SentenceTransformer.encode`` untouched apart from the prefix: encode already sorts by length to
limit padding, so any extra work here would only cost throughput.
"""

from __future__ import annotations

import numpy as np
from langchain_core.embeddings import Embeddings
from sentence_transformers import SentenceTransformer

from ingest.errors import HoidapError
from store.model import resolve_model, without_progress_bars
from store.settings import StoreSettings


class ModelLoadError(HoidapError):
    """A configured embedding model could not be loaded (not cached, offline, or not a model)."""


class Embedder(Embeddings):
    """Embeds queries and passages with one model, adding the model's prefixes itself.

    Attributes:
        model_label: Name recorded with collections (``multilingual-e5-small`` for the default
            model, else the configured name or folder), so vectors of different models are never
            mixed.
        query_prefix: Text put before every query.
        passage_prefix: Text put before every passage.
        batch_size: Texts per forward pass.
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        model_label: str,
        query_prefix: str,
        passage_prefix: str,
        batch_size: int = 32,
    ) -> None:
        try:
            with without_progress_bars():  # no "Loading weights" bar in every command
                self._model = SentenceTransformer(model_name_or_path, device="cpu")
        except Exception as e:  # the hub, transformers and torch raise many unrelated types
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise ModelLoadError(
                f"Could not load the embedding model {model_name_or_path!r} ({reason}); "
                "give the path of a local sentence-transformers folder instead."
            ) from e
        # sentence-transformers 6 renamed get_sentence_embedding_dimension (5.x).
        get_dimension = getattr(self._model, "get_embedding_dimension", None)
        if get_dimension is None:
            get_dimension = self._model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if not dimension:
            raise ModelLoadError(
                f"The model {model_name_or_path!r} does not report its embedding dimension."
            )
        self._dimension = int(dimension)
        self.model_label = model_label
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Embedder:
        """Load the configured model, building the offline default model first if needed."""
        return cls(
            resolve_model(settings),
            model_label=settings.model,
            query_prefix=settings.effective_query_prefix,
            passage_prefix=settings.effective_passage_prefix,
            batch_size=settings.batch_size,
        )

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        return self._dimension

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Embed stored text: float32, L2-normalized, shape ``(len(texts), dimension)``."""
        return self._encode(texts, self.passage_prefix)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Embed questions: float32, L2-normalized, shape ``(len(texts), dimension)``."""
        return self._encode(texts, self.query_prefix)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain interface: embed passages."""
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """LangChain interface: embed one question."""
        return self.embed_queries([text])[0].tolist()

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.empty((0, self._dimension), dtype=np.float32)
        inputs = [prefix + text for text in texts] if prefix else list(texts)
        vectors = self._model.encode(
            inputs,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"Embedder({self.model_label!r}, dimension={self._dimension})"
