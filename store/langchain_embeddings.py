"""The embedder as a LangChain ``Embeddings`` object, for LangChain vector stores and chains.

A separate module so that LangChain (a slow import) is loaded only by callers who want it, not by
every question: `Embedder` itself has the same two methods without subclassing.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from store.embedder import Embedder


class EmbedderEmbeddings(Embeddings):
    """Delegates to an `Embedder`, so prefixes are added exactly as in the rest of hoidap."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (with the passage prefix)."""
        return self.embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one question (with the query prefix)."""
        return self.embedder.embed_query(text)


def as_langchain_embeddings(embedder: Embedder) -> Embeddings:
    """Wrap ``embedder`` as LangChain ``Embeddings``."""
    return EmbedderEmbeddings(embedder)
