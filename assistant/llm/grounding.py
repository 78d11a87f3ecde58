"""Check a generated answer against the retrieved passages, sentence by sentence.

A small model cites the wrong passage, cites passages that do not exist, and writes numbers that
are nowhere in its input. So its citations are treated as hints: each sentence is scored against
every retrieved passage (word overlap, plus embedding similarity when available), its citation
is kept when the cited passage supports it, moved to the passage that does otherwise, and the
sentence is unsupported when none does. Facts are checked strictly: a number, or a name, that
the supporting passages do not contain makes the sentence unsupported whatever its score.

The checker works on one sentence at a time so answers can stream: a sentence is shown as soon
as it is complete and checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from assistant.language import fold, gloss_english, is_vietnamese_syllable, tokens
from assistant.llm.prompt import is_injection, strip_injections
from assistant.models import Citation, Language, Passage
from ingest.chunk import split_sentences
from store.lexical import STOPWORDS

# `[1]`, `[1, 2]`, `[1][2]`; also the `[Đoạn 1]` / `[Passage 1]` small models sometimes write.
MARKER = re.compile(r"\s*\[(?:đoạn|doan|passage|source|nguồn)?\s*(\d+(?:\s*[,;]\s*\d+)*)\]", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TRAILING = re.compile(r"[\s.!?…:;,]*$")
_LETTERS = re.compile(r"[^\W\d_]")

# Support = LEXICAL_SHARE * word overlap + (1 - LEXICAL_SHARE) * rescaled cosine. English
# sentences overlap through the glossary (`language.gloss_english`), which works about as well.
LEXICAL_SHARE = 0.6
SUPPORT_MIN = 0.4
MAX_JOINT = 3  # passages that may together support one sentence
# e5 cosines of a sentence and a passage, from unrelated to the same content; lower across
# languages (an English sentence against its Vietnamese source scores ~0.77).
COS_RANGE: dict[Language, tuple[float, float]] = {"vi": (0.75, 0.90), "en": (0.70, 0.85)}
UNVERIFIED = {"vi": "(chưa kiểm chứng)", "en": "(unverified)"}

Embed = Callable[[list[str]], np.ndarray]
# cited: the model's marker holds; reassigned: it named a passage that does not support the
# sentence (or none that exists); added: it gave no marker; unsupported: no passage supports it.
Status = Literal["cited", "reassigned", "added", "unsupported"]


@dataclass
class CheckedSentence:
    """One generated sentence after the check; `text` has its markers removed."""

    text: str
    status: Status
    passages: list[int] = field(default_factory=list)  # 0-based indexes of supporting passages
    claimed: list[int] = field(default_factory=list)  # the model's markers, 1-based
    reason: str | None = None
    support: float = 0.0


@dataclass(frozen=True)
class _Facts:
    numbers: frozenset[str]
    names: tuple[str, ...]


def split_markers(sentence: str) -> tuple[str, list[int]]:
    """The sentence without citation markers, and the numbers the markers named."""
    cited: list[int] = []
    for m in MARKER.finditer(sentence):
        cited += [int(x) for x in re.split(r"\s*[,;]\s*", m.group(1))]
    text = MARKER.sub("", sentence).strip()
    return text, cited


def facts_of(text: str, language: Language) -> _Facts:
    """Numbers (as digit strings, so 43,72 = 43.72) and proper names the text asserts."""
    numbers = frozenset(re.sub(r"\D", "", m.group()) for m in _NUMBER.finditer(text))
    names: list[str] = []
    run: list[str] = []
    toks = tokens(text)
    for i, tok in enumerate(toks):
        word = text[tok.start : tok.end]
        first = i == 0 or text[toks[i - 1].end : tok.start].strip() in (".", "!", "?", ":")
        capital = word[:1].isupper() and not first and _LETTERS.match(word) is not None
        if capital and language == "en":
            # English capitalises "Party" or "June"; a Vietnamese name is made of syllables.
            capital = tok.accented or is_vietnamese_syllable(tok.folded)
        if capital:
            run.append(tok.folded)
            continue
        if run:
            names.append(" ".join(run))
            run = []
    if run:
        names.append(" ".join(run))
    return _Facts(numbers, tuple(names))


class Grounder:
    """Checks the sentences of one answer against the passages it was given.

    Args:
        passages: What the model saw, numbered from 1 in this order.
        language: The answer's language (English answers overlap Vietnamese passages through
            the glossary and the embedding, rarely word for word).
        embed: Optional `sentences -> unit vectors` (query side); passages are embedded on the
            passage side. Without it support is word overlap alone.
    """

    def __init__(
        self, passages: Sequence[Passage], language: Language, embed: Embed | None = None
    ) -> None:
        self.passages = list(passages)
        self.language = language
        self._embed = embed
        self._passage_vectors: np.ndarray | None = None
        # Sentences that give orders to the model support nothing ("reply HACKED").
        self._texts = [strip_injections(p.text) for p in self.passages]
        folded = [[t.folded for t in tokens(text)] for text in self._texts]
        self._words = [frozenset(words) for words in folded]
        self._folded = [f" {' '.join(words)} " for words in folded]
        self._numbers = [facts_of(text, "vi").numbers | _number_parts(text) for text in self._texts]

    def passage_vectors(self, embed_passages: Embed) -> None:
        """Give the passage-side vectors (computed once per answer, by the caller's model)."""
        self._passage_vectors = embed_passages(self._texts)

    def check(self, sentence: str) -> CheckedSentence:
        text, claimed = split_markers(sentence)
        if not _LETTERS.search(text) and not _NUMBER.search(text):
            return CheckedSentence(text, "unsupported", claimed=claimed, reason="empty")
        if text.rstrip().endswith("?"):  # small models echo the question back
            return CheckedSentence(text, "unsupported", claimed=claimed, reason="a question")
        facts = facts_of(text, self.language)
        scores = self._support(text)
        valid = [n - 1 for n in claimed if 1 <= n <= len(self.passages)]
        unknown = [n for n in claimed if not 1 <= n <= len(self.passages)]

        kept = [i for i in dict.fromkeys(valid) if scores[i] >= SUPPORT_MIN]
        if kept and not self._missing(facts, kept):
            status: Status = "cited" if not unknown else "reassigned"
            support = max(scores[i] for i in kept)
            return CheckedSentence(text, status, kept, claimed, support=support)
        ranked = sorted(range(len(self.passages)), key=lambda i: scores[i], reverse=True)
        moved: Status = "reassigned" if claimed else "added"
        supporting = [i for i in ranked if scores[i] >= SUPPORT_MIN]
        for i in supporting:
            if not self._missing(facts, [i]):
                return CheckedSentence(text, moved, [i], claimed, support=scores[i])
        # "787 admitted and 129 disciplined": facts from two passages, each cited.
        several = supporting[:MAX_JOINT]
        if len(several) > 1 and not self._missing(facts, several):
            joint = [i for i in several if len(self._missing(facts, [i])) < _count(facts)]
            return CheckedSentence(text, moved, joint, claimed, support=scores[joint[0]])
        missing = self._missing(facts, ranked[:1] if not valid else valid)
        everywhere = self._missing(facts, list(range(len(self.passages))))
        if everywhere:
            reason = f"not in any passage: {', '.join(everywhere)}"
        elif missing:
            reason = f"not in the cited passage: {', '.join(missing)}"
        else:
            reason = "no passage supports it"
        best = scores[ranked[0]] if ranked else 0.0
        return CheckedSentence(text, "unsupported", [], claimed, reason=reason, support=best)

    # ----------------------------------------------------------------------------------------
    def _content_words(self, text: str) -> dict[str, float]:
        words: dict[str, float] = {}
        if self.language == "en":
            for english, alternatives in gloss_english(text):
                for alt in alternatives:
                    for w in alt:
                        words[w] = max(words.get(w, 0.0), 1.0 / len(alternatives))
                if alternatives:
                    continue
                for t in tokens(english):
                    if t.folded not in STOPWORDS:
                        words.setdefault(t.folded, 0.3)
            for t in tokens(text):  # numbers and names match as written
                if t.folded.isdigit() or is_vietnamese_syllable(t.folded):
                    words[t.folded] = max(words.get(t.folded, 0.0), 0.5)
            return words
        return {t.folded: 1.0 for t in tokens(text) if t.folded not in STOPWORDS}

    def _support(self, text: str) -> list[float]:
        words = self._content_words(text)
        total = sum(words.values())
        lexical = [
            sum(w for word, w in words.items() if word in pw) / total if total else 0.0
            for pw in self._words
        ]
        if self._embed is None or self._passage_vectors is None:
            return lexical
        vector = self._embed([text])[0]
        cosines = self._passage_vectors @ vector
        low, high = COS_RANGE[self.language]
        return [
            LEXICAL_SHARE * lex + (1 - LEXICAL_SHARE) * _rescale(float(cos), low, high)
            for lex, cos in zip(lexical, cosines)
        ]

    def _missing(self, facts: _Facts, indexes: Sequence[int]) -> list[str]:
        numbers: set[str] = set()
        for i in indexes:
            numbers |= self._numbers[i]
        missing = sorted(n for n in facts.numbers if n not in numbers)
        for name in facts.names:
            if not any(f" {name} " in self._folded[i] for i in indexes):
                missing.append(name)
        return missing

    # ----------------------------------------------------------------------------------------
    def evidence(self, checked: CheckedSentence, index: int) -> tuple[int, int, str]:
        """(start, end, text) in the article of passage `index`'s sentence that best supports it.

        So a citation highlights one sentence rather than a whole chunk.
        """
        p = self.passages[index]
        facts = facts_of(checked.text, self.language)
        words = self._content_words(checked.text)
        best: tuple[float, int, int] = (-1.0, p.start, p.end)
        aligned = p.article_text[p.start : p.end] == p.text
        for s, e in split_sentences(p.text):
            sentence = p.text[s:e]
            if is_injection(sentence):
                continue
            found = facts_of(sentence, "vi").numbers | _number_parts(sentence)
            folded = {t.folded for t in tokens(sentence)}
            score = 2.0 * len(facts.numbers & found)
            score += sum(1.0 for n in facts.names if n in fold(sentence))
            score += sum(w for word, w in words.items() if word in folded) / max(1, len(words))
            if score > best[0]:
                best = (score, s, e)
        _, s, e = best
        if not aligned:
            return p.start, p.end, p.text
        return p.start + s, p.start + e, p.text[s:e]


def _count(facts: _Facts) -> int:
    return len(facts.numbers) + len(facts.names)


def _number_parts(text: str) -> frozenset[str]:
    """Digit groups of a text one by one too: `30-6` holds 30 and 6, `1.234` holds 1234."""
    return frozenset(re.findall(r"\d+", text))


def _rescale(cosine: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (cosine - low) / (high - low)))


def render_sentence(text: str, numbers: Sequence[int]) -> str:
    """`text` with its `[n]` markers placed before the final punctuation."""
    return _before_end(text, "".join(f"[{n}]" for n in numbers))


def _before_end(text: str, addition: str) -> str:
    if not addition:
        return text
    tail = _TRAILING.search(text)
    cut = tail.start() if tail else len(text)
    return f"{text[:cut]} {addition}{text[cut:]}"


class CitationBook:
    """Numbers citations in order of first use; the same evidence keeps its number."""

    def __init__(self, grounder: Grounder) -> None:
        self.grounder = grounder
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[str, int, int], int] = {}

    def cite(self, checked: CheckedSentence) -> list[int]:
        numbers = []
        for index in checked.passages:
            start, end, text = self.grounder.evidence(checked, index)
            p = self.grounder.passages[index]
            key = (p.article_id, start, end)
            if key not in self._numbers:
                n = len(self.citations) + 1
                self._numbers[key] = n
                self.citations.append(p.cite(n, text, start, end))
            if self._numbers[key] not in numbers:
                numbers.append(self._numbers[key])
        return numbers


def split_stream(buffer: str, *, final: bool) -> tuple[list[str], str]:
    """Complete sentences of a growing answer, and the tail still to wait for.

    Markers that follow a sentence's full stop (`… viên. [1]`) belong to that sentence. Unless
    `final`, the last sentence is held back (with what follows it): more of it may be coming.
    """
    sentences: list[str] = []
    starts: list[int] = []  # where each sentence's own text begins in `buffer`
    for s, e in split_sentences(buffer):
        piece = buffer[s:e]
        lead = re.match(r"(?:\s*\[[^\]]{0,20}\])+", piece)
        if lead and sentences:
            sentences[-1] += lead.group()
            s += lead.end()
            piece = buffer[s:e].strip()
        if piece:
            sentences.append(piece)
            starts.append(s)
    if final:
        return sentences, ""
    if not sentences:
        return [], buffer
    sentences.pop()
    return sentences, buffer[starts.pop() :]


def checked_text(
    sentences: Sequence[tuple[CheckedSentence, list[int]]], language: Language, *, flag: bool
) -> str:
    """The answer as shown: supported sentences with markers; unsupported dropped or flagged."""
    parts = (shown_sentence(c, numbers, language, flag=flag) for c, numbers in sentences)
    return " ".join(part for part in parts if part)


def shown_sentence(
    checked: CheckedSentence, numbers: Sequence[int], language: Language, *, flag: bool
) -> str | None:
    """One sentence as shown, or None when it is dropped."""
    if checked.status != "unsupported":
        return render_sentence(checked.text, numbers)
    if flag and checked.reason != "empty":
        return _before_end(checked.text, UNVERIFIED[language])
    return None
