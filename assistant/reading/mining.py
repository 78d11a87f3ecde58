"""Hard negatives for training the reader, mined the way the answerer meets its candidates.

At answer time the reader chooses among the sentences of the retrieved passages: other
articles on the same topic, the same names, the same kind of number. Negatives drawn only from
the question's own article never show it those, and a first reader trained that way picked the
right sentence for about two thirds of the questions whose sentence it was given. So each
training question is also asked of a real store (`hoidap ingest` of the corpus), and the
sentences the answerer would hand the reader (`assistant.reading.answer.choose`) that do not
hold the gold answer become its negatives.

Passages of articles outside the train fold are skipped, so no sentence of a held-out article
is trained on, even as a negative.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.evaluate import Item, contains_gold
from assistant.models import Passage
from assistant.question import Question, analyse
from assistant.reading.answer import LEXICAL_PICKS, choose, scored_candidates
from assistant.reading.reader import headline
from assistant.reading.split import fold_of
from assistant.retrieval.retriever import HybridRetriever
from assistant.settings import Settings
from ingest.errors import UsageError
from store.store import Store

if TYPE_CHECKING:
    from store.embedder import Embedder

MINED_PASSAGES = 10  # retrieved passages whose sentences are offered
MINED_SENTENCES = 16  # of their sentences, the first the answerer would offer (it reads 24)

Miner = Callable[[Item], list[tuple[str, str]]]  # (sentence, its article's title)
_BUILD = (
    "Build the store first: hoidap --store DIR ingest ../shared/corpus/taynguyen.jsonl "
    "../shared/corpus/dantri.jsonl"
)


def store_retriever(
    store_dir: Path, settings: Settings, embedder: Embedder | None = None, *, depth: int
) -> tuple[Callable[[Item], tuple[Question, list[Passage]]], Callable[[], None]]:
    """A function giving an item's question and retrieved train-fold passages, and a closer.

    The function returns the analysed question and its first `depth` passages from the store
    in `store_dir`, less those of articles outside the train fold.

    `embedder`: an already loaded embedding model to share (else the store loads its own).
    """
    if not store_dir.is_dir():
        raise UsageError(f"{store_dir} does not exist. {_BUILD}")
    settings = settings.with_overrides(store={"store": store_dir})
    store = Store(settings.store, embedder=embedder)
    if store.stats().articles == 0:
        store.close()
        raise UsageError(f"{store_dir} holds no articles. {_BUILD}")
    retriever = HybridRetriever(store, settings.assistant)
    train_fold: dict[str, bool] = {}

    def in_train_fold(article_id: str, text: str) -> bool:
        if article_id not in train_fold:
            train_fold[article_id] = fold_of(text) == "train"
        return train_fold[article_id]

    def retrieve(item: Item) -> tuple[Question, list[Passage]]:
        question = analyse(item.question, list(item.history), store.records)
        passages = [
            p
            for p in retriever.retrieve(question, k=depth)
            if in_train_fold(p.article_id, p.article_text or p.text)
        ]
        return question, passages

    return retrieve, store.close


def store_miner(
    store_dir: Path, settings: Settings, embedder: Embedder | None = None
) -> tuple[Miner, Callable[[], None]]:
    """A function giving an item's hard negative sentences (with titles), and a closer."""
    retrieve, close = store_retriever(store_dir, settings, embedder, depth=MINED_PASSAGES)

    def mine(item: Item) -> list[tuple[str, str]]:
        question, passages = retrieve(item)
        cands, _ = scored_candidates(question, passages)
        offered = choose(cands, MINED_SENTENCES, LEXICAL_PICKS[question.language])
        return [
            (c.text, headline(c.passage.title, c.passage.article_text))
            for c in offered
            if not (item.golds and contains_gold(c.text, item.golds))
        ]

    return mine, close
