"""`Assistant`: the one object the CLI, the UI and Python callers hold."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.answering.rules import SEMANTIC_CANDIDATES, answer_extractive
from assistant.history import normalize_history
from assistant.models import Answer, Passage
from assistant.question import Question, analyse
from assistant.retrieval.retriever import Filters, HybridRetriever
from assistant.settings import Settings
from ingest.errors import UsageError
from store.docstore import StoredArticle
from store.report import IngestReport
from store.store import Store, StoreStats

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from assistant.langchain_retriever import HoidapRetriever
    from assistant.llm.generate import GenerativeAnswerer
    from assistant.reading.ranker import PassageRanker
    from assistant.reading.reader import Reader


class Assistant:
    """Question answering with citations over a store of articles.

    Build it once and reuse it: the embedding model loads on first use and stays loaded::

        assistant = Assistant.from_settings()
        answer = assistant.ask("How many party members were admitted by 30 June?")
        print(answer.text, answer.citations[0].passage)
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        chat_model: BaseChatModel | None = None,
        reader: Reader | None = None,
        ranker: PassageRanker | None = None,
    ) -> None:
        """Hold the store; models load on first use.

        `chat_model` overrides `settings.llm.llm` (any LangChain chat model); `reader` and
        `ranker` share loaded models between assistants.
        """
        self.settings = settings
        self.store = store
        self.retriever = HybridRetriever(store, settings.assistant)
        self.generator: GenerativeAnswerer | None = None
        self._reader: Reader | None = reader
        self._ranker: PassageRanker | None = ranker
        if chat_model is not None or settings.llm.llm:
            # Built now so a wrong --llm fails at start-up, not at the first question; a local
            # model's weights still load on first use.
            from assistant.llm.backends import make_chat_model
            from assistant.llm.generate import GenerativeAnswerer

            model = chat_model or make_chat_model(settings.llm)
            self.generator = GenerativeAnswerer(settings.llm, model, lambda: store.embedder)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Assistant:
        settings = settings or Settings.load()
        return cls(settings, Store(settings.store))

    # asking ---------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        filters: dict[str, Any] | Filters | None = None,
        *,
        k: int | None = None,
    ) -> Answer:
        """Answer a question from the stored articles, citing the sentences used.

        Args:
            question: Vietnamese or English, with or without diacritics.
            history: earlier turns, as [question, answer] pairs or role/content messages.
            filters: {"since": "2022-01", "until": "2022-12-31", "source": "GLO"}.
            k: passages to retrieve (default: settings).

        Returns:
            An `Answer`; `abstained` is true when the articles do not support an answer.

        Raises:
            UsageError: empty question or invalid filters.
        """
        return self.respond(question, history, filters, k=k)[0]

    def respond(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        filters: dict[str, Any] | Filters | None = None,
        *,
        k: int | None = None,
    ) -> tuple[Answer, list[Passage]]:
        """`ask`, also returning every retrieved passage (for evaluation and debugging)."""
        result: tuple[Answer, list[Passage]] | None = None
        for event in self._answer_events(question, history, filters, k):
            if isinstance(event, tuple):
                result = event
        assert result is not None  # the last event is always the answer
        return result

    def stream(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        filters: dict[str, Any] | Filters | None = None,
        *,
        k: int | None = None,
    ) -> Iterator[str | Answer]:
        """`ask`, yielding the answer's text as it is written, then the `Answer`.

        With an LLM the text comes sentence by sentence, each checked against the passages
        before it is yielded; the final `Answer.text` is their concatenation, or, when the
        model failed, the extractive answer (which then comes only as the `Answer`).
        """
        for event in self._answer_events(question, history, filters, k):
            yield event[0] if isinstance(event, tuple) else event

    def _answer_events(
        self,
        question: str,
        history: Sequence[Any] | None,
        filters: dict[str, Any] | Filters | None,
        k: int | None,
    ) -> Iterator[str | tuple[Answer, list[Passage]]]:
        if not question or not question.strip():
            raise UsageError("The question is empty.")
        pairs = normalize_history(history)
        parsed_filters = Filters.from_dict(filters)
        rewrite = self.generator.rewrite(question, pairs) if self.generator and pairs else None
        # Analysed once (language, restored marks, follow-up): every stage below reads it.
        if rewrite and rewrite.question:  # a failed rewrite keeps the conversation instead
            asked = analyse(rewrite.question, (), self.store.records)
        else:
            asked = analyse(question, pairs, self.store.records)
        language = asked.language
        s = self.settings.assistant
        k = k or s.top_k
        # The answerer reads a few more passages than are kept (the reader reorders them too).
        read = max(k, s.reader_passages) if s.reader else k
        rerank = s.english_rerank_passages if language == "en" else s.rerank_passages
        retrieved = self.retriever.retrieve(asked, filters=parsed_filters, k=max(read, rerank))
        if rerank:
            retrieved = self.ranker.rerank(asked.reader_text, retrieved, rerank, s.rerank_prior)
        retrieved = retrieved[:read]
        if s.reader:
            extractive, passages = self._read(asked, retrieved)
            passages = passages[:k]
        else:
            passages = retrieved
            extractive = self._extract_by_rules(asked, passages, pairs)
        if self.generator is None:
            yield extractive, passages
            return
        # The LLM reads the passages in retrieval order (the ranker's, when it is on): its prompt
        # takes the first few, cut to the characters nearest the question.
        for event in self.generator.stream(
            question, retrieved[:k], language, extractive, rewrite=rewrite
        ):
            yield (event, passages) if isinstance(event, Answer) else event

    @property
    def reader(self) -> Reader:
        """The trained reader, loaded (and its weights checked) on first use."""
        if self._reader is None:
            from assistant.reading.reader import Reader
            from store.bert import resolve_precision
            from store.model import build_default_model

            base = build_default_model(self.settings.store.cache_dir)
            precision = resolve_precision(self.settings.store.precision)
            self._reader = Reader(base, precision=precision)
        return self._reader

    @property
    def ranker(self) -> PassageRanker:
        """The trained passage ranker, loaded (and its weights checked) on first use."""
        if self._ranker is None:
            from assistant.reading.ranker import PassageRanker
            from store.bert import resolve_precision
            from store.model import build_default_model

            base = build_default_model(self.settings.store.cache_dir)
            precision = resolve_precision(self.settings.store.precision)
            # It shares the reader's copy of the base model's embeddings and lower layers.
            reader = self.reader if self.settings.assistant.reader else None
            self._ranker = PassageRanker(base, precision=precision, reader=reader)
        return self._ranker

    def _read(self, asked: Question, passages: list[Passage]) -> tuple[Answer, list[Passage]]:
        """The extractive answer read by the trained reader, and the passages it reordered."""
        from assistant.reading.answer import SentenceRanking, answer_with_reader

        s = self.settings.assistant
        ranking = None
        if asked.language == "en" and s.english_ranked_sentences and s.sentence_ranker_weight:
            ranking = SentenceRanking(
                self.ranker, s.english_ranked_sentences, s.sentence_ranker_weight
            )
        return answer_with_reader(
            asked,
            passages,
            self.reader,
            threshold=s.reader_threshold,
            candidates=s.reader_sentences,
            lexical_weight=s.reader_lexical_weight,
            typed_spans=s.reader_typed_spans,
            english_lexical_weight=s.reader_english_lexical_weight,
            sentence_ranking=ranking,
            similarity=partial(self._sentence_similarity, self.retriever.main_query(asked)),
            dense_sentences=s.reader_english_dense_sentences
            if asked.language == "en"
            else s.reader_dense_sentences,
            dense_weight=s.reader_dense_weight,
            unit_check=s.reader_unit_check,
        )

    def _extract_by_rules(self, asked: Question, passages: list[Passage], pairs: list) -> Answer:
        """The extractive answer of the word-overlap rules (`HOIDAP_READER=false`)."""
        s = self.settings.assistant
        return answer_extractive(
            asked.search,
            passages,
            history=pairs,
            min_confidence=s.min_confidence,
            sentence_similarity=self._sentence_similarity,
            semantic_candidates=SEMANTIC_CANDIDATES
            if asked.language == "en"
            else s.semantic_sentences,
        )

    def _sentence_similarity(self, question: str, sentences: list[str]) -> list[float]:
        """Question-sentence cosines; the question's vector is cached from the search."""
        embedder = self.store.embedder
        q = embedder.embed_queries([question])[0]
        s = embedder.embed_passages(sentences)
        return [float(x) for x in np.asarray(s) @ q]

    def as_runnable(self) -> Runnable[dict[str, Any], dict[str, Any]]:
        """The chain API: `{"question", "chat_history", "filters"}` in, the answer as a dict out.

        `"passages": true` in the input fills the answer's `passages` with the retrieved ones.
        """
        from langchain_core.runnables import RunnableLambda  # slow import; only chain users pay

        def run(inputs: dict[str, Any]) -> Iterator[dict[str, Any]]:
            # A generator: `stream` yields {"delta": text} pieces, then the answer as a dict,
            # which is also what `invoke` and `batch` return.
            if isinstance(inputs, str):
                inputs = {"question": inputs}
            for event in self._answer_events(
                inputs.get("question", ""),
                inputs.get("chat_history") or inputs.get("history"),
                inputs.get("filters"),
                inputs.get("k"),
            ):
                if isinstance(event, tuple):
                    answer, passages = event
                    yield answer.to_dict(passages if inputs.get("passages") else None)
                else:
                    yield {"delta": event}

        return RunnableLambda(run, name="hoidap")

    @property
    def chain(self) -> Runnable[dict[str, Any], dict[str, Any]]:
        return self.as_runnable()

    # the store ------------------------------------------------------------------------------
    def ingest(
        self, paths: list[Path], *, prune: bool = False, progress: bool = True
    ) -> IngestReport:
        return self.store.ingest(paths, self.settings.ingest, prune=prune, progress=progress)

    def article(self, article_id: str) -> StoredArticle | None:
        return self.store.article(article_id)

    def sources(self) -> list[tuple[str, str | None, int]]:
        return self.store.records.sources()

    def stats(self) -> StoreStats:
        return self.store.stats()

    def close(self) -> None:
        self.store.close()

    def as_retriever(
        self, *, k: int | None = None, filters: dict[str, Any] | None = None
    ) -> HoidapRetriever:
        """The retrieval alone as a LangChain `BaseRetriever`, for chains of one's own.

        It returns `Document`s of stored passages (best first) with the article's ids, title,
        date, source, url and the passage's `start`/`end` in the article as metadata.
        """
        from assistant.langchain_retriever import HoidapRetriever  # imports langchain_core

        return HoidapRetriever(hybrid=self.retriever, k=k, filters=filters)
