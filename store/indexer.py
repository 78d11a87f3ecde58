"""Incremental, crash-safe ingest: files in, chunk vectors and article records out.

Order of writes (why a `kill -9` at any point is harmless):
1. articles are recorded as `pending`, with their chunks, before any vector is written;
2. chunk vectors are upserted under ids derived from content (a redo overwrites, never duplicates);
3. articles are marked `done` once all their vectors are in;
4. only then are a changed file's old articles unlinked and deleted, and the file recorded with
   its digest. A run that dies before step 4 leaves the file unrecorded, so the next run redoes it.
New data is always written before old data is removed, so a crash never loses what was stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ingest.chunk import ChunkLayout, chunk_article
from ingest.errors import IngestError
from ingest.models import Article, Chunk
from ingest.read import file_digest, iter_files, read_file
from ingest.settings import IngestSettings
from store.chroma import VectorIndex
from store.docstore import DocStore, date_bounds
from store.report import FileOutcome, IngestReport

logger = logging.getLogger(__name__)

PROGRESS_STEP = 128  # chunks per model call; the model sorts by length within each call


@dataclass
class FileJob:
    """One changed file: the articles to embed and the ones only to link."""

    path: str
    digest: str
    status: str
    articles: list[Article]
    new: list[Article]
    chunks: dict[str, list[Chunk]]
    removed: set[str]
    problems: list[str] = field(default_factory=list)

    @property
    def article_ids(self) -> set[str]:
        return {a.id for a in self.articles}


def chunk_metadata(chunk: Chunk, article: Article) -> dict[str, Any]:
    """Flat scalar metadata Chroma can filter on (it rejects None values)."""
    meta: dict[str, Any] = {
        "article_id": chunk.article_id,
        "position": chunk.position,
        "start": chunk.start,
        "end": chunk.end,
    }
    lo, hi = date_bounds(article.date)
    if lo is not None:
        meta["date_from"], meta["date_to"] = lo, hi
    if article.source:
        meta["source"] = article.source
    return meta


class Indexer:
    """Runs one ingest against a record store and a vector index.

    Args:
        records: the SQLite record store.
        vectors: the vector index as opened for reading (enough to delete).
        open_vectors: returns the vector index for writing (called once, on the first vector,
            so a run with nothing new never loads the embedding model).
        embed: turns passages into L2-normalized vectors.
        settings: chunking and file-size settings.
        publish: with a Chroma server, puts finished articles on it, after their vectors and
            before they are marked done here (a crash in between only makes the next run
            redo them).
        retract: with a server, takes deleted articles off it before anything else is deleted.
    """

    def __init__(
        self,
        records: DocStore,
        vectors: VectorIndex,
        open_vectors: Callable[[], VectorIndex],
        embed: Callable[[list[str]], np.ndarray],
        settings: IngestSettings,
        *,
        flush_size: int = 512,
        progress: bool = True,
        publish: Callable[[list[str]], None] | None = None,
        retract: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.records = records
        # Chunks embedded per call: large enough for the model's length sorting to pay off,
        # small enough that an interrupted run loses little work.
        self.flush_size = flush_size
        self._open_vectors = open_vectors
        self._reader = vectors
        self._vectors: VectorIndex | None = None
        self._embed = embed
        self.settings = settings
        self.layout = ChunkLayout.of(settings)
        self.progress = progress
        self._publish = publish
        self._retract = retract

    def _mark_done(self, article_ids: list[str]) -> None:
        if self._publish is not None and article_ids:
            self._publish(article_ids)
        self.records.mark_done(article_ids)

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            self._vectors = self._open_vectors()
        return self._vectors

    def run(self, paths: list[Path], *, prune: bool = False) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        files, skipped = iter_files(paths)
        for path, reason in skipped:
            report.add(FileOutcome(str(path), "skipped", reason=reason))
        self._remove_orphans(report)
        jobs = list(self._plan(files, report))
        self._write(jobs, report)
        if prune:
            self._prune(report)
        report.seconds = time.perf_counter() - started
        return report

    # planning -------------------------------------------------------------------------------
    def _plan(self, files: list[Path], report: IngestReport) -> Iterator[FileJob]:
        planned: set[str] = set()
        bar = tqdm(files, desc="Reading", unit="file", disable=not self.progress, leave=False)
        for path in bar:
            key = str(path.resolve())
            try:
                digest = file_digest(path)
                previous = self.records.file_digest(key)
                if previous == digest:
                    n = len(self.records.articles_of_file(key))
                    report.add(FileOutcome(key, "unchanged", articles=n))
                    continue
                parsed = read_file(path, self.settings)
            except IngestError as e:
                report.add(FileOutcome(key, "failed", reason=str(e)))
                continue
            except OSError as e:
                report.add(FileOutcome(key, "failed", reason=f"{path}: {e.strerror or e}"))
                continue
            articles = list({a.id: a for a in parsed.articles}.values())
            done = self.records.done_ids(a.id for a in articles)
            new = [a for a in articles if a.id not in done and a.id not in planned]
            planned.update(a.id for a in new)
            old = self.records.articles_of_file(key)
            yield FileJob(
                path=key,
                digest=parsed.digest,
                status="updated" if previous is not None or old else "added",
                articles=articles,
                new=new,
                chunks={a.id: chunk_article(a, self.settings) for a in new},
                removed=old - {a.id for a in articles},
                problems=parsed.problems,
            )

    # writing --------------------------------------------------------------------------------
    def _write(self, jobs: list[FileJob], report: IngestReport) -> None:
        total = sum(len(c) for job in jobs for c in job.chunks.values())
        remaining: dict[str, int] = {}
        queue: list[tuple[Chunk, Article]] = []
        open_jobs: list[FileJob] = []
        bar = tqdm(
            total=total, desc="Embedding", unit="chunk", disable=not self.progress or not total
        )

        def flush(limit: int) -> None:
            part, queue[:] = queue[:limit], queue[limit:]
            part.sort(key=lambda item: len(item[0].text))  # less padding per model call
            texts = [c.text for c, _ in part]
            embedded = [self.layout.embedded_text(a, c) for c, a in part]
            pieces = []
            for i in range(0, len(texts), PROGRESS_STEP):  # keeps the bar moving on slow CPUs
                pieces.append(self._embed(embedded[i : i + PROGRESS_STEP]))
                bar.update(len(pieces[-1]))
            vectors = np.concatenate(pieces)
            self.vectors.upsert(
                [c.id for c, _ in part],
                vectors,
                [chunk_metadata(c, a) for c, a in part],
                texts,
            )
            finished = []
            for c, _ in part:
                remaining[c.article_id] -= 1
                if remaining[c.article_id] == 0:
                    finished.append(c.article_id)
            self._mark_done(finished)
            report.chunks_embedded += len(part)

        def finish_ready() -> None:
            still_open = []
            for job in open_jobs:
                if any(remaining.get(i, 0) for i in job.article_ids):
                    still_open.append(job)
                else:
                    self._finish(job, report)
            open_jobs[:] = still_open

        try:
            for job in jobs:
                self.records.begin_articles(job.path, job.new, job.chunks, self.layout)
                self.records.link(job.path, job.article_ids)
                empty = [a.id for a in job.new if not job.chunks[a.id]]
                self._mark_done(empty)
                for a in job.new:
                    remaining[a.id] = len(job.chunks[a.id])
                    queue.extend((c, a) for c in job.chunks[a.id])
                open_jobs.append(job)
                while len(queue) >= self.flush_size:
                    flush(self.flush_size)
                    finish_ready()
                finish_ready()
            while queue:
                flush(self.flush_size)
            finish_ready()
        finally:
            bar.close()

    def _finish(self, job: FileJob, report: IngestReport) -> None:
        gone = self.records.unlink(job.path, job.removed)
        self._delete(gone, report)
        self.records.record_file(job.path, job.digest, len(job.articles))
        report.articles_added += len(job.new)
        report.add(
            FileOutcome(job.path, job.status, articles=len(job.articles), problems=job.problems)  # type: ignore[arg-type]
        )

    def _delete(self, article_ids: set[str], report: IngestReport) -> None:
        """Server records first, then vectors, local records last.

        A crash in between leaves local records (journaled as unlinked with a server) from
        which the next run redoes the delete.
        """
        if not article_ids:
            return
        ids = sorted(article_ids)
        if self._retract is not None:
            self._retract(ids)
        (self._vectors or self._reader).delete_articles(ids)
        self.records.delete_articles(ids)
        report.articles_removed += len(ids)

    def _remove_orphans(self, report: IngestReport) -> None:
        orphans = self.records.orphan_ids()
        if orphans:
            logger.info("removing %d articles left unlinked by an interrupted run", len(orphans))
            self._delete(orphans, report)

    def _prune(self, report: IngestReport) -> None:
        for path in self.records.linked_paths():
            if Path(path).exists():
                continue
            gone = self.records.forget_file(path)
            self._delete(gone, report)
            report.add(FileOutcome(path, "removed", articles=len(gone), reason="file is gone"))
