"""The records that flow from `ingest` to `store`: an article and its chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def content_hash(*parts: str, length: int = 16) -> str:
    """Stable short hex digest; ids built from it make re-ingesting idempotent."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


@dataclass(frozen=True)
class Article:
    """One cleaned news article.

    `text` is the cleaned body exactly as stored; chunk offsets index into it.
    `id` comes from the content (title + text), so the same article under two
    file names is stored once.
    """

    title: str
    text: str
    path: str
    date: str | None = None
    source: str | None = None
    source_name: str | None = None
    author: str | None = None
    url: str | None = None
    external_id: str | None = None
    captions: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return content_hash(self.title, self.text)


@dataclass(frozen=True)
class Chunk:
    """A passage of an article; `article_text[start:end] == text` always holds."""

    article_id: str
    position: int
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.article_id}-{self.position}-" + content_hash(
            self.article_id, str(self.start), str(self.end), self.text, length=8
        )
