"""Accent-insensitive lexical keys for the BM25 index (SQLite FTS5), shared by index and query.

Vietnamese words are mostly two or more syllables (`đảng viên`, `kết nạp`), so each syllable
pair is indexed too (`dang_vien`): a question's pairs then favour passages with the same words,
not just the same common syllables. Everything is folded (`đảng` -> `dang`), so a question
typed without diacritics matches exactly as the accented one does.
"""

from __future__ import annotations

import re
from collections import Counter

from ingest.clean import fold_diacritics

_WORD = re.compile(r"\w+")
# Longer "words" are codes, URLs or run-together text, not syllables worth counting.
MAX_FORM_LENGTH = 12
# Tokens split by sentence punctuation are not paired: a pair across "." is not a word.
_BREAK = re.compile(r"[.,;:!?()\[\]\"“”«»\n]+")

# Function words that carry no topic; dropped from queries (kept in the index for pairs).
STOPWORDS = frozenset(
    """
    la va cua cac nhung mot co duoc da dang se thi ma o tai trong tren duoi voi cho ve tu den
    nay do kia nao gi ai sao bao nhieu may khi nhu the nao vay ra vao len xuong cung con hay
    hoac nen neu vi boi nguoi bi rang theo sau truoc khong chua nhat rat qua lam lai
    the a an of to in on at for by with and or is are was were be been what which who whom
    whose when where why how many much does did do from as that this these those it its
    """.split()
)


def _segments(text: str) -> list[list[str]]:
    folded = fold_diacritics(text)
    return [_WORD.findall(part) for part in _BREAK.split(folded)]


def index_tokens(text: str) -> str:
    """The space-separated keys stored in FTS5 for a passage: syllables and syllable pairs."""
    keys: list[str] = []
    for words in _segments(text):
        keys.extend(words)
        keys.extend(f"{a}_{b}" for a, b in zip(words, words[1:]))
    return " ".join(keys)


def query_terms(text: str) -> list[str]:
    """Distinct query keys: content syllables, and every pair with at least one content syllable."""
    terms: dict[str, None] = {}
    for words in _segments(text):
        for w in words:
            if w not in STOPWORDS:
                terms[w] = None
        for a, b in zip(words, words[1:]):
            if a not in STOPWORDS or b not in STOPWORDS:
                terms[f"{a}_{b}"] = None
    return list(terms)


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH string that ORs the quoted terms (quotes make any token literal)."""
    return " OR ".join(f'"{t}"' for t in terms)


def word_forms(text: str) -> tuple[Counter[str], Counter[str]]:
    """Lower-cased written forms (`đảng`) and adjacent form pairs (`đảng viên`) with counts.

    These are the statistics that restore diacritics to a question typed without them: the
    store's own text says which accented form of `dang vien` its articles use.
    """
    forms: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for part in _BREAK.split(text.lower()):
        previous = None
        for word in _WORD.findall(part):
            if len(word) > MAX_FORM_LENGTH or not word.isalpha():
                previous = None  # `ngày 30 tháng` has no pair `ngày tháng`
                continue
            forms[word] += 1
            if previous:
                pairs[f"{previous} {word}"] += 1
            previous = word
    return forms, pairs
