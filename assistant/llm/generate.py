"""The generative answerer: the LLM writes, the pipeline decides what reaches the reader.

Three decisions are never left to the model (see the issue's measurements of small models):
whether to answer at all (the extractive answerer's retrieval evidence decides, before the model
is called), which passage a sentence cites (`grounding.Grounder` checks or moves every marker),
and whether a number or name may be shown (it must be in the cited passage). When the model
fails, is too slow, or writes nothing supported, the extractive answer is returned, marked so.

Usage::

    generator = GenerativeAnswerer(settings.llm, make_chat_model(settings.llm), embedder)
    for event in generator.stream(question, passages, "vi", extractive_answer):
        ...  # str: a checked sentence to show; the last event is the final `Answer`
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from langchain_core.output_parsers import StrOutputParser

from assistant.language import detect_language, fold, tokens
from assistant.llm.backends import parse_llm_spec
from assistant.llm.grounding import (
    CheckedSentence,
    CitationBook,
    Embed,
    Grounder,
    checked_text,
    shown_sentence,
    split_stream,
)
from assistant.llm.prompt import answer_messages, rewrite_messages
from assistant.llm.settings import LlmSettings
from assistant.models import Answer, Generation, Language, Passage
from store.lexical import STOPWORDS

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

    from store.embedder import Embedder

logger = logging.getLogger(__name__)

REWRITE_MAX_TOKENS = 64
REWRITE_MAX_CHARS = 300

NOTICE: dict[str, dict[Language, str]] = {
    "timeout": {
        "vi": "Mô hình ngôn ngữ không trả lời trong {seconds:g} giây; đây là câu trả lời trích "
        "xuất từ bài báo.",
        "en": "The language model did not answer within {seconds:g} s; this is the extractive "
        "answer.",
    },
    "error": {
        "vi": "Không gọi được mô hình ngôn ngữ ({detail}); đây là câu trả lời trích xuất từ "
        "bài báo.",
        "en": "The language model failed ({detail}); this is the extractive answer.",
    },
    "unsupported": {
        "vi": "Câu trả lời của mô hình ngôn ngữ không có căn cứ trong các bài báo; đây là câu "
        "trả lời trích xuất.",
        "en": "The language model's answer was not supported by the articles; this is the "
        "extractive answer.",
    },
    "cut": {
        "vi": "Mô hình ngôn ngữ bị dừng sau {seconds:g} giây; câu trả lời có thể chưa đủ.",
        "en": "The language model was stopped after {seconds:g} s; the answer may be incomplete.",
    },
    "broken": {
        "vi": "Mô hình ngôn ngữ gặp lỗi giữa chừng ({detail}); câu trả lời có thể chưa đủ.",
        "en": "The language model failed midway ({detail}); the answer may be incomplete.",
    },
    "flagged": {
        "vi": "Câu ghi “(chưa kiểm chứng)” không có căn cứ trong các bài báo.",
        "en": 'Sentences marked "(unverified)" are not supported by the articles.',
    },
}


class _Deadline(Exception):
    """The answer's time budget ran out between two tokens."""


@dataclass(frozen=True)
class Rewrite:
    """A follow-up rewritten for retrieval: `question` is None to keep the original.

    `failure` is (kind, detail) when the model itself failed; the answer then skips the model
    rather than waiting on a broken endpoint a second time.
    """

    question: str | None = None
    failure: tuple[str, str] | None = None


class GenerativeAnswerer:
    """Writes answers with `model` from retrieved passages and checks them before showing them."""

    def __init__(
        self,
        settings: LlmSettings,
        model: BaseChatModel,
        embedder: Embedder | Callable[[], Embedder] | None = None,
    ) -> None:
        """`embedder` (or a function giving it, so it loads on first use) scores support."""
        self.settings = settings
        self.label = parse_llm_spec(settings.llm).label if settings.llm else "llm"
        self.answer_chain = model | StrOutputParser()
        self.rewrite_chain = model.bind(max_tokens=REWRITE_MAX_TOKENS) | StrOutputParser()
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder | None:
        if callable(self._embedder) and not hasattr(self._embedder, "embed_queries"):
            self._embedder = self._embedder()
        return self._embedder  # type: ignore[return-value]

    # -- follow-ups ---------------------------------------------------------------------------
    def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> Rewrite:
        """A standalone version of a follow-up question, when the model's is usable.

        Unusable: empty, several lines of chatter, in another language, or about something else
        (no content word in common with the question or the conversation). The caller then
        falls back to the extractive answerer's own handling of history.
        """
        if not history or not self.settings.llm_rewrite:
            return Rewrite()
        deadline = time.monotonic() + self.settings.llm_timeout
        try:
            messages = rewrite_messages(question, history)
            text = "".join(self._stream(self.rewrite_chain, messages, deadline))
        except _Deadline:
            return Rewrite(failure=("timeout", ""))
        except Exception as e:  # noqa: BLE001 - the endpoint's errors are many; all fall back
            failure = _failure(e)
            logger.warning("follow-up rewrite failed (%s): %s", *failure)
            return Rewrite(failure=failure)
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if not lines:
            return Rewrite()
        rewritten = lines[0].strip(" \"'“”").removeprefix("Rewritten question:").strip()
        if not 3 <= len(rewritten) <= REWRITE_MAX_CHARS:
            return Rewrite()
        if detect_language(rewritten) != detect_language(question):
            return Rewrite()  # the answer's language follows the question as asked
        context = _content_words(" ".join([question, *(q for q, _ in history)]))
        if not context & _content_words(rewritten):
            logger.info("follow-up rewrite off topic: %r", rewritten)
            return Rewrite()
        return Rewrite(rewritten)

    # -- answers ------------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        language: Language,
        extractive: Answer,
        *,
        rewrite: Rewrite | None = None,
    ) -> Iterator[str | Answer]:
        """Checked sentences as the model writes them, then the final `Answer`.

        `extractive` is the answer of the extractive answerer on the same passages: when it
        abstained the model is not called, and it is the fallback when the model fails.
        """
        if extractive.abstained or not passages:
            yield extractive
            return
        rewrite = rewrite or Rewrite()
        info = Generation(model=self.label, rewritten_question=rewrite.question)
        if rewrite.failure:  # the endpoint already failed on this question
            yield self._fallback(extractive, info, language, rewrite.failure)
            return
        passages = prompt_passages(passages, extractive, self.settings.llm_passages)
        started = time.monotonic()
        messages = answer_messages(
            rewrite.question or question,
            passages,
            language,
            passage_chars=self.settings.llm_passage_chars,
        )
        # The budget counts from here: checking sentences takes part of it too.
        pieces = self._stream(self.answer_chain, messages, started + self.settings.llm_timeout)
        yield from self.check_reply(pieces, passages, language, extractive, info=info)

    def check_reply(
        self,
        pieces: Iterator[str],
        passages: Sequence[Passage],
        language: Language,
        extractive: Answer,
        *,
        info: Generation | None = None,
    ) -> Iterator[str | Answer]:
        """Check a reply arriving in `pieces` sentence by sentence; yield what may be shown.

        Errors raised by `pieces` (the model failing, the time budget running out) end the
        reply: what was checked so far stands, or else the extractive answer, with a notice.
        """
        info = info or Generation(model=self.label)
        grounder = Grounder(passages, language, self._embed_queries())
        if self.embedder is not None:
            grounder.passage_vectors(self.embedder.embed_passages)
        book = CitationBook(grounder)
        shown: list[tuple[CheckedSentence, list[int]]] = []
        written = False  # whether a sentence has been yielded (the next one needs a space)
        buffer = ""
        started = time.monotonic()  # the model starts on the first piece asked for
        cut = False
        failure: tuple[str, str] | None = None

        def emit(sentences: list[str]) -> Iterator[str]:
            nonlocal written
            for sentence in sentences:
                checked = grounder.check(sentence)
                counted = checked.reason != "empty"  # a bare "[2]" is no sentence
                info.sentences += counted
                numbers = book.cite(checked) if checked.status != "unsupported" else []
                if checked.status == "unsupported":
                    info.unsupported += counted
                    logger.info("unsupported sentence (%s): %r", checked.reason, checked.text)
                elif checked.status == "reassigned":
                    info.reassigned += 1
                elif checked.status == "added":
                    info.added += 1
                else:
                    info.cited += 1
                part = shown_sentence(checked, numbers, language, flag=self._flag)
                if part:
                    yield f" {part}" if written else part
                    written = True
                shown.append((checked, numbers))

        try:
            for piece in pieces:
                if info.first_token_ms is None:
                    info.first_token_ms = round((time.monotonic() - started) * 1000, 1)
                buffer += piece
                complete, buffer = split_stream(buffer, final=False)
                yield from emit(complete)
        except _Deadline:
            cut = True
        except Exception as e:  # noqa: BLE001 - the endpoint's errors are many; all fall back
            failure = _failure(e)
            logger.warning("LLM failed (%s): %s", *failure)
        if not cut and failure is None:
            complete, _ = split_stream(buffer, final=True)
            yield from emit(complete)
        info.total_ms = round((time.monotonic() - started) * 1000, 1)

        text = checked_text(shown, language, flag=self._flag)
        supported = any(c.status != "unsupported" for c, _ in shown)
        if not supported:
            reason = failure or (("timeout", "") if cut else ("unsupported", ""))
            yield self._fallback(extractive, info, language, reason)
            return
        notices = []
        if cut:
            notices.append(NOTICE["cut"][language].format(seconds=self.settings.llm_timeout))
        if failure:
            notices.append(NOTICE["broken"][language].format(detail=failure[1]))
        if self._flag and info.unsupported:
            notices.append(NOTICE["flagged"][language])
        short = extractive.short
        yield Answer(
            text=text,
            citations=book.citations,
            short=short if short and fold(short) in fold(text) else None,
            abstained=False,
            language=language,
            confidence=extractive.confidence,
            mode="generative",
            notice=" ".join(notices) or None,
            generation=info,
        )

    def _fallback(
        self, extractive: Answer, info: Generation, language: Language, reason: tuple[str, str]
    ) -> Answer:
        """The extractive answer, saying why it stands in for the model's."""
        kind, detail = reason
        info.fallback = kind
        notice = NOTICE[kind][language].format(seconds=self.settings.llm_timeout, detail=detail)
        return replace(extractive, notice=notice, generation=info)

    @property
    def _flag(self) -> bool:
        return self.settings.llm_unsupported == "flag"

    def _embed_queries(self) -> Embed | None:
        return self.embedder.embed_queries if self.embedder is not None else None

    @staticmethod
    def _stream(
        chain: Runnable[list[BaseMessage], str], messages: list[BaseMessage], deadline: float
    ) -> Iterator[str]:
        stream = chain.stream(messages)
        try:
            for piece in stream:
                yield piece
                if time.monotonic() > deadline:
                    raise _Deadline
        finally:
            stream.close()  # stops a local model's generation; closes an endpoint's connection


def prompt_passages(passages: Sequence[Passage], extractive: Answer, limit: int) -> list[Passage]:
    """The passages the model sees: those the extractive answer quotes first, then by rank.

    Prompt reading dominates a CPU model's time, so only a few passages go in; the ones
    holding the sentence the extractive answerer chose are the likeliest to hold the answer.
    """
    quoted = {(c.article_id, c.start) for c in extractive.citations}

    def holds_quote(p: Passage) -> bool:
        return any(a == p.article_id and p.start <= s < p.end for a, s in quoted)

    ordered = [p for p in passages if holds_quote(p)] + [p for p in passages if not holds_quote(p)]
    return ordered[:limit]


def _content_words(text: str) -> set[str]:
    return {t.folded for t in tokens(text) if t.folded not in STOPWORDS and len(t.folded) > 1}


def _failure(error: Exception) -> tuple[str, str]:
    """("timeout" or "error", a one-line description) of a model's exception."""
    kind = "timeout" if "timeout" in type(error).__name__.lower() else "error"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = f"{type(error).__name__}: {message}"[:200] if message else type(error).__name__
    return kind, detail
