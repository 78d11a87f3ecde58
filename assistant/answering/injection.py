"""Sentences that address a language model ("ignore previous instructions…").

Passages are untrusted text from an archive anyone may have written into. Such a sentence
answers no question: the reader never quotes it, and the generative mode cuts it from its prompt
and lets it support nothing.
"""

from __future__ import annotations

import re

from ingest.clean import fold_diacritics

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instruction|prompt|rule|above|previous)"
    r"|\b(?:system prompt|you are now|new instructions?|reply with|respond with|answer with)\b"
    r"|\bbo qua\b.{0,40}\b(?:huong dan|chi dan|lenh|yeu cau)"
    r"|\b(?:tra loi|hay tra loi)\b.{0,12}\b(?:bang|la)\b.{0,12}\btu\b",
    re.IGNORECASE,
)


def is_injection(sentence: str) -> bool:
    """Whether a sentence addresses a language model ("ignore previous instructions…")."""
    return bool(_INJECTION.search(sentence) or _INJECTION.search(fold_diacritics(sentence)))
