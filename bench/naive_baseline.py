"""hoidap's retrieval beside the LangChain-tutorial baselines: same stored articles, same questions.

Usage: python bench/naive_baseline.py DATA [--articles A.jsonl] [--distractors D.jsonl ...]
       [--fold test] [--limit N] [--work-dir W] [--output F.json]

Runs `hoidap eval` (`assistant.evaluate.evaluate`: ingest, ask, read) and then, over the articles
that store holds and the questions it asked, two naive retrievers:

- dense: each article's text split by LangChain's ``RecursiveCharacterTextSplitter`` into
  1,000-character chunks with 200 overlap, embedded by the same model (with its e5 prefixes),
  top 5 by cosine (exact, numpy);
- BM25: ``rank_bm25.BM25Okapi`` over the same chunks' lower-cased syllables.

A follow-up's naive query is the previous question followed by the follow-up. A question is a
hit@5 when one of the five passages comes from its article and contains its answer, for all
three alike (`Outcome.hit`). The naive chunk vectors are cached in the work folder by content.
Needs the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
from langchain_text_splitters import RecursiveCharacterTextSplitter
from rank_bm25 import BM25Okapi
from tqdm import tqdm

from assistant.core import Assistant
from assistant.evaluate import Outcome, contains_gold, evaluate
from assistant.settings import Settings

CHUNK_SIZE, CHUNK_OVERLAP, K = 1000, 200, 5
_SYLLABLE = re.compile(r"\w+")


def group_of(outcome: Outcome) -> str:
    """The question's row in the issue's table: its kind, Vietnamese typed without marks apart."""
    item = outcome.item
    if item.kind == "vi" and item.no_diacritics:
        return "vi_no_diacritics"
    if item.kind == "vi" and item.history:
        return "followup"
    return item.kind


def naive_query(outcome: Outcome) -> str:
    item = outcome.item
    return f"{item.history[-1][0]} {item.question}" if item.history else item.question


def syllables(text: str) -> list[str]:
    return _SYLLABLE.findall(text.lower())


class NaiveIndex:
    """The tutorial's chunks of the stored articles, with their vectors and a BM25 index."""

    def __init__(self, assistant: Assistant, cache_dir: Path) -> None:
        with sqlite3.connect(f"file:{assistant.store.records.path}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT id, text FROM articles WHERE state = 'done' ORDER BY id"
            ).fetchall()
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
        self.article_ids: list[str] = []
        self.texts: list[str] = []
        for article_id, text in rows:
            for piece in splitter.split_text(text):
                self.article_ids.append(article_id)
                self.texts.append(piece)
        self.embedder = assistant.store.embedder
        self.vectors = self._vectors(cache_dir)
        self.bm25 = BM25Okapi([syllables(t) for t in tqdm(self.texts, desc="BM25", unit="chunk")])

    def _vectors(self, cache_dir: Path) -> np.ndarray:
        digest = hashlib.sha1(self.embedder.model_label.encode())
        for text in self.texts:
            digest.update(text.encode("utf-8") + b"\0")
        cache = cache_dir / f"naive-{digest.hexdigest()[:16]}.npy"
        if cache.exists():
            return np.load(cache)
        vectors = np.concatenate(
            [
                self.embedder.embed_passages(self.texts[i : i + 512])
                for i in tqdm(range(0, len(self.texts), 512), desc="Naive chunks", unit="×512")
            ]
        )
        np.save(cache, vectors)
        return vectors

    def dense(self, query: str) -> list[int]:
        scores = self.vectors @ self.embedder.embed_queries([query])[0]
        top = np.argpartition(-scores, K)[:K]
        return list(top[np.argsort(-scores[top])])

    def lexical(self, query: str) -> list[int]:
        scores = self.bm25.get_scores(syllables(query))
        top = np.argpartition(-scores, K)[:K]
        return list(top[np.argsort(-scores[top])])

    def hit(self, chunks: list[int], outcome: Outcome) -> bool:
        return any(
            self.article_ids[i] == outcome.article_id
            and contains_gold(self.texts[i], outcome.item.golds)
            for i in chunks
        )


def table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| questions | n | naive dense hit@5 | naive BM25 hit@5 | hoidap hit@5 | hoidap − best |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for group, r in rows.items():
        best = max(r["naive_dense"], r["naive_bm25"])
        lines.append(
            f"| {group} | {r['n']} | {r['naive_dense']:.3f} | {r['naive_bm25']:.3f} | "
            f"{r['hoidap']:.3f} | {r['hoidap'] - best:+.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--articles", type=Path)
    parser.add_argument("--distractors", type=Path, nargs="*", default=[])
    parser.add_argument("--fold", choices=["train", "dev", "test"])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    results: dict[str, Any] = {}

    def baselines(outcomes: list[Outcome], assistant: Assistant) -> None:
        started = time.perf_counter()
        index = NaiveIndex(assistant, args.work_dir)
        results["naive_chunks"] = len(index.texts)
        results["naive_index_seconds"] = round(time.perf_counter() - started, 1)
        groups: dict[str, dict[str, list[bool]]] = {}
        answerable = [o for o in outcomes if o.item.kind != "nearmiss"]
        for outcome in tqdm(answerable, desc="Naive retrieval", unit="q"):
            query = naive_query(outcome)
            for group in ("all", group_of(outcome)):
                g = groups.setdefault(group, {"hoidap": [], "naive_dense": [], "naive_bm25": []})
                g["hoidap"].append(outcome.hit(K))
                g["naive_dense"].append(index.hit(index.dense(query), outcome))
                g["naive_bm25"].append(index.hit(index.lexical(query), outcome))
        results["hit@5"] = {
            group: {"n": len(g["hoidap"]), **{k: float(np.mean(v)) for k, v in g.items()}}
            for group, g in groups.items()
        }

    metrics = evaluate(
        Settings.load(),
        args.data,
        work_dir=args.work_dir,
        distractors=args.distractors,
        articles=args.articles,
        limit=args.limit,
        fold=args.fold,
        inspect=baselines,
    )
    results["hoidap"] = metrics
    print(table(results["hit@5"]))
    if args.output:
        args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    main()
