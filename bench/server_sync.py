"""A Chroma server as the source of truth: cache rebuild, catch-up, and warm asks through it.

Usage:
    python bench/server_sync.py --store DIR --work DIR2 --questions QA.json
                                [--questions-limit 100] [--new-chunks 1000]

DIR, an embedded store, is only read: it is copied to DIR2/embedded first. Then, in one run:
- a `chroma run` server on a free port is loaded with the copy's vectors, chunk texts and
  articles (copied, not re-embedded: what ingests through the server would have written);
- rebuild: a store opened on an empty folder against the server, until its cache (articles,
  chunks, BM25 index, word-form counts) is complete;
- check: a refresh when nothing changed (what a running app pays every `sync_interval`);
- catch-up: another writer adds articles of about `--new-chunks` chunks (copies of existing
  articles under new ids, with their vectors), and the time of the replica's next refresh;
  then the writer deletes them, and the time again; once right after the load, once
  `store.sync.MARGIN` seconds later (when the replica no longer re-reads the load's revisions);
- warm ask latency, the same questions alternately through the embedded copy and through the
  server replica (one embedding model and reader for both), and how many answers agree.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings

from assistant.core import Assistant
from assistant.evaluate import load_dataset
from assistant.settings import Settings
from ingest.models import Article, Chunk
from store.chroma import DIM_KEY, MODEL_KEY, make_client
from store.docstore import DocStore
from store.embedder import Embedder
from store.settings import StoreSettings
from store.store import Store, records_path
from store.sync import MARGIN, ServerRecords

PAGE = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(path.parent / "server.log", "wb")  # noqa: SIM115  (lives as long as the server)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(path)]
        + ["--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Chroma server did not start; see server.log") from None
            time.sleep(0.2)


def load_server(embedded: Path, url: str, prefix: str) -> dict[str, float]:
    """Copy an embedded store's chunks (vectors, texts, metadata) and articles to the server."""
    settings = ChromaSettings(anonymized_telemetry=False)
    src = make_client(StoreSettings(store=embedded))  # the settings the store opens it with
    source = src.get_collection(f"{prefix}_chunks", embedding_function=None)
    host, port = url.rsplit(":", 1)
    dst = chromadb.HttpClient(host=host.split("//")[1], port=int(port), settings=settings)
    meta = source.metadata or {}
    target = dst.create_collection(
        f"{prefix}_chunks",
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={MODEL_KEY: meta[MODEL_KEY], DIM_KEY: meta[DIM_KEY]},
    )
    t0 = time.perf_counter()
    total = source.count()
    for offset in range(0, total, PAGE):
        got = source.get(
            limit=PAGE, offset=offset, include=["embeddings", "metadatas", "documents"]
        )
        target.upsert(
            ids=got["ids"],
            embeddings=got["embeddings"],
            metadatas=got["metadatas"],
            documents=got["documents"],
        )
        print(f"\rchunks {offset + len(got['ids'])}/{total}", end="", file=sys.stderr)
    chunks_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    records = DocStore(embedded / f"{prefix}.records.sqlite3")
    server = ServerRecords(dst, prefix)
    for batch in records.done_articles():
        server.publish(batch)
    records.close()
    print(file=sys.stderr)
    return {"chunks_s": round(chunks_s, 1), "articles_s": round(time.perf_counter() - t0, 1)}


def copies(records: DocStore, want: int) -> list[tuple[Article, list, list[str]]]:
    """Articles of about `want` chunks, as new articles (a title suffix gives a new id)."""
    out, n = [], 0
    for batch in records.done_articles():
        for stored, count in batch:
            if n >= want:
                return out
            article = Article(
                title=f"{stored.title} (bản sao)",
                text=stored.text,
                path="bench://copy",
                date=stored.date,
                source=stored.source,
                source_name=stored.source_name,
                author=stored.author,
                url=stored.url,
                external_id=None,
                captions=stored.captions,
                extra=stored.extra,
            )
            rows = records._query(
                "SELECT id, position, start, end FROM chunks WHERE article_id = ? "
                "ORDER BY position",
                (stored.id,),
            )
            out.append((article, rows, [r[0] for r in rows]))
            n += count
    return out


def write_copies(url: str, prefix: str, items: list) -> tuple[int, list[str]]:
    """Another process's ingest of the copies: chunks with their vectors, then the articles."""
    settings = ChromaSettings(anonymized_telemetry=False)
    host, port = url.rsplit(":", 1)
    client = chromadb.HttpClient(host=host.split("//")[1], port=int(port), settings=settings)
    chunks = client.get_collection(f"{prefix}_chunks", embedding_function=None)
    n = 0
    for article, rows, old_ids in items:
        got = chunks.get(ids=old_ids, include=["embeddings", "metadatas", "documents"])
        columns = (got[k] for k in ("ids", "embeddings", "metadatas", "documents"))
        by_id = {i: (e, m, d) for i, e, m, d in zip(*columns)}
        ids, vecs, metas, docs = [], [], [], []
        for old, (_, position, start, end) in zip(old_ids, rows):
            e, m, d = by_id[old]
            ids.append(Chunk(article.id, position, start, end, d).id)
            vecs.append(e)
            metas.append({**m, "article_id": article.id})
            docs.append(d)
        chunks.upsert(ids=ids, embeddings=vecs, metadatas=metas, documents=docs)
        n += len(ids)
    ServerRecords(client, prefix).publish((a, len(rows)) for a, rows, _ in items)
    return n, [a.id for a, _, _ in items]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def warm_asks(embedded: Assistant, served: Assistant, questions: list[str]) -> dict:
    """Alternate the two, question by question, so both see the same machine load."""
    for q in questions[:5]:
        embedded.ask(q)
        served.ask(q)
    times: dict[str, list[float]] = {"embedded": [], "server": []}
    same_text = same_passages = same_articles = 0
    for q in questions:
        answers = []
        for name, assistant in (("embedded", embedded), ("server", served)):
            assistant.store.embedder.clear_query_cache()
            t0 = time.perf_counter()
            answers.append(assistant.ask(q))
            times[name].append((time.perf_counter() - t0) * 1000)
        a, b = answers
        same_text += a.text == b.text
        # Replicated stores hold the same passage under several article ids: which copy is
        # cited is a tie, broken by index order, which differs between the two indexes.
        same_passages += [(c.passage, c.start) for c in a.citations] == [
            (c.passage, c.start) for c in b.citations
        ]
        same_articles += [c.article_id for c in a.citations] == [c.article_id for c in b.citations]
    out: dict = {
        "questions": len(questions),
        "same_text": same_text,
        "same_cited_passages": same_passages,
        "same_cited_article_ids": same_articles,
    }
    for name, values in times.items():
        values.sort()
        out[name] = {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(values[int(0.95 * (len(values) - 1))], 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="embedded store (only read)")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (emptied)")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--questions-limit", type=int, default=100)
    parser.add_argument("--new-chunks", type=int, default=1000)
    args = parser.parse_args()

    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    embedded_dir = args.work / "embedded"
    shutil.copytree(args.store, embedded_dir)
    base = Settings.load()
    prefix = base.store.collection
    proc, url = start_server(args.work / "server")
    result: dict = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}",
    }
    try:
        result["load"] = load_server(embedded_dir, url, prefix)
        served_settings = base.with_overrides(
            store={"store": args.work / "replica", "chroma_url": url}
        )
        stores: list[Store] = []
        result["rebuild_s"] = round(timed(lambda: stores.append(Store(served_settings.store))), 1)
        replica = stores[0]
        stats = replica.stats()
        result["store"] = {"articles": stats.articles, "chunks": stats.chunks}
        cache = records_path(served_settings.store)
        result["cache_mb"] = round(cache.stat().st_size / 2**20)
        checks = sorted(timed(lambda: replica.refresh(progress=False)) for _ in range(20))
        result["check_unchanged_ms"] = round(statistics.median(checks) * 1000, 1)

        source = DocStore(embedded_dir / f"{prefix}.records.sqlite3")
        items = copies(source, args.new_chunks)
        source.close()
        # Right after the bulk load, the replica's window still holds the load's revisions;
        # once MARGIN seconds have passed, only the new ones (the usual case).
        for label, wait in (("catch_up_after_load", 0.0), ("catch_up", MARGIN + 1)):
            time.sleep(wait)
            n, ids = write_copies(url, prefix, items)
            added = timed(lambda: replica.refresh(progress=False))
            grown = replica.stats()
            ServerRecords(replica.client, prefix).retract(ids)
            replica.index.delete_articles(ids)
            removed = timed(lambda: replica.refresh(progress=False))
            result[label] = {
                "articles": len(ids),
                "chunks": n,
                "added_s": round(added, 2),
                "seen_chunks": grown.chunks - stats.chunks,
                "deleted_s": round(removed, 2),
                "left_chunks": replica.stats().chunks - stats.chunks,
            }

        print(json.dumps(result), file=sys.stderr)
        items_q = load_dataset(args.questions).items
        step = max(1, len(items_q) // args.questions_limit)
        questions = [i.question for i in items_q[::step]][: args.questions_limit]
        embedder = Embedder.from_settings(base.store)
        embedded_settings = base.with_overrides(store={"store": embedded_dir})
        local = Assistant(embedded_settings, Store(embedded_settings.store, embedder=embedder))
        replica.close()
        served_store = Store(served_settings.store, embedder=embedder)
        served = Assistant(served_settings, served_store, reader=local.reader)
        result["warm_ask"] = warm_asks(local, served, questions)
        local.close()
        served.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
