"""The answer read by the trained reader: it scores the candidate sentences and finds the span.

The retrieved passages' sentences are the candidates. Word overlap with the question (the
rules of `assistant.answering.rules`, cheap) keeps the most promising ones, and the first
sentences of each retrieved passage join them, so that an English question, which shares few
words with the article, still reaches the reader with the right sentence. The reader's logit,
plus the word overlap (which still knows names and numbers the small reader misses), orders
them; the best few then get a second opinion (the embedding model's cosine for a Vietnamese
question, the passage ranker's logit for an English one); the best probability of any sentence
read is the answer's confidence and decides abstention; the chosen sentence's span is the short
answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answering.injection import is_injection
from assistant.answering.qtype import Span
from assistant.answering.rules import (
    _abstain,
    _candidates,
    _citation,
    _compose,
    _coverage,
    _question_terms,
    _quote,
    _score,
    _Sentence,
    _Terms,
)
from assistant.answering.spans import extract_span, find_spans
from assistant.answering.units import states_unit
from assistant.language import tokens
from assistant.models import Answer, Passage
from assistant.question import Question
from assistant.reading.ranker import PassageRanker, passage_text
from assistant.reading.reader import Reader, Reading, headline

logger = logging.getLogger(__name__)

LEXICAL_PICKS = {"vi": 8, "en": 4}  # of the candidates, chosen by word overlap first
RANK_PRIOR = 2.0  # logit bonus / (1 + passage rank): the retriever's order counts too
RUNNER_UP = 0.9  # open questions also quote sentences this close to the best probability
# A typed question keeps the reader's span up to this many words: it holds the qualifier and the
# whole unit ("hơn 11.000 người", "ngày 1 tháng 7 năm 1867") that the typed-span rules drop; a
# longer one runs into the rest of the clause, and the rules' expression is shorter and closer
# (short F1 on `dev`, docs/EVALUATION.md, session 18).
READER_SPAN_WORDS = 10
_PLURAL = re.compile(r"\b(?:các|những|hai|ba) (?:đồng chí|ông|bà|anh|chị)\b|:", re.IGNORECASE)


def scored_candidates(
    question: Question, passages: Sequence[Passage]
) -> tuple[list[_Sentence], _Terms]:
    """The passages' sentences with their word-overlap score, and the question's terms.

    A sentence addressed to a model ("ignore previous instructions…") answers nothing. The
    answerer, the hard-negative miner and the blend tuner all start from this list.
    """
    cands = [c for c in _candidates(passages) if not is_injection(c.text)] if passages else []
    terms = _question_terms(question.search, question.qtype, question.language)
    if cands:
        _coverage(cands, terms)
        _score(cands, question.search, question.qtype, None, 0)
    return cands, terms


def blend(
    logit: float, c: _Sentence, lexical_weight: float, rank_prior: float = RANK_PRIOR
) -> float:
    """A candidate's place in the answerer's order: the reader, word overlap, retrieval rank."""
    return logit + lexical_weight * c.score + rank_prior / (1 + c.rank)


def choose(cands: list[_Sentence], limit: int, lexical: int) -> list[_Sentence]:
    """The best `lexical` by word overlap, then every passage's best sentences in turn."""
    by_score = sorted(cands, key=lambda c: -c.score)
    chosen = by_score[:lexical]
    per_passage: dict[int, list[_Sentence]] = {}
    for c in by_score[lexical:]:
        per_passage.setdefault(c.rank, []).append(c)
    queues = [per_passage[r] for r in sorted(per_passage)]
    while len(chosen) < limit and any(queues):
        for q in queues:
            if q and len(chosen) < limit:
                chosen.append(q.pop(0))
    return chosen


def _listed_names(sentence: str, span: tuple[int, int]) -> list[str]:
    """Every person a sentence lists, when the span is one of them; else none.

    "Các đồng chí: Huỳnh Quang Thái-…; Lý Anh Sang-… chủ trì hội nghị": both chaired.
    """
    if not _PLURAL.search(sentence):
        return []
    persons = [s for s in find_spans("person", sentence) if s.kind == "person"]
    if len(persons) < 2 or not any(p.start < span[1] and p.end > span[0] for p in persons):
        return []
    return [p.text for p in persons]


def _short(sentence: str, span: tuple[int, int] | None, asks_person: bool) -> str | None:
    if span is None:
        return None
    names = _listed_names(sentence, span) if asks_person else []
    if names:
        return ", ".join(names[:-1]) + " và " + names[-1]
    text = sentence[span[0] : span[1]].strip()
    return text or None


def _longer_than(sentence: str, span: tuple[int, int] | None, words: int) -> bool:
    return span is None or len(sentence[span[0] : span[1]].split()) > words


def typed_expression(question: Question, sentence: str, terms: _Terms) -> Span | None:
    """The typed-span rules' answer in `sentence`: None for an open question or when none fits.

    `terms` are the question's weighted words (`scored_candidates`).
    """
    if question.qtype.kind == "other":
        return None
    asked = {t.folded for t in tokens(question.search)}
    return extract_span(question.qtype, sentence, terms.folded(), question_words=asked)


Scored = list[tuple[float, _Sentence, Reading]]  # (score, candidate, reading), best first


@dataclass(frozen=True)
class SentenceRanking:
    """The passage ranker's second opinion on the reader's best candidate sentences.

    Why: the small reader knows little English and picks the answering sentence of an English
    question for about half of them even when it reads it; the ranker, trained on more English
    questions, reads each of the best `sentences` (with its article's title) and its logit,
    times `weight`, joins their score. On the 62 English `dev` questions the chosen sentence
    held the gold answer for 0.42 -> 0.48 of them (with the English word-overlap weight raised
    to 16, which keeps the sample's "disciplined" question right: both models read it as
    "admitted"); on Vietnamese ones it did worse, so it is for English questions only
    (docs/EVALUATION.md, session 8).
    """

    ranker: PassageRanker
    sentences: int
    weight: float

    def rescore(self, question: str, scored: Scored) -> Scored:
        """The first `sentences` of `scored` (best first) re-sorted with the ranker's logit."""

        def logits(head: list[_Sentence]) -> list[float]:
            return self.ranker.logits(
                question, [passage_text(c.passage.title, c.text) for c in head]
            )

        return rescore_head(scored, self.sentences, self.weight, logits)


def rescore_head(
    scored: Scored,
    sentences: int,
    weight: float,
    score: Callable[[list[_Sentence]], Sequence[float]],
) -> Scored:
    """The first `sentences` of `scored` (best first) re-sorted with `weight` x `score`.

    A second opinion costs a model call per sentence, so only the best few get one; the
    sentences it did not read stay after them, their scores capped at the lowest it read.
    """
    head, tail = scored[:sentences], scored[sentences:]
    if not head:
        return scored
    extra = score([c for _, c, _ in head])
    head = sorted(
        ((b + weight * x, c, r) for (b, c, r), x in zip(head, extra)), key=lambda t: -t[0]
    )
    floor = head[-1][0]
    return head + [(min(b, floor), c, r) for b, c, r in tail]


def rerank(
    passages: Sequence[Passage], scored: Sequence[tuple[float, _Sentence, Reading | None]]
) -> list[Passage]:
    """Passages by their best read sentence, then those the reader did not read, in order."""
    best: dict[str, float] = {}
    for score, c, _ in scored:
        key = c.passage.chunk_id
        best[key] = max(best.get(key, float("-inf")), score)
    read = sorted((p for p in passages if p.chunk_id in best), key=lambda p: -best[p.chunk_id])
    return read + [p for p in passages if p.chunk_id not in best]


def answer_with_reader(
    question: Question,
    passages: Sequence[Passage],
    reader: Reader,
    *,
    threshold: float,
    candidates: int = 12,
    lexical_weight: float = 0.0,
    typed_spans: bool = False,
    english_lexical_weight: float | None = None,
    max_citations: int = 3,
    sentence_ranking: SentenceRanking | None = None,
    similarity: Callable[[list[str]], Sequence[float]] | None = None,
    dense_sentences: int = 0,
    dense_weight: float = 0.0,
    unit_check: bool = False,
) -> tuple[Answer, list[Passage]]:
    """Answer from the passages with the reader, or abstain below `threshold`.

    Args:
        question: The analysed question (`assistant.question.analyse`).
        passages: Retrieved passages, best first.
        reader: The loaded reader.
        threshold: Abstain when no sentence read answers with this probability.
        candidates: Sentences the reader reads at most (its cost grows with them).
        lexical_weight: Weight of the word-overlap score added to the reader's logit.
        typed_spans: For typed questions (a number, a date, a person, a place) whose reader span
            runs past `READER_SPAN_WORDS` words, take the short answer from the typed-span rules
            when they find one.
        english_lexical_weight: `lexical_weight` for English questions (their overlap goes
            through the glossary); None: the same.
        max_citations: Sentences quoted at most.
        sentence_ranking: The passage ranker's re-scoring of the best candidates, or None.
        similarity: The embedding model's cosine between the question and each sentence given.
        dense_sentences: Of the best candidates, how many `similarity` re-scores (0: none).
        dense_weight: The cosine's weight in their score.
        unit_check: For a question naming its unit ("bao nhiêu năm tù", "năm nào"), read only
            the sentences stating a figure in it (`assistant.answering.units`), and abstain
            when none does.

    Returns:
        The answer, and the passages reordered by the reader (`rerank`).
    """
    language, qtype = question.language, question.qtype
    cands, terms = scored_candidates(question, passages)
    if unit_check and qtype.unit is not None:
        # Only a sentence stating a figure in the unit asked can answer ("bao nhiêu năm tù?"
        # is not answered by "25 tuổi"); the reader reads those alone, or nothing.
        cands = [c for c in cands if states_unit(qtype.unit, c.text)]
    if not cands:
        return _abstain(language), list(passages)
    chosen = choose(cands, candidates, LEXICAL_PICKS[language])
    titles = None
    if reader.reads_titles:  # each article's headline once, not once per sentence
        heads = {c.passage.article_id: c.passage for c in chosen}
        read = {k: headline(p.title, p.article_text) for k, p in heads.items()}
        titles = [read[c.passage.article_id] for c in chosen]
    readings = reader.read(question.reader_text, [c.text for c in chosen], titles)
    if language == "en" and english_lexical_weight is not None:
        lexical_weight = english_lexical_weight
    scored: Scored = sorted(
        ((blend(r.logit, c, lexical_weight), c, r) for c, r in zip(chosen, readings)),
        key=lambda t: -t[0],
    )
    if similarity is not None and dense_sentences and dense_weight:
        # The bi-encoder was trained on far more questions than the reader and errs otherwise:
        # with its cosine the quoted sentence held the answer a little more often, on `dev`
        # and on held-out Vietnamese questions (docs/EVALUATION.md, session 15).
        scored = rescore_head(
            scored, dense_sentences, dense_weight, lambda head: similarity([c.text for c in head])
        )
    # Abstention: the passages answer if the reader finds any sentence it read answering,
    # whichever one the blend (and the ranker) then quotes. Against the chosen sentence's own
    # probability: fewer false abstentions (ViNewsQA `test` 0.023 -> 0.007); held-out questions
    # caught at 5 % false abstention moved both ways (ViNewsQA 0.20 -> 0.30, ViQuAD 0.36 ->
    # 0.32; docs/EVALUATION.md, session 11).
    answering = max(r.probability for r in readings)
    if sentence_ranking is not None:
        scored = sentence_ranking.rescore(question.reader_text, scored)
    reranked = rerank(passages, scored)
    _, best, reading = scored[0]
    confidence = round(answering, 3)
    logger.debug("reader best=%.3f over %d sentences", answering, len(chosen))
    if answering < threshold:
        return _abstain(language, confidence), reranked
    picked = [(best, reading)]
    if qtype.kind == "other":
        for _, c, r in scored[1:]:
            if len(picked) >= max_citations or r.probability < RUNNER_UP * reading.probability:
                break
            picked.append((c, r))
    short = _short(best.text, reading.span, qtype.kind == "person")
    if typed_spans and _longer_than(best.text, reading.span, READER_SPAN_WORDS):
        typed = typed_expression(question, best.text, terms)
        if typed is not None:
            short = _short(best.text, (typed.start, typed.end), qtype.kind == "person")
    quotes = []
    for c, r in picked:
        span = Span(c.text[r.span[0] : r.span[1]], *r.span, "body") if r.span else None
        q = _quote(c.text, span)
        quotes.append(f"“{q}”" if language == "vi" else f'"{q}"')
    articles = len({c.passage.article_id for c, _ in picked})
    answer = Answer(
        text=_compose(language, short, quotes, articles),
        citations=[_citation(n, c) for n, (c, _) in enumerate(picked, 1)],
        short=short,
        abstained=False,
        language=language,
        confidence=confidence,
    )
    return answer, reranked
