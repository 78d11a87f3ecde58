"""Text to vectors: one embedding model, with the model's query and passage prefixes added here.

e5 models are trained with ``query: `` and ``passage: `` prefixes and retrieve noticeably worse
without them; the prefixes are added here and only here, so no caller can forget them or add them
twice.

Two backends give the same vectors. A local folder that is plain BERT + mean pooling (the
offline default model is) runs on `store.bert.MeanPoolingBert`, torch and ``tokenizers`` only,
because importing sentence-transformers costs seconds of every cold start; any other model
(hub names, other architectures or poolings) loads through ``SentenceTransformer``. Both sort a
batch by length to limit padding, so ingestion hands them whole groups untouched.

`Embedder` has LangChain's ``embed_documents``/``embed_query`` methods but does not import
LangChain (a slow import no question needs); `store.langchain_embeddings` wraps it where a real
``Embeddings`` object is wanted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ingest.errors import HoidapError
from store.bert import MeanPoolingBert, Precision, resolve_precision
from store.model import resolve_model, without_progress_bars
from store.settings import StoreSettings

QUERY_CACHE_SIZE = 256  # recent question vectors kept


class ModelLoadError(HoidapError):
    """A configured embedding model could not be loaded (not cached, offline, or not a model)."""


class Encoder(Protocol):
    """What `Embedder` needs from a backend: unit vectors for texts, and their length."""

    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


class SentenceTransformerEncoder:
    """Any sentence-transformers model (imported only when such a model is configured)."""

    def __init__(self, model_name_or_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        with without_progress_bars():  # no "Loading weights" bar in every command
            self._model: Any = SentenceTransformer(model_name_or_path, device="cpu")
        # sentence-transformers 6 renamed get_sentence_embedding_dimension (5.x).
        get_dimension = getattr(self._model, "get_embedding_dimension", None)
        if get_dimension is None:
            get_dimension = self._model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if not dimension:
            raise ModelLoadError(
                f"The model {model_name_or_path!r} does not report its embedding dimension."
            )
        self.dimension = int(dimension)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def load_encoder(model_name_or_path: str, precision: Precision = "fp32") -> Encoder:
    """The fast backend for plain mean-pooling BERT folders, sentence-transformers otherwise.

    ``precision`` applies to the fast backend; sentence-transformers models run in fp32.

    Raises:
        ModelLoadError: the model cannot be found or loaded; the message is one line.
    """
    try:
        fast = MeanPoolingBert.from_folder(model_name_or_path, precision)
        return fast if fast is not None else SentenceTransformerEncoder(model_name_or_path)
    except ModelLoadError:
        raise
    except Exception as e:  # the hub, transformers and torch raise many unrelated types
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ModelLoadError(
            f"Could not load the embedding model {model_name_or_path!r} ({reason}); "
            "give the path of a local sentence-transformers folder instead."
        ) from e


class Embedder:
    """Embeds queries and passages with one model, adding the model's prefixes itself.

    Attributes:
        model_label: Name recorded with collections (``multilingual-e5-small`` for the default
            model, else the configured name or folder), so vectors of different models are never
            mixed.
        query_prefix: Text put before every query.
        passage_prefix: Text put before every passage.
        batch_size: Most texts per forward pass.
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        model_label: str,
        query_prefix: str,
        passage_prefix: str,
        batch_size: int = 32,
        precision: Precision = "fp32",
    ) -> None:
        self._model = load_encoder(model_name_or_path, precision)
        self._dimension = int(self._model.dimension)
        self.model_label = model_label
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        # The same question is embedded to search and again to score sentences; a forward
        # pass costs tens of milliseconds on a laptop CPU.
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Embedder:
        """Load the configured model, building the offline default model first if needed."""
        return cls(
            resolve_model(settings),
            model_label=settings.model,
            query_prefix=settings.effective_query_prefix,
            passage_prefix=settings.effective_passage_prefix,
            batch_size=settings.batch_size,
            precision=resolve_precision(settings.precision),
        )

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        return self._dimension

    @property
    def backend(self) -> str:
        """``bert`` (torch only) or ``sentence-transformers``: which loader runs the model."""
        return "bert" if isinstance(self._model, MeanPoolingBert) else "sentence-transformers"

    @property
    def precision(self) -> Precision:
        """``bf16`` or ``fp32``: the arithmetic the model actually runs in."""
        return getattr(self._model, "precision", "fp32")

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Embed stored text: float32, L2-normalized, shape ``(len(texts), dimension)``."""
        return self._encode(texts, self.passage_prefix)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Embed questions: float32, L2-normalized, shape ``(len(texts), dimension)``."""
        with self._cache_lock:
            known = {t: self._query_cache[t] for t in texts if t in self._query_cache}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            for text, vector in zip(missing, self._encode(missing, self.query_prefix)):
                known[text] = vector
            with self._cache_lock:
                for text in missing:
                    self._query_cache[text] = known[text]
                while len(self._query_cache) > QUERY_CACHE_SIZE:
                    self._query_cache.popitem(last=False)
        if not texts:
            return np.empty((0, self._dimension), dtype=np.float32)
        return np.stack([known[t] for t in texts])

    def clear_query_cache(self) -> None:
        """Forget cached question vectors (benchmarks measure a question's full cost)."""
        with self._cache_lock:
            self._query_cache.clear()

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
        return np.asarray(self._model.encode(inputs, self.batch_size), dtype=np.float32)

    def __repr__(self) -> str:
        return f"Embedder({self.model_label!r}, dimension={self._dimension})"
