"""Stored articles as people look them up: by the store's id or by the archive's own id.

A citation names both ids: `article_id` (the store's content hash) and `external_id` (the JSONL
`id` a newsroom knows the story by). `hoidap article` and `/article` accept either, so the id a
person copied from their own system works as well as the one an answer returned.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ingest.errors import HoidapError
from store.docstore import StoredArticle
from store.store import Store

# Around the cited span when an article is printed as plain text (terminals, pipes, files).
MARK_START, MARK_END = "[[", "]]"


def find_article(store: Store, article_id: str) -> StoredArticle | None:
    """The article with this store id or, failing that, this external id; None if neither.

    Raises:
        HoidapError: the external id names several stored articles (two archives reused it);
            the message lists their store ids, which are unique.
    """
    article_id = article_id.strip()
    if not article_id:
        return None
    found = store.article(article_id)
    if found is not None:
        return found
    ids = store.records.ids_by_external_id(article_id)
    if len(ids) > 1:
        raise HoidapError(
            f"{len(ids)} stored articles have the external id {article_id!r}; "
            f"give one of their ids: {', '.join(ids)}"
        )
    return store.article(ids[0]) if ids else None


def article_dict(article: StoredArticle) -> dict[str, Any]:
    """The article as the JSON APIs return it; not the server's file path (a private detail)."""
    return {k: v for k, v in asdict(article).items() if k != "path"}


def check_span(article: StoredArticle, start: int | None, end: int | None) -> None:
    """Both offsets or neither, inside the text and in order; raises `ValueError` otherwise."""
    if start is None and end is None:
        return
    if start is None or end is None:
        raise ValueError("give both --start and --end (character offsets of a citation)")
    if not 0 <= start < end <= len(article.text):
        raise ValueError(
            f"--start {start} --end {end} is not a span of this article "
            f"(0 <= start < end <= {len(article.text)})"
        )


def marked_text(text: str, start: int | None, end: int | None) -> str:
    """`text` with `[[` `]]` around the cited span, or unchanged when no span is given."""
    if start is None or end is None:
        return text
    return text[:start] + MARK_START + text[start:end] + MARK_END + text[end:]


def article_header(article: StoredArticle) -> list[str]:
    """Title, then date, source and author, the url and both ids: what a person checks first."""
    source = article.source_name or article.source
    if article.source and article.source_name and article.source != article.source_name:
        source = f"{article.source_name} ({article.source})"
    meta = " · ".join(x for x in (article.date, source, article.author) if x)
    ids = f"id: {article.id}"
    if article.external_id:
        ids += f"  external id: {article.external_id}"
    return [article.title, *([meta] if meta else []), *([article.url] if article.url else []), ids]
