"""What the `dev`-fold tuners share: their arguments, their questions and the store they ask.

`tune_reader.py` and `tune_ranker.py` both retrieve one fold's questions of a data set from a
store that already holds its articles, then replay settings offline. Both need to know which
stored article a question is about: a `taynguyen_qa.jsonl` question names it in `--articles`;
a SQuAD question's context was stored by `hoidap eval` from `contexts.jsonl` beside the store.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from assistant.core import Assistant
from assistant.evaluate import Item, load_dataset
from assistant.reading.split import fold_of
from assistant.settings import Settings
from ingest.read import read_file
from store.bert import Precision, resolve_precision
from store.model import build_default_model


def parser(description: str, weights: Path, what: str) -> argparse.ArgumentParser:
    """The tuners' common arguments; each adds its own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--store", type=Path, required=True, help="a store holding the articles")
    p.add_argument("--data", type=Path, required=True, help="the questions (hoidap eval's formats)")
    p.add_argument("--articles", type=Path, help="the articles of a taynguyen_qa.jsonl")
    p.add_argument("--fold", default="dev", help="the fold asked (never tune on test)")
    p.add_argument("--weights", type=Path, default=weights, help=f"the {what} to tune")
    p.add_argument("--limit", type=int, default=0, help="questions asked at most (0: all)")
    return p


@dataclass
class DevRun:
    """The fold's questions, the assistant over the store, and each question's stored article."""

    items: list[Item]
    assistant: Assistant
    base: Path  # the default model's folder, for loading a reader or ranker beside it
    precision: Precision
    article_of: dict[str, str]  # a question's context key -> its stored article id

    def own_article(self, item: Item) -> str:
        return self.article_of.get(item.context, item.context)


def open_run(args: argparse.Namespace, *, nearmiss: bool = True) -> DevRun:
    """Load the questions of `args.fold` (without near-misses unless `nearmiss`) and the store."""
    data = load_dataset(args.data, args.articles)
    folds = {k: fold_of(c.text) for k, c in data.contexts.items()}
    items = [
        i
        for i in data.items
        if folds[i.context] == args.fold and (nearmiss or i.kind != "nearmiss")
    ][: args.limit or None]
    settings = Settings.load().with_overrides(store={"store": args.store})
    articles = data.articles_file or args.store.parent / "contexts.jsonl"
    article_of = {}
    if articles.is_file():
        article_of = {a.external_id: a.id for a in read_file(articles, settings.ingest).articles}
    return DevRun(
        items=items,
        assistant=Assistant.from_settings(settings),
        base=build_default_model(settings.store.cache_dir),
        precision=resolve_precision(settings.store.precision),
        article_of=article_of,
    )
