"""Assistants over real stores seeded with the sample article (real model, real reader)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core import Assistant
from assistant.settings import Settings
from store.store import Store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def make_seeded(embedder, reader, ranker):
    """`make_seeded(home, paths)`: an Assistant over a fresh store in `home` holding `paths`."""

    def make(home: Path, paths: list[Path]) -> Assistant:
        settings = Settings.load().with_overrides(store={"store": home / "store"})
        a = Assistant(
            settings, Store(settings.store, embedder=embedder), reader=reader, ranker=ranker
        )
        a.ingest(paths, progress=False)
        return a

    return make


@pytest.fixture(scope="module")
def seeded(make_seeded, tmp_path_factory):
    """The sample article alone."""
    a = make_seeded(tmp_path_factory.mktemp("home"), [REPO / "data" / "sample"])
    yield a
    a.close()
