"""Hybrid retrieval: dense (Chroma) and BM25 (FTS5) results fused by reciprocal rank.

Dense search understands paraphrase and English questions; BM25 over folded syllables and
syllable pairs catches exact names and numbers and questions typed without diacritics. A
follow-up question is searched rewritten by the conversation (the previous question and answer
before it, `HybridRetriever.queries`), so "Còn bao nhiêu đảng viên bị kỷ luật?" stays in the
article the conversation is about.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.answering.rules import ABSTAIN_TEXT, strip_lead
from assistant.language import names_and_numbers
from assistant.models import Passage
from assistant.question import Question, analyse
from assistant.retrieval.coverage import window_coverage
from assistant.retrieval.diacritics import restore_diacritics
from assistant.settings import AssistantSettings
from ingest.clean import fold_diacritics, normalize_query
from ingest.errors import UsageError
from store.docstore import date_bounds
from store.lexical import query_terms
from store.store import Store

# A Vietnamese question typed without diacritics embeds poorly (the model saw accented text),
# while the folded BM25 keys match it exactly. Its marks are restored from the store's word
# counts (`assistant.retrieval.diacritics`); when nothing could be restored, its dense
# ranking counts for less.
UNACCENTED_DENSE_FACTOR = 0.3


@dataclass(frozen=True)
class Filters:
    """Retrieval filters: an inclusive date range (`2022`, `2022-07`, `2022-07-15`), sources."""

    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | Filters | None) -> Filters:
        if data is None:
            return cls()
        if isinstance(data, Filters):
            return data
        unknown = set(data) - {"since", "until", "source", "sources"}
        if unknown:
            raise UsageError(f"Unknown filter(s): {', '.join(sorted(unknown))}")
        sources = data.get("sources") or data.get("source") or ()
        if isinstance(sources, str):
            sources = (sources,)
        return cls(data.get("since") or None, data.get("until") or None, tuple(sources))

    def bounds(self) -> tuple[int | None, int | None]:
        since = date_bounds(self.since)[0] if self.since else None
        until = date_bounds(self.until)[1] if self.until else None
        for name, given, parsed in (("since", self.since, since), ("until", self.until, until)):
            if given and parsed is None:
                raise UsageError(f"Invalid {name} date {given!r}: use YYYY, YYYY-MM or YYYY-MM-DD")
        return since, until

    @property
    def empty(self) -> bool:
        return not (self.since or self.until or self.sources)


# A previous answer says what the conversation is about (a name, "787 đảng viên", the quoted
# sentence); its start joins the earlier questions in a follow-up's second search. On ViCoQA
# dev this raised hit@5 from 0.818 to 0.844 (docs/EVALUATION.md).
HISTORY_ANSWER_CHARS = 200
_MARKER = re.compile(r"\[\d+\]")


def answer_context(answer: str) -> str:
    """The informative start of an earlier answer: no lead-in, no [n] markers, no abstention."""
    answer = answer.strip()
    if not answer or answer in ABSTAIN_TEXT.values():
        return ""
    return _MARKER.sub(" ", strip_lead(answer))[:HISTORY_ANSWER_CHARS].strip()


class HybridRetriever:
    """Finds the passages most likely to answer a question, best first."""

    def __init__(self, store: Store, settings: AssistantSettings) -> None:
        self.store = store
        self.settings = settings

    def _source_codes(self, names: tuple[str, ...]) -> list[str]:
        """Accept codes (`GLO`) or names (`Báo Gia Lai`), case- and accent-insensitively.

        The list of sources is read only when a source filter is given: grouping every article
        by source costs tens of milliseconds on a large store, on every question.
        """
        if not names:
            return []
        known = self.store.records.sources()
        codes = []
        for name in names:
            key = fold_diacritics(name)
            match = [
                c for c, n, _ in known if key in (fold_diacritics(c), fold_diacritics(n or ""))
            ]
            codes.extend(match or [name])
        return codes

    def _where(self, since: int | None, until: int | None, sources: list[str]) -> dict | None:
        clauses: list[dict[str, Any]] = []
        if since is not None:
            clauses.append({"date_to": {"$gte": since}})
        if until is not None:
            clauses.append({"date_from": {"$lte": until}})
        if sources:
            clauses.append({"source": {"$in": sources}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def queries(self, question: Question) -> list[tuple[str, float]]:
        """The searches for a question and their weights in the fusion, the main one first.

        In a conversation the question is searched as the conversation rewrites it: the previous
        question and the start of its answer, then the question ("Còn bao nhiêu bị kỷ luật?"
        alone finds any article with a discipline count). The question alone is a second search
        at `history_weight`, which keeps a new topic reachable. Measured on the taynguyen_qa
        follow-ups of the train articles: hit@5 0.722 with the old order (the question first,
        the rewrite at 0.6, for follow-ups only), 0.849 with the rewrite alone, 0.881 as here;
        rewriting only the questions `is_follow_up` recognises gave 0.841.
        """
        if not question.history:
            return [(question.search, 1.0)]
        previous_question, previous_answer = question.history[-1]
        context = [part for part in (previous_question, answer_context(previous_answer)) if part]
        rewritten = normalize_query(" ".join([*context, question.search]))
        return [(rewritten, 1.0), (question.search, self.settings.history_weight)]

    def main_query(self, question: Question) -> str:
        """The text of the first search, whose vector the embedder keeps cached after it."""
        return self.queries(question)[0][0]

    def retrieve(
        self,
        question: Question | str,
        *,
        history: list[tuple[str, str]] | None = None,
        filters: Filters | None = None,
        k: int | None = None,
    ) -> list[Passage]:
        """The `k` best passages; `history` is read only when `question` is a plain string."""
        if isinstance(question, str):
            question = analyse(question, history or (), self.store.records)
        s = self.settings
        k = k or s.top_k
        filters = filters or Filters()
        since, until = filters.bounds()
        sources = self._source_codes(filters.sources)
        where = self._where(since, until, sources)
        queries = self.queries(question)

        dense_weight, lexical_weight = s.dense_weight, s.lexical_weight
        dense_texts = lexical_texts = [q for q, _ in queries]
        if question.language == "en":
            # English words fold to Vietnamese syllables ("do", "an"): only the Vietnamese
            # names and the numbers are searched word for word, at less weight (measured in
            # `names_and_numbers`; BM25 over every word was worse than either).
            lexical_weight = s.english_lexical_weight
            if not s.english_bm25:
                lexical_texts = [names_and_numbers(q) for q in lexical_texts]
        if question.unaccented:
            if question.search == question.text:
                dense_weight *= UNACCENTED_DENSE_FACTOR  # nothing restored: lean on BM25
            dense_texts = [dense_texts[0]] + [
                restore_diacritics(q, self.store.records) for q in dense_texts[1:]
            ]
        vectors = self.store.embedder.embed_queries(dense_texts)
        terms_of = [query_terms(text) for text in lexical_texts]
        fused: dict[str, float] = defaultdict(float)
        similarity: dict[str, float] = {}
        lexical: dict[str, float] = {}
        depth = max(s.candidates, k)
        for (_, weight), vector, terms in zip(queries, vectors, terms_of):
            dense_hits = self.store.index.search(vector, depth, where)
            for rank, hit in enumerate(dense_hits):
                fused[hit.chunk_id] += weight * dense_weight / (s.rrf_k + rank + 1)
                if weight == 1.0:
                    similarity[hit.chunk_id] = hit.similarity
            if not lexical_weight or not terms:
                continue
            lexical_hits = self.store.records.lexical_search(
                terms, depth, since=since, until=until, sources=sources or None
            )
            for rank, (chunk_id, score) in enumerate(lexical_hits):
                fused[chunk_id] += weight * lexical_weight / (s.rrf_k + rank + 1)
                if weight == 1.0:
                    lexical[chunk_id] = score

        covering = bool(s.sentence_coverage_weight and terms_of[0]) and question.language != "en"
        pool = max(depth, k * 2) if covering else k * 2
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)[:pool]
        chunks = self.store.records.chunks(ranked)
        if covering:
            weights = self.store.records.term_weights(terms_of[0])
            for chunk_id, chunk in chunks.items():
                fused[chunk_id] += s.sentence_coverage_weight * window_coverage(chunk.text, weights)
            ranked.sort(key=fused.__getitem__, reverse=True)
        done = self.store.records.done_ids({c.article_id for c in chunks.values()})
        ranked = [i for i in ranked if i in chunks and chunks[i].article_id in done][:k]
        missing = [i for i in ranked if i not in similarity]
        for chunk_id, vec in self.store.index.vectors(missing).items():
            similarity[chunk_id] = float(np.dot(vec, vectors[0]))

        articles = {}
        passages = []
        for chunk_id in ranked:
            chunk = chunks[chunk_id]
            if chunk.article_id not in articles:
                articles[chunk.article_id] = self.store.article(chunk.article_id)
            article = articles[chunk.article_id]
            if article is None:
                continue
            passages.append(
                Passage(
                    chunk_id=chunk_id,
                    article_id=chunk.article_id,
                    title=article.title,
                    text=chunk.text,
                    start=chunk.start,
                    end=chunk.end,
                    article_text=article.text,
                    score=fused[chunk_id],
                    similarity=similarity.get(chunk_id, 0.0),
                    lexical=lexical.get(chunk_id, 0.0),
                    date=article.date,
                    source=article.source_name or article.source,
                    url=article.url,
                    external_id=article.external_id,
                )
            )
        return passages
