"""Put the diacritics back on a Vietnamese question typed without them.

`dang vien ket nap 30-6` is embedded poorly by the e5 model, which learned from accented text,
while the same question with its marks (`đảng viên kết nạp 30-6`) is embedded as well as any.
Each unaccented syllable has a handful of written forms (`dang`: đảng, đang, đăng, dáng...), and
the store's own articles say which forms follow which: the store keeps counts of every word form
and every adjacent pair (updated at ingest, see `DocStore.form_candidates`). A bigram model over
those counts, decoded with Viterbi, picks the most likely accented sentence. On 1,000 ViQuAD dev
questions it gets 96 % of syllables right (docs/EVALUATION.md).

News text rarely asks questions, so the question words (`ở đâu`, `bao nhiêu`, `là gì`) get a
small built-in count of their own; otherwise `ở đâu` would become the far more frequent `ở đầu`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Protocol

from ingest.clean import fold_diacritics
from store.lexical import word_forms

_WORD = re.compile(r"[^\W\d_]+")

# Weight of the bigram estimate against the unigram one (interpolated smoothing).
BIGRAM_WEIGHT = 0.8
# Pseudo-count of a form never seen, so an unseen pair does not zero a path.
UNSEEN = 0.1
# Count given to each form and pair of the question phrases below.
QUESTION_COUNT = 200
QUESTION_PHRASES = """
ở đâu. tại đâu. từ đâu. đi đâu. đến đâu. vì đâu. bao nhiêu. là bao nhiêu. bao lâu. bao giờ.
khi nào. lúc nào. năm nào. ngày nào. tháng nào. nơi nào. chỗ nào. người nào. bằng cách nào.
là gì. có gì. làm gì. để làm gì. cái gì. điều gì. những gì. nhằm mục đích gì. là ai. của ai.
với ai. như thế nào. thế nào. ra sao. tại sao. vì sao. mấy. có mấy. mấy giờ. phải không.
hay không. có phải. được không. tính đến. tính từ. tính tới
"""
_QUESTION_FORMS, _QUESTION_PAIRS = word_forms(QUESTION_PHRASES)
_QUESTION_FORMS_BY_KEY: dict[str, set[str]] = {}
for _form in _QUESTION_FORMS:
    _QUESTION_FORMS_BY_KEY.setdefault(fold_diacritics(_form), set()).add(_form)


class FormCounts(Protocol):
    """What the restorer needs from the store (`store.docstore.DocStore` provides it)."""

    def form_candidates(self, folded: list[str]) -> dict[str, list[tuple[str, int]]]: ...

    def pair_counts(self, pairs: list[str]) -> dict[str, int]: ...

    def form_total(self) -> int: ...


def restore_diacritics(text: str, counts: FormCounts) -> str:
    """`text` with each unaccented word replaced by its most likely written form.

    Words the store has never seen, numbers and punctuation stay as they are, and so does the
    case of each word (`Ha Noi` -> `Hà Nội`). A text the store knows nothing of comes back
    unchanged.
    """
    matches = list(_WORD.finditer(text))
    if not matches:
        return text
    words = [m.group().lower() for m in matches]
    folded = [fold_diacritics(w) for w in words]
    found = counts.form_candidates(folded)
    unigram: Counter[str] = Counter()
    options: dict[str, set[str]] = {}
    for key, forms in found.items():
        unigram.update(dict(forms))
        options[key] = {form for form, _ in forms} | _QUESTION_FORMS_BY_KEY.get(key, set())
    for key in found.keys() & _QUESTION_FORMS_BY_KEY.keys():
        for form in _QUESTION_FORMS_BY_KEY[key]:
            unigram[form] += _QUESTION_FORMS[form] * QUESTION_COUNT
    candidates = [
        sorted(options[key] | {word})
        if word == key  # a word typed with its marks is kept as typed
        else [word]
        for word, key in zip(words, folded)
    ]
    if all(len(c) == 1 for c in candidates):
        return text
    wanted = [
        f"{a} {b}" for left, right in zip(candidates, candidates[1:]) for a in left for b in right
    ]
    pairs: Counter[str] = Counter(counts.pair_counts(wanted))
    for pair, n in _QUESTION_PAIRS.items():
        pairs[pair] += n * QUESTION_COUNT
    total = max(1, counts.form_total()) + QUESTION_COUNT * sum(_QUESTION_FORMS.values())
    best = _viterbi(candidates, unigram, pairs, total)
    out, last = [], 0
    for m, form in zip(matches, best):
        out.append(text[last : m.start()])
        out.append(_with_case(form, m.group()))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def _viterbi(
    candidates: list[list[str]], unigram: Counter[str], pairs: Counter[str], total: int
) -> list[str]:
    """The most likely sequence of forms, one from each position's candidates."""

    def p_unigram(form: str) -> float:
        return (unigram[form] + UNSEEN) / total

    def p_next(prev: str, form: str) -> float:
        bigram = pairs[f"{prev} {form}"] / unigram[prev] if unigram[prev] else 0.0
        return BIGRAM_WEIGHT * bigram + (1 - BIGRAM_WEIGHT) * p_unigram(form)

    paths = {c: (math.log(p_unigram(c)), [c]) for c in candidates[0]}
    for options in candidates[1:]:
        paths = {
            form: max(
                (score + math.log(p_next(prev, form)), [*path, form])
                for prev, (score, path) in paths.items()
            )
            for form in options
        }
    return max(paths.values())[1]


def _with_case(form: str, typed: str) -> str:
    if typed.isupper() and len(typed) > 1:
        return form.upper()
    if typed[:1].isupper():
        return form[:1].upper() + form[1:]
    return form
