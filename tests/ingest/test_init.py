from __future__ import annotations

import ingest


def test_public_api_is_pinned():
    assert sorted(ingest.__all__) == [
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
    for name in ingest.__all__:
        assert getattr(ingest, name) is not None


def test_ingest_imports_nothing_above_it():
    import ast
    from pathlib import Path

    for path in Path(ingest.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"store", "assistant", "app"}, (path, name)
