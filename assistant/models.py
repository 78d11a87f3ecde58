"""What the assistant returns: an answer whose every claim points at a stored passage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Language = Literal["vi", "en"]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what the answerer needs to quote and cite it.

    `start`/`end` are character offsets of `text` in `article_text`.
    `score` is the fused retrieval score (higher is better); `similarity` is the cosine
    similarity of the dense retrieval (0 when only the lexical index found it), used for
    abstention; `lexical` is the BM25 score (0 when only dense found it). `article_id` is the
    store's content hash; `external_id` is the archive's own id (the JSONL `id`), which a
    newsroom needs to open the story in its own system.
    """

    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    article_text: str
    score: float
    similarity: float = 0.0
    lexical: float = 0.0
    date: str | None = None
    source: str | None = None
    url: str | None = None
    external_id: str | None = None

    def cite(self, n: int, text: str, start: int, end: int) -> Citation:
        """Citation `[n]` quoting `text`, at `article_text[start:end]`, with this article's ids."""
        return Citation(
            n=n,
            article_id=self.article_id,
            title=self.title,
            passage=text,
            start=start,
            end=end,
            score=self.score,
            date=self.date,
            source=self.source,
            url=self.url,
            external_id=self.external_id,
        )

    def to_dict(self) -> dict[str, Any]:
        """The passage as the JSON APIs return it: without the whole article's text."""
        data = asdict(self)
        del data["article_text"]
        return data


@dataclass(frozen=True)
class Citation:
    """Citation `[n]` of an answer: the quoted sentence(s) and where they stand in the article.

    `article_id` is the store's id (for `/article`, `hoidap article`); `external_id` and `url`
    are the archive's own id and link, when the article came with them.
    """

    n: int
    article_id: str
    title: str
    passage: str
    start: int
    end: int
    score: float
    date: str | None = None
    source: str | None = None
    url: str | None = None
    external_id: str | None = None


@dataclass
class Generation:
    """How a generative answer came about: what the check kept, dropped or moved, and timings.

    `fallback` names why the extractive answer was returned instead ("timeout", "error",
    "unsupported"), or is None when the generated sentences were used.
    """

    model: str
    sentences: int = 0
    cited: int = 0  # sentences whose own marker was right
    reassigned: int = 0  # whose marker was wrong, moved to the supporting passage
    added: int = 0  # without a marker, given the supporting passage's
    unsupported: int = 0  # supported by no passage: dropped or flagged
    rewritten_question: str | None = None
    fallback: str | None = None
    first_token_ms: float | None = None
    total_ms: float = 0.0


@dataclass
class Answer:
    """An answer; `mode` is "extractive" (quoted sentences) or "generative" (LLM, checked).

    `notice` is a line for the reader when something did not go as asked (the LLM timed out and
    the extractive answer stands in, sentences were flagged as unverified, ...).
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    short: str | None = None
    abstained: bool = False
    language: Language = "vi"
    confidence: float = 0.0
    mode: Literal["extractive", "generative"] = "extractive"
    notice: str | None = None
    generation: Generation | None = None

    def to_dict(self, passages: Sequence[Passage] | None = None) -> dict[str, Any]:
        """The answer object of every JSON surface (`ask --json`, `--batch`, the chain, `/ask`).

        One schema, documented in docs/API.md: `passages` (the retrieved passages with their
        scores) is always there, null unless the caller asked for them.
        """
        data = asdict(self)
        data["passages"] = None if passages is None else [p.to_dict() for p in passages]
        return data
