"""The hybrid retrieval as a LangChain `BaseRetriever`, for people who build their own chains.

`Assistant.as_retriever()` returns one. It searches like the assistant does (dense + BM25 fused,
diacritics restored, filters), without the passage ranker, the reader or an answer: each
`Document` is a stored passage, whose metadata say which article it is from (both ids, title,
date, source, url) and where it stands in it (`start`/`end` in the article's text), so a chain
can cite as we do.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import model_validator

from assistant.models import Passage
from assistant.retrieval.retriever import Filters, HybridRetriever
from ingest.errors import UsageError


def passage_document(passage: Passage) -> Document:
    """A passage as a `Document`: its text, and everything but the article's text as metadata."""
    metadata = passage.to_dict()
    text = metadata.pop("text")
    return Document(id=passage.chunk_id, page_content=text, metadata=metadata)


class HoidapRetriever(BaseRetriever):
    """Stored passages for a query, best first: `retriever.invoke("kết nạp đảng viên 30-6")`.

    `k` and `filters` (`{"since", "until", "source"}`) apply to every call; `invoke(query,
    k=..., filters=...)` overrides them for one call.
    """

    hybrid: HybridRetriever
    k: int | None = None
    filters: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_filters(self) -> HoidapRetriever:
        # A bad date or filter name fails when the retriever is made, not at the first query.
        Filters.from_dict(self.filters).bounds()
        return self

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        if not isinstance(query, str) or not query.strip():
            raise UsageError("The query is empty.")
        passages = self.hybrid.retrieve(
            query,
            filters=Filters.from_dict(self.filters if filters is None else filters),
            k=k or self.k,
        )
        return [passage_document(p) for p in passages]
