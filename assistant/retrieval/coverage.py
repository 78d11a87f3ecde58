"""How much of a question a passage's best two adjacent sentences cover, word for word.

Both searches rank a 1,000-character chunk as a whole: BM25 counts the question's words anywhere
in it and the dense search embeds all of it in one vector. A chunk that mentions the question's
words across unrelated sentences can then outrank the one whose sentences state the answer, often
a neighbouring chunk of the same article. The share of the question's BM25 term weight found
together in two adjacent sentences is what tells them apart; `HybridRetriever` adds it to the
fused score of a Vietnamese question's candidates (`HOIDAP_SENTENCE_COVERAGE_WEIGHT`, 0.3). The
passages it finds also led the reader to answer more questions whose article lacks the answer
(docs/EVALUATION.md, session 16) until the reader's unit check stopped it answering them with a
figure of another kind (session 17).

Why lexical and not the embedding model's cosine per sentence: on the same 333 taynguyen_qa
questions (docs/EVALUATION.md, session 16) the cosine found 3 more passages than this, and
embedding the ~100 sentences of 15 candidates costs about a second a question on 2 cores; this
costs about 8 milliseconds (200k chunks, docs/BENCHMARKS.md).
"""

from __future__ import annotations

from ingest.chunk import split_sentences
from store.lexical import index_tokens

WINDOW = 2


def window_coverage(text: str, weights: dict[str, float], window: int = WINDOW) -> float:
    """The largest share of `weights` (term -> weight) found within `window` adjacent sentences.

    The keys are the BM25 index's own (folded syllables and syllable pairs), so a question typed
    without diacritics covers a sentence exactly as the accented one does.
    """
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    sentences = [set(index_tokens(text[start:end]).split()) for start, end in split_sentences(text)]
    if not sentences:
        return 0.0
    best = 0.0
    for i in range(max(1, len(sentences) - window + 1)):
        found = set().union(*sentences[i : i + window])
        best = max(best, sum(w for term, w in weights.items() if term in found))
    return best / total
