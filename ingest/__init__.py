"""Files -> cleaned articles -> chunks with exact offsets; the first layer of hoidap."""

from __future__ import annotations

from ingest.chunk import chunk_article, split_sentences
from ingest.clean import clean_text, fold_diacritics, normalize_query
from ingest.errors import IngestError, UsageError
from ingest.models import Article, Chunk
from ingest.read import ParsedFile, file_digest, iter_files, read_file
from ingest.settings import IngestSettings

__all__ = [
    "Article",
    "Chunk",
    "IngestError",
    "IngestSettings",
    "ParsedFile",
    "UsageError",
    "chunk_article",
    "clean_text",
    "file_digest",
    "fold_diacritics",
    "iter_files",
    "normalize_query",
    "read_file",
    "split_sentences",
]
