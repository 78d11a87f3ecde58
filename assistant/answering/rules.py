"""The extractive answerer: quote the sentence that answers, cite it, or abstain.

No language model: the answer is a sentence of a retrieved article, chosen by accent-folded
word overlap with the question (weighted by rarity among the candidate sentences, word pairs
counting more), the passage's retrieval rank, and whether the sentence holds an expression of
the type asked for (a number for "bao nhiêu", a date for "khi nào", ...). For English questions
the caller may pass an embedding similarity, since English words rarely appear in Vietnamese
articles; a small glossary (`language.gloss_english`) gives some overlap without it.

Usage::

    answer = answer_extractive("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", passages)
    answer.short          # "787 đảng viên"
    answer.text           # 'Theo bài báo: 787 đảng viên — “Từ đầu năm đến ngày 30-6, …” [1]'
    answer.citations[0]   # the quoted sentence, with its offsets in the article text
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.answering.qtype import QuestionType, Span, detect_qtype
from assistant.answering.spans import extract_span, find_spans
from assistant.language import Token, detect_language, fold, gloss_english, tokens
from assistant.models import Answer, Citation, Language, Passage
from ingest.chunk import split_sentences
from ingest.clean import normalize_query

logger = logging.getLogger(__name__)

ABSTAIN_TEXT: dict[Language, str] = {
    "vi": "Không tìm thấy thông tin này trong kho bài báo.",
    "en": "I could not find this in the articles.",
}

SentenceSimilarity = Callable[[str, list[str]], list[float]]

# Sentence score: coverage of the question's words in [0, 1], plus these.
RANK_PRIOR = 0.08  # / (1 + rank): the retriever's order breaks near-ties
TYPE_BONUS = 0.12  # the sentence holds an expression of the type asked for
LENGTH_PENALTY = 0.04  # * ln(words / 30) for long sentences, which match by chance
BIGRAM_WEIGHT = 2.0  # a matched word pair ("kỷ luật") counts twice a single word
FOLDED_ONLY = 0.6  # "tính" in the question, only "tỉnh" in the sentence
HISTORY_WEIGHT = 0.35  # previous question's words, for elliptical follow-ups
SEMANTIC_CANDIDATES = 16  # default of sentences sent to `sentence_similarity` (it embeds them)
# e5 cosines: ~0.75-0.8 for unrelated pairs, ~0.85-0.9 for related ones.
SIM_LOW, SIM_HIGH = 0.75, 0.90
# Below all three, nothing in the passages is about the question.
NO_EVIDENCE_COVERAGE, NO_EVIDENCE_SIM = 0.15, 0.80
QUOTE_LIMIT = 400  # characters of a quoted sentence before it is shortened with "…"

_VI_STOP = frozenset(
    """là của và các những một có được đã sẽ đang thì mà này đó kia nào gì ai đâu bao nhiêu
    mấy khi lúc sao thế như nhưng với cho trong ngoài trên dưới về từ đến tới bởi bị do ra
    vào rằng hay hoặc cũng vẫn còn nữa không chưa theo ở tại để vậy ấy ông bà họ nó hãy xin
    biết tính nay hiện hết tất cả bài báo""".split()
)
# Unaccented forms that are function words whatever the marks ("co" could be "cơ quan").
_VI_STOP_PLAIN = frozenset(
    """la cua va cac nhung mot duoc thi ma nao gi ai bao nhieu khi luc sao nhu voi cho trong
    tren duoi ve tu den toi boi bi ra vao rang hay hoac cung van con nua khong chua theo o tai
    de vay ay ong ba xin biet""".split()
)
_EN_STOP = frozenset(
    """the a an of in on at to by for with from and or is are was were be been being did do
    does done how many much what which who whom whose when where why that this these those it
    its they them their he she his her there as about has have had will would can could
    should shall may might according article articles tell me please any some into than then
    during after before since until between also still here more most so""".split()
)
_FOLLOW_UP_START = ("con ", "the con ", "vay ", "and ", "what about", "how about", "also ")
_PRONOUNS = frozenset("ấy đó này họ he she they it them his her its that those".split())
_CAPTION = re.compile(r"^(?:Ảnh|Ành|Photo|Nguồn|Video)\s*:", re.IGNORECASE)
_CUT = re.compile(r"\s*[;(—]|\s-\s")
_WORDS = re.compile(r"\w+")


# --------------------------------------------------------------------------------------------
# the question's words


@dataclass
class _Terms:
    """Accent-folded words and word pairs to look for, with weights.

    `words` maps (folded, as written or None) to a weight: as written when the question
    had marks, so "tính" matches "tính" fully and "tỉnh" only partly.
    """

    words: dict[tuple[str, str | None], float] = field(default_factory=dict)
    pairs: dict[str, float] = field(default_factory=dict)

    def add_word(self, folded: str, lower: str | None, weight: float) -> None:
        key = (folded, lower)
        self.words[key] = max(self.words.get(key, 0.0), weight)

    def add_pair(self, pair: str, weight: float) -> None:
        self.pairs[pair] = max(self.pairs.get(pair, 0.0), weight)

    def merge(self, other: _Terms, weight: float) -> None:
        for (f, lower), w in other.words.items():
            if not any(k[0] == f for k in self.words):
                self.add_word(f, lower, w * weight)
        for pair, w in other.pairs.items():
            if pair not in self.pairs:
                self.add_pair(pair, w * weight)

    def folded(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (f, _), w in self.words.items():
            out[f] = max(out.get(f, 0.0), w)
        return out


def _is_stop(tok: Token) -> bool:
    if tok.lower in _VI_STOP:
        return True
    return not tok.accented and (tok.folded in _VI_STOP_PLAIN or tok.folded in _EN_STOP)


def _question_terms(question: str, qtype: QuestionType, language: Language) -> _Terms:
    toks = tokens(question)
    cue = range(*qtype.cue) if qtype.cue else range(0)
    keep = [i not in cue and not _is_stop(t) for i, t in enumerate(toks)]
    terms = _Terms()
    if language == "en":
        glossed: set[str] = set()
        for english, alternatives in gloss_english(question):
            if not alternatives:
                continue
            glossed.update(english.split())
            share = 1.0 / len(alternatives)
            for alt in alternatives:
                for word in alt:
                    terms.add_word(word, None, share)
                for a, b in zip(alt, alt[1:]):
                    terms.add_pair(f"{a} {b}", share)
        for i, t in enumerate(toks):
            if not keep[i] or t.lower in glossed:
                continue
            # Numbers and names match the Vietnamese text as they are; other English words
            # rarely do, so they weigh little in what the sentence should cover.
            name = question[t.start].isupper() and t.start > 0
            terms.add_word(t.folded, None, 1.0 if t.folded.isdigit() or name else 0.3)
        return terms
    for i, t in enumerate(toks):
        if keep[i]:
            terms.add_word(t.folded, t.lower if t.accented else None, 1.0)
        if i + 1 < len(toks) and keep[i] and keep[i + 1]:
            if question[t.end : toks[i + 1].start].strip() == "":
                terms.add_pair(f"{t.folded} {toks[i + 1].folded}", 1.0)
    return terms


def _is_follow_up(question: str, terms: _Terms) -> bool:
    folded = " ".join(t.folded for t in tokens(question)) + " "
    if folded.startswith(_FOLLOW_UP_START):
        return True
    if any(t.lower in _PRONOUNS for t in tokens(question)):
        return True
    return sum(1 for f, _ in terms.words if not f.isdigit()) <= 3


# --------------------------------------------------------------------------------------------
# candidate sentences


@dataclass
class _Sentence:
    rank: int
    passage: Passage
    start: int
    end: int
    text: str
    n_words: int
    words: frozenset[str]
    exact: frozenset[str]
    pairs: frozenset[str]
    coverage: float = 0.0
    semantic: float | None = None
    span: Span | None = None
    score: float = 0.0


@lru_cache(maxsize=256)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(split_sentences(text))


_PUNCT = re.compile(r"[^\w\s]+")


@lru_cache(maxsize=4096)
def _analyse(text: str) -> tuple[int, frozenset[str], frozenset[str], frozenset[str]]:
    """Word count, folded words, words as written and folded word pairs of a sentence.

    Pairs are words side by side with only spaces between them (not across "30-6" or ", ").
    """
    folded_text = fold(text)
    words: list[str] = []
    pairs: set[str] = set()
    for segment in _PUNCT.split(folded_text):
        seg = segment.split()
        words += seg
        pairs.update(f"{a} {b}" for a, b in zip(seg, seg[1:]))
    exact = frozenset(_WORDS.findall(text.lower()))
    return len(words), frozenset(words), exact, frozenset(pairs)


def _make_sentence(rank: int, passage: Passage, start: int, end: int, text: str) -> _Sentence:
    n_words, words, exact, pairs = _analyse(text)
    return _Sentence(rank, passage, start, end, text, n_words, words, exact, pairs)


def _candidates(passages: Sequence[Passage]) -> list[_Sentence]:
    """Whole sentences around and inside each passage, once each, best-ranked passage first."""
    seen: set[tuple[str, int, int]] = set()
    out: list[_Sentence] = []
    for rank, p in enumerate(passages):
        article = p.article_text
        if article and article[p.start : p.end] == p.text:
            # Lines never share a sentence, so only the passage's lines need splitting.
            lo = article.rfind("\n", 0, p.start) + 1
            hi = article.find("\n", p.end)
            hi = len(article) if hi < 0 else hi
            spans = [
                (lo + s, lo + e)
                for s, e in _sentence_spans(article[lo:hi])
                if lo + s < p.end and lo + e > p.start
            ]
            source, shift = article, 0
        else:  # offsets do not index the article: quote the passage as it is
            logger.warning("passage offsets do not match its article chunk_id=%s", p.chunk_id)
            spans = list(_sentence_spans(p.text))
            source, shift = p.text, p.start
        for s, e in spans:
            key = (p.article_id, s + shift, e + shift)
            if key in seen:
                continue
            seen.add(key)
            out.append(_make_sentence(rank, p, s + shift, e + shift, source[s:e]))
    # Captions and bylines ("Ảnh: Anh Huy") are not answers, unless nothing else is there.
    real = [c for c in out if c.n_words >= 4 and not _CAPTION.match(c.text)]
    return real or out


def _coverage(cands: list[_Sentence], terms: _Terms) -> None:
    """Weighted share of the question's words and pairs each sentence contains."""
    n = len(cands)
    df: Counter[str] = Counter()
    for c in cands:
        df.update(c.words)
        df.update(c.pairs)

    def idf(term: str) -> float:
        return math.log(1.0 + (n + 1) / (df[term] + 0.5))

    total = sum(w * idf(f) for (f, _), w in terms.words.items())
    total += sum(BIGRAM_WEIGHT * w * idf(p) for p, w in terms.pairs.items())
    if total <= 0:
        return
    for c in cands:
        got = 0.0
        for (f, lower), w in terms.words.items():
            if f in c.words:
                full = lower is None or lower in c.exact
                got += w * idf(f) * (1.0 if full else FOLDED_ONLY)
        got += sum(BIGRAM_WEIGHT * w * idf(p) for p, w in terms.pairs.items() if p in c.pairs)
        c.coverage = got / total


def _rescale(similarity: float) -> float:
    return min(1.0, max(0.0, (similarity - SIM_LOW) / (SIM_HIGH - SIM_LOW)))


def _score(
    cands: list[_Sentence],
    question: str,
    qtype: QuestionType,
    sentence_similarity: SentenceSimilarity | None,
    semantic_candidates: int = SEMANTIC_CANDIDATES,
) -> None:
    for c in cands:
        length = LENGTH_PENALTY * max(0.0, math.log(max(c.n_words, 1) / 30))
        c.score = c.coverage - length + RANK_PRIOR / (1 + c.rank)
    if qtype.kind != "other":
        # Only sentences the bonus can lift to the top are worth searching for spans.
        top = max(c.score for c in cands)
        for c in cands:
            if c.score + TYPE_BONUS >= top and find_spans(
                qtype.kind, c.text, qtype.hint, qtype.entity
            ):
                c.score += TYPE_BONUS
    if sentence_similarity is None or semantic_candidates <= 0:
        return
    chosen = sorted(cands, key=lambda c: c.score, reverse=True)[:semantic_candidates]
    sims = sentence_similarity(question, [c.text for c in chosen])
    for c, sim in zip(chosen, sims):
        c.semantic = float(sim)
    floor = min((c.semantic for c in chosen if c.semantic is not None), default=0.0)
    for c in cands:
        # Half lexical, half semantic: either alone misleads on English questions.
        c.score = 0.5 * c.score + 0.5 * _rescale(c.semantic if c.semantic is not None else floor)


# --------------------------------------------------------------------------------------------
# the answer


def _confidence(
    best: _Sentence,
    passages: Sequence[Passage],
    qtype: QuestionType,
    language: Language,
) -> tuple[float, bool]:
    """Confidence in [0, 1], and whether there is no evidence at all."""
    top_sim = max((p.similarity for p in passages[:3]), default=0.0)
    features: list[tuple[float, float]] = [
        (0.25 if language == "en" else 0.5, min(1.0, best.coverage / 0.7))
    ]
    if top_sim > 0:
        features.append((0.35, _rescale(top_sim)))
    # Only English questions count the sentence similarity: for Vietnamese ones it only breaks
    # ties between sentences, and the threshold was calibrated on word coverage.
    semantic = best.semantic if language == "en" else None
    if semantic is not None:
        features.append((0.4, _rescale(semantic)))
    base = sum(w * f for w, f in features) / sum(w for w, _ in features)
    if qtype.kind != "other":
        base *= 1.0 if best.span is not None else 0.75
    none = (
        best.coverage < NO_EVIDENCE_COVERAGE
        and (top_sim == 0 or top_sim < NO_EVIDENCE_SIM)
        and (semantic is None or semantic < NO_EVIDENCE_SIM)
    )
    return round(min(1.0, max(0.0, base)), 3), none


def _quote(text: str, span: Span | None) -> str:
    """The sentence, shortened after the answer when it is long ("… 787 đảng viên …")."""
    if len(text) <= QUOTE_LIMIT:
        return text
    anchor = span.end if span else 60
    start = 0
    if anchor > QUOTE_LIMIT - 40 and span is not None:
        start = text.rfind(" ", 0, max(0, span.start - 60)) + 1
    cut = _CUT.search(text, max(anchor, start + 40))
    end = cut.start() if cut and cut.start() - start <= QUOTE_LIMIT else -1
    if end < 0:
        end = text.rfind(" ", start, start + QUOTE_LIMIT)
        end = end if end > start else start + QUOTE_LIMIT
    quoted = text[start:end].rstrip(" ,;:")
    return ("… " if start else "") + quoted + " …"


def _abstain(language: Language, confidence: float = 0.0) -> Answer:
    return Answer(
        text=ABSTAIN_TEXT[language],
        citations=[],
        short=None,
        abstained=True,
        language=language,
        confidence=confidence,
    )


def _pick(cands: list[_Sentence], qtype: QuestionType, max_citations: int) -> list[_Sentence]:
    """The best sentence, and for open questions close runners-up that add question words."""
    ranked = sorted(cands, key=lambda c: c.score, reverse=True)
    picked = [ranked[0]]
    if qtype.kind != "other" or max_citations < 2:
        return picked
    for c in ranked[1:]:
        if len(picked) >= max_citations or c.score < 0.85 * ranked[0].score:
            break
        if c.coverage < max(0.2, 0.5 * ranked[0].coverage):
            continue
        if not c.words <= set().union(*(p.words for p in picked)):
            picked.append(c)
    return picked


def _citation(n: int, c: _Sentence) -> Citation:
    return c.passage.cite(n, c.text, c.start, c.end)


# Lead-ins of a composed answer, for one article and for several. `_compose` writes them;
# `strip_lead` takes them off an earlier answer read back for a follow-up's search.
_LEADS: dict[Language, tuple[str, str]] = {
    "vi": ("Theo bài báo", "Theo các bài báo"),
    "en": ("According to the article", "According to the articles"),
}
_SAYS = ("The article says", "The articles say")  # English, when there is no short answer
_LEAD_PREFIX = re.compile(
    "^(?:"
    + "|".join(
        re.escape(lead)
        for lead in sorted({*_SAYS, *_LEADS["vi"], *_LEADS["en"]}, key=len, reverse=True)
    )
    + r")\s*:\s*",
    re.IGNORECASE,
)


def strip_lead(answer: str) -> str:
    """An answer's text without the lead-in `_compose` put before it ("Theo bài báo: ")."""
    return _LEAD_PREFIX.sub("", answer)


def _compose(language: Language, short: str | None, quotes: list[str], articles: int) -> str:
    marked = " ".join(f"{q} [{n}]" for n, q in enumerate(quotes, 1))
    several = articles > 1
    if language == "en" and not short:
        return f"{_SAYS[several]}: {marked}"
    lead = _LEADS[language][several]
    return f"{lead}: {short} — {marked}" if short else f"{lead}: {marked}"


def answer_extractive(
    question: str,
    passages: list[Passage],
    *,
    history: Sequence[tuple[str, str]] = (),
    min_confidence: float = 0.0,
    max_citations: int = 3,
    sentence_similarity: SentenceSimilarity | None = None,
    semantic_candidates: int = SEMANTIC_CANDIDATES,
) -> Answer:
    """Answer from the retrieved passages by quoting the sentence that answers, or abstain.

    Args:
        question: Vietnamese (with or without marks) or English.
        passages: Retrieved passages, best first (about 10 at most).
        history: Earlier (question, answer) turns, oldest first; a short or elliptical
            question ("Còn bao nhiêu đảng viên bị kỷ luật?") borrows the previous question's
            words at a lower weight.
        min_confidence: Abstain when the confidence is below this.
        max_citations: Sentences quoted at most (open questions only quote more than one).
        sentence_similarity: Optional `(question, sentences) -> cosines`, combined with word
            overlap for the `semantic_candidates` best sentences by word overlap. English
            questions share few words with Vietnamese articles and need many; for Vietnamese
            questions a few settle near-ties between sentences that share the question's words.
        semantic_candidates: How many sentences `sentence_similarity` scores (0: none).

    Returns:
        An `Answer` in the question's language: the short answer (a number, date, name or
        place) when the question type allows, then the quoted sentence with `[n]`, and the
        citations whose `passage == article_text[start:end]`. `confidence` is always set;
        `abstained` is true when the evidence is too weak.
    """
    question = normalize_query(question)
    language = detect_language(question)
    if not passages or not question:
        return _abstain(language)
    qtype = detect_qtype(question)
    terms = _question_terms(question, qtype, language)
    if history and _is_follow_up(question, terms):
        previous = normalize_query(history[-1][0])
        prev_qtype = detect_qtype(previous)
        terms.merge(
            _question_terms(previous, prev_qtype, detect_language(previous)), HISTORY_WEIGHT
        )
        if qtype.kind == "other":
            qtype = prev_qtype

    cands = _candidates(passages)
    if not cands:
        return _abstain(language)
    _coverage(cands, terms)
    _score(cands, question, qtype, sentence_similarity, semantic_candidates)
    picked = _pick(cands, qtype, max_citations)
    best = picked[0]
    asked = {t.folded for t in tokens(question)}
    best.span = extract_span(qtype, best.text, terms.folded(), question_words=asked)
    confidence, no_evidence = _confidence(best, passages, qtype, language)
    logger.debug(
        "answer qtype=%s coverage=%.2f score=%.2f confidence=%.2f",
        qtype.kind,
        best.coverage,
        best.score,
        confidence,
    )
    if no_evidence or confidence < min_confidence:
        return _abstain(language, confidence)

    quotes = []
    for c in picked:
        q = _quote(c.text, c.span)
        quotes.append(f"“{q}”" if language == "vi" else f'"{q}"')
    short = best.span.text if best.span else None
    articles = len({c.passage.article_id for c in picked})
    return Answer(
        text=_compose(language, short, quotes, articles),
        citations=[_citation(n, c) for n, c in enumerate(picked, 1)],
        short=short,
        abstained=False,
        language=language,
        confidence=confidence,
    )
