"""Shared fixtures: real model, real stores, isolated data folders."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ARTICLES = FIXTURES / "articles"
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own data folder; the model cache stays shared (it is built once)."""
    home = tmp_path / "hoidap-home"
    monkeypatch.setenv("HOIDAP_HOME", str(home))
    for var in ("HOIDAP_STORE", "HOIDAP_CHROMA_URL", "HOIDAP_MODEL", "HOIDAP_LLM"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def e5_model_path() -> Path:
    """The real offline default model, built into the user cache on first use."""
    from store.model import build_default_model
    from store.settings import StoreSettings

    return build_default_model(StoreSettings().cache_dir)


@pytest.fixture(scope="session")
def embedder(e5_model_path: Path):
    """One loaded model for the whole run (loading takes seconds)."""
    from store.embedder import Embedder
    from store.settings import StoreSettings

    return Embedder.from_settings(StoreSettings())


@pytest.fixture(scope="session")
def reader(e5_model_path: Path):
    """The shipped reader in the precision users get by default, loaded once for the run."""
    from assistant.reading.reader import Reader
    from store.bert import resolve_precision
    from store.settings import StoreSettings

    return Reader(e5_model_path, precision=resolve_precision(StoreSettings().precision))


@pytest.fixture(scope="session")
def ranker(e5_model_path: Path, reader):
    """The shipped passage ranker on the reader's lower layers, as `Assistant` loads it."""
    from assistant.reading.ranker import PassageRanker

    return PassageRanker(e5_model_path, precision=reader.precision, reader=reader)


@pytest.fixture
def make_assistant(embedder, reader, ranker, tmp_path: Path):
    """Build Assistants over fresh stores that share the loaded model."""
    from assistant.core import Assistant
    from assistant.settings import Settings
    from store.store import Store

    made = []

    def make(**store_overrides):
        settings = Settings.load().with_overrides(
            store={"store": tmp_path / f"store{len(made)}", **store_overrides}
        )
        assistant = Assistant(
            settings, Store(settings.store, embedder=embedder), reader=reader, ranker=ranker
        )
        made.append(assistant)
        return assistant

    yield make
    for assistant in made:
        assistant.close()


def write_seed_article(
    folder: Path,
    name: str,
    body: str,
    *,
    date: str = "2022-07",
    source: str = "GLO",
    author: str = "NGUYỄN VĂN A",
) -> Path:
    """An article in the archive's own format: header line, body paragraphs, byline."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f" date {date} ({source})- {body}\n\n{author}\n", encoding="utf-8")
    return path


@pytest.fixture
def write_article():
    """`write_article(folder, name, body, date=..., source=..., author=...) -> Path`."""
    return write_seed_article


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(name="free_port", scope="session")
def free_port_fixture():
    """`free_port() -> int`: a loopback port nobody listens on now."""
    return free_port


@pytest.fixture(scope="module")
def served(embedder, reader, ranker, tmp_path_factory):
    """The real app on a free loopback port over a store holding the sample article.

    Yields (url, assistant); one app per test module.
    """
    from app import build_ui, launch
    from assistant.core import Assistant
    from assistant.settings import Settings
    from assistant.ui.settings import UiSettings
    from store.store import Store

    home = tmp_path_factory.mktemp("app-home")
    settings = Settings.load().with_overrides(store={"home": home, "store": home / "store"})
    assistant = Assistant(
        settings, Store(settings.store, embedder=embedder), reader=reader, ranker=ranker
    )
    assert not assistant.ingest([SAMPLE], progress=False).failed
    ui = UiSettings(host="127.0.0.1", port=free_port(), auth=None)
    demo = build_ui(assistant, ui)
    url = launch(demo, ui, block=False)
    yield url, assistant
    demo.close()
    assistant.close()
