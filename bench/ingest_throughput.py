"""Ingest throughput against raw torch fp32 `SentenceTransformer.encode` on the same chunks.

Usage: python bench/ingest_throughput.py CORPUS.jsonl [--articles N] [--batch-size 32]
       [--precision auto|bf16|fp32]

Both sides embed the identical chunk texts (with the `passage: ` prefix) with the same model and
batch size; the pipeline side also reads, cleans, chunks and writes to a fresh Chroma store
and SQLite records, in the configured precision (``auto``: bf16 where the CPU has it). The ratio
pipeline/raw (chunks per second) is what issues 5 (≥ 0.85 in fp32) and 11 (≥ 3.0) bound. It also
times one question's embedding (the median of 40, one thread, as `hoidap ask` embeds it) in
fp32 and in the pipeline's precision.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from assistant.settings import Settings
from ingest.chunk import chunk_article
from ingest.read import read_file
from store.embedder import Embedder
from store.model import resolve_model
from store.store import Store

QUESTIONS = [
    "How many party members were admitted by 30 June?",
    "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?",
    "Giá cà phê hôm nay ở Đắk Lắk là bao nhiêu?",
    "Who chaired the conference?",
]


def question_ms(embedder: Embedder) -> float:
    """Median milliseconds to embed one (uncached) question."""
    times = []
    for i in range(48):
        embedder.clear_query_cache()
        t0 = time.perf_counter()
        embedder.embed_queries([QUESTIONS[i % len(QUESTIONS)]])
        if i >= 8:  # warm-up
            times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--articles", type=int, default=300, help="first N articles (0 = all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    args = parser.parse_args()

    settings = Settings.load().with_overrides(
        store={"batch_size": args.batch_size, "precision": args.precision}
    )
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset.jsonl"
        lines = args.corpus.read_text(encoding="utf-8").splitlines()
        subset.write_text("\n".join(lines[: args.articles or None]) + "\n", encoding="utf-8")
        articles = read_file(subset, settings.ingest).articles
        texts = [c.text for a in articles for c in chunk_article(a, settings.ingest)]
        model_path = resolve_model(settings.store)
        prefix = settings.store.effective_passage_prefix

        model = SentenceTransformer(model_path, device="cpu")
        model.encode([prefix + t for t in texts[:64]], batch_size=args.batch_size)  # warm-up
        t0 = time.perf_counter()
        model.encode(
            [prefix + t for t in texts], batch_size=args.batch_size, normalize_embeddings=True
        )
        raw_seconds = time.perf_counter() - t0
        del model

        store_settings = settings.store.model_copy(update={"store": Path(tmp) / "store"})
        store = Store(store_settings)
        store.embedder.embed_passages(texts[:64])  # same warm-up, model loaded outside the timing
        t0 = time.perf_counter()
        report = store.ingest([subset], settings.ingest, progress=False)
        pipeline_seconds = time.perf_counter() - t0
        assert report.chunks_embedded == len(texts), (report.chunks_embedded, len(texts))
        precision = store.embedder.precision
        query_ms = question_ms(store.embedder)
        fp32 = Embedder.from_settings(store_settings.model_copy(update={"precision": "fp32"}))
        query_fp32_ms = question_ms(fp32)

    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"{platform.python_version()}",
        "articles": len(articles),
        "chunks": len(texts),
        "chunk_size": settings.ingest.chunk_size,
        "batch_size": args.batch_size,
        "pipeline_precision": precision,
        "raw_encode_chunks_per_s": round(len(texts) / raw_seconds, 2),
        "pipeline_chunks_per_s": round(len(texts) / pipeline_seconds, 2),
        "ratio": round(raw_seconds / pipeline_seconds, 3),
        "question_ms_fp32": round(query_fp32_ms, 2),
        f"question_ms_{precision}": round(query_ms, 2),
        "question_ratio": round(query_ms / query_fp32_ms, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
