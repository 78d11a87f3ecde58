"""Query latency and memory at the store's real size and at a replicated larger size.

Usage:
    python bench/query.py --store DIR --questions QA.json [--questions-limit 200]
                          [--replicate-to 200000 --work DIR2] [--strip-diacritics]

Measures, on the store in DIR (copied first when replicating):
- warm `Assistant.ask` latency (p50/p95/max) over real dev-set questions: the default (hybrid
  retrieval, the trained reader), dense-only, and the word-overlap rules without the reader;
- cold start: a new `hoidap ask` process, from exec to the printed answer (median of 3);
- peak resident memory of the warm process and of a cold `hoidap ask`.
With --strip-diacritics the questions are asked without their marks, which the assistant
restores from the store's word counts (counted first if the store has none yet).
With --replicate-to N, the store is copied to --work and its chunks are replicated under new
article ids (with their stored vectors, so nothing is re-embedded) until it holds N chunks.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from assistant.core import Assistant
from assistant.evaluate import load_dataset, strip_marks
from assistant.settings import Settings
from ingest.chunk import LEGACY_LAYOUT
from ingest.models import Article, Chunk
from store.store import Store


def replicate(store: Store, target_chunks: int) -> int:
    """Copy every stored article under a new id (title suffix) with its vectors until `target`."""
    records = store.records
    layout = store.index.layout or LEGACY_LAYOUT  # the copies' BM25 text as the originals'
    article_ids = [r[0] for r in records._query("SELECT id FROM articles WHERE state = 'done'")]
    have = records.counts()["chunks"]
    copy = 0
    while have < target_chunks:
        copy += 1
        for start in range(0, len(article_ids), 200):
            if have >= target_chunks:
                break
            batch = article_ids[start : start + 200]
            originals = [records.article(i) for i in batch]
            rows = records._query(
                f"SELECT id, article_id, position, start, end, text FROM chunks "
                f"WHERE article_id IN ({','.join('?' * len(batch))}) ORDER BY article_id, position",
                batch,
            )
            vectors = store.index.vectors([r[0] for r in rows])
            new_articles, new_chunks, ids, vecs, metas, texts = [], {}, [], [], [], []
            for original in originals:
                if original is None:
                    continue
                article = Article(
                    title=f"{original.title} (bản sao {copy})",
                    text=original.text,
                    path=f"bench-copy-{copy}",
                    date=original.date,
                    source=original.source,
                    source_name=original.source_name,
                )
                new_articles.append(article)
                new_chunks[article.id] = []
            by_original = {o.id: a for o, a in zip(originals, new_articles) if o is not None}
            for chunk_id, article_id, position, s, e, text in rows:
                article = by_original[article_id]
                chunk = Chunk(article.id, position, s, e, text)
                new_chunks[article.id].append(chunk)
                ids.append(chunk.id)
                texts.append(text)
                vecs.append(vectors[chunk_id])
                meta = {"article_id": article.id, "position": position, "start": s, "end": e}
                if article.source:
                    meta["source"] = article.source
                metas.append(meta)
            path = f"bench-copy-{copy}"
            records.begin_articles(path, new_articles, new_chunks, layout)
            store.index.upsert(ids, np.asarray(vecs, dtype=np.float32), metas, texts)
            records.mark_done(a.id for a in new_articles)
            have += len(ids)
        print(f"copy {copy}: {have} chunks", file=sys.stderr)
    return have


def sample_questions(path: Path, limit: int) -> list[str]:
    """`limit` questions spread evenly over the data set (every n-th)."""
    items = load_dataset(path).items
    step = max(1, len(items) // limit)
    return [i.question for i in items[::step]][:limit]


def warm_latencies(assistant: Assistant, questions: list[str]) -> dict[str, float]:
    for q in questions[:5]:
        assistant.ask(q)
    times = []
    for q in questions:
        # Every question pays its own embedding, as a new question would (the dense-only
        # pass asks the same questions after the hybrid one).
        assistant.store.embedder.clear_query_cache()
        t0 = time.perf_counter()
        assistant.ask(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "max_ms": round(times[-1], 1),
    }


def cold_start(store_dir: Path, question: str) -> dict[str, float]:
    hoidap = Path(sys.executable).parent / "hoidap"
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(
            [str(hoidap), "--store", str(store_dir), "ask", question],
            check=True,
            capture_output=True,
        )
        runs.append(time.perf_counter() - t0)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"median_s": round(statistics.median(runs), 2), "peak_rss_mb": round(peak_kb / 1024)}


def measure(store_dir: Path, questions: list[str]) -> dict[str, object]:
    settings = Settings.load().with_overrides(store={"store": store_dir})
    assistant = Assistant.from_settings(settings)
    stats = assistant.stats()
    hybrid = warm_latencies(assistant, questions)
    dense_settings = settings.with_overrides(assistant={"lexical_weight": 0.0})
    dense = Assistant(dense_settings, assistant.store)
    dense_only = warm_latencies(dense, questions)
    rules = Assistant(settings.with_overrides(assistant={"reader": False}), assistant.store)
    without_reader = warm_latencies(rules, questions)
    assistant.close()
    return {
        "articles": stats.articles,
        "chunks": stats.chunks,
        "questions": len(questions),
        "warm_hybrid": hybrid,
        "warm_dense_only": dense_only,
        "warm_rules_without_reader": without_reader,
        "warm_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cold_start": cold_start(store_dir, questions[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--questions-limit", type=int, default=200)
    parser.add_argument("--replicate-to", type=int, default=0)
    parser.add_argument("--work", type=Path, help="where the replicated copy goes")
    parser.add_argument(
        "--strip-diacritics",
        action="store_true",
        help="ask the questions without their marks (restored from the store's word counts)",
    )
    args = parser.parse_args()

    questions = sample_questions(args.questions, args.questions_limit)
    if args.strip_diacritics:
        questions = [strip_marks(q) for q in questions]
    store_dir = args.store
    if args.replicate_to:
        if not args.work:
            parser.error("--replicate-to needs --work")
        if args.work.exists():
            shutil.rmtree(args.work)
        shutil.copytree(args.store, args.work)
        store_dir = args.work
        settings = Settings.load().with_overrides(store={"store": store_dir})
        store = Store(settings.store)
        t0 = time.perf_counter()
        replicate(store, args.replicate_to)
        print(f"replicated in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        store.close()
    if args.strip_diacritics:
        # A store built before the word counts existed gets them at its next ingest; count now.
        store = Store(Settings.load().with_overrides(store={"store": store_dir}).store)
        store.records.ensure_word_forms()
        store.close()
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        **measure(store_dir, questions),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
