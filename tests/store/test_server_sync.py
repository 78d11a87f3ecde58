"""Several processes, one Chroma server: the server is the truth, each store folder a cache.

Every `hoidap` call here is a separate process with its own `--store` folder and the same
`--chroma-url` (a real `chroma run` server, see `conftest.chroma_server`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from ingest.chunk import chunk_article
from ingest.read import read_file
from ingest.settings import IngestSettings
from store.store import records_path

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
ARTICLES = REPO / "tests" / "fixtures" / "articles"
QUESTION = "How many party members were admitted by 30 June?"
COFFEE = "Toàn tỉnh có bao nhiêu ha cà phê được tái canh trong năm?"


def hoidap(
    store: Path, url: str, collection: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """One CLI call in its own process; fails the test with its stderr when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--store", str(store), "--chroma-url", url, *args],
        env={**os.environ, "HOIDAP_COLLECTION": collection, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def ask(store: Path, url: str, collection: str, question: str) -> dict:
    return json.loads(ok(hoidap(store, url, collection, "ask", "--json", question)).stdout)


def stats(store: Path, url: str, collection: str) -> dict[str, str]:
    out = ok(hoidap(store, url, collection, "stats")).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def cited(answer: dict) -> list[tuple[str, int, int]]:
    return [(c["article_id"], c["start"], c["end"]) for c in answer["citations"]]


def server_counts(url: str, collection: str) -> tuple[int, int, list[str]]:
    """(chunks, articles, article ids) as the server holds them, read with Chroma's client."""
    u = urlparse(url)
    client = chromadb.HttpClient(
        host=u.hostname, port=u.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    names = {c.name for c in client.list_collections()}
    if f"{collection}_articles" not in names:
        return 0, 0, []
    chunks = client.get_collection(f"{collection}_chunks").count()
    ids = client.get_collection(f"{collection}_articles").get(include=[])["ids"]
    return chunks, len(ids), ids


def news_rows(prefix: str, n: int) -> list[dict[str, str]]:
    """Distinct articles of a few chunks each (numbers differ, so no two share an id)."""
    rows = []
    for i in range(n):
        paragraphs = [
            f"Ngày {i % 28 + 1}-7, huyện {prefix} số {i} đã làm mới {i * 10 + 7} km đường giao thông.",
            f"Theo ông Lê Văn {chr(65 + i % 26)}, công trình {prefix} huy động {i + 3} doanh nghiệp.",
            f"Kinh phí khoảng {i * 3 + 1},5 tỷ đồng, trong đó ngân sách tỉnh hỗ trợ {i % 9 + 1}0%.",
            f"Đến cuối tháng {i % 12 + 1}, huyện {prefix} sẽ tổng kết và nhân rộng ra {i % 5 + 2} xã.",
            f"Người dân thôn {i % 7 + 1} góp {i + 12} ngày công, hiến {i % 4 + 1}00 m² đất.",
        ]
        rows.append(
            {
                "id": f"{prefix}-{i}",
                "title": f"Làm đường ở huyện {prefix} số {i}",
                "text": "\n\n".join(paragraphs),
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def expected_chunks(*paths: Path) -> int:
    settings = IngestSettings()
    return sum(
        len(chunk_article(a, settings)) for p in paths for a in read_file(p, settings).articles
    )


@pytest.fixture
def server(chroma_server: str) -> tuple[str, str]:
    """The shared server and a collection prefix of this test's own."""
    return chroma_server, f"t{uuid.uuid4().hex[:10]}"


def test_ingest_through_one_process_answers_in_another_and_in_a_new_replica(server, tmp_path):
    url, collection = server
    a, b, c = tmp_path / "A", tmp_path / "B", tmp_path / "C"
    ok(hoidap(a, url, collection, "ingest", "--quiet", str(SAMPLE)))
    from_a = ask(a, url, collection, QUESTION)
    from_b = ask(b, url, collection, QUESTION)
    assert not from_a["abstained"] and "787" in from_a["text"]
    assert (from_b["text"], cited(from_b)) == (from_a["text"], cited(from_a))
    article_id = from_b["citations"][0]["article_id"]
    shown = ok(hoidap(b, url, collection, "article", article_id, "--json")).stdout
    assert "787 đảng viên" in json.loads(shown)["text"]

    # A replica joining later, on an empty folder, answers like the others.
    assert not c.exists()
    from_c = ask(c, url, collection, QUESTION)
    assert (from_c["text"], cited(from_c)) == (from_a["text"], cited(from_a))
    assert (
        stats(c, url, collection)["chunks"].strip() == stats(a, url, collection)["chunks"].strip()
    )

    # Its cache is only a cache: deleting it loses nothing.
    shutil.rmtree(b)
    assert cited(ask(b, url, collection, QUESTION)) == cited(from_a)


def test_prune_through_one_process_is_gone_in_another(server, tmp_path):
    url, collection = server
    a, b = tmp_path / "A", tmp_path / "B"
    files = tmp_path / "files"
    files.mkdir()
    for name in ("seed_ca_phe_gia_lai.txt", "truong_hoc_kon_tum.txt"):
        shutil.copy(ARTICLES / name, files / name)
    ok(hoidap(a, url, collection, "ingest", "--quiet", str(files)))
    before = ask(b, url, collection, COFFEE)
    assert not before["abstained"], before
    coffee_id = before["citations"][0]["article_id"]
    assert stats(b, url, collection)["articles"].strip() == "2"

    (files / "seed_ca_phe_gia_lai.txt").unlink()
    report = ok(hoidap(a, url, collection, "ingest", "--prune", "--json", str(files))).stdout
    assert '"removed"' in report
    assert stats(b, url, collection)["articles"].strip() == "1"
    gone = hoidap(b, url, collection, "article", coffee_id)
    assert gone.returncode == 1 and "No stored article" in gone.stderr
    after = ask(b, url, collection, COFFEE)
    assert coffee_id not in {c["article_id"] for c in after["citations"]}
    chunks, articles, _ = server_counts(url, collection)
    assert articles == 1 and chunks == expected_chunks(files / "truong_hoc_kon_tum.txt")


def test_a_running_process_sees_another_ingest_and_prune_within_5_seconds(
    server, tmp_path, make_assistant
):
    url, collection = server
    running = make_assistant(chroma_url=url, collection=collection, sync_interval=1.0)
    assert running.ask(QUESTION).abstained  # the server is empty
    files = tmp_path / "files"
    shutil.copytree(SAMPLE, files)

    def seen_within(seconds: float, want: bool) -> float:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if bool(running.ask(QUESTION).citations) == want:
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"not seen within {seconds} s")

    ok(hoidap(tmp_path / "A", url, collection, "ingest", "--quiet", str(files)))
    seen_within(5.0, want=True)
    assert "787" in running.ask(QUESTION).text
    shutil.rmtree(files)
    files.mkdir()
    ok(hoidap(tmp_path / "A", url, collection, "ingest", "--quiet", "--prune", str(files)))
    seen_within(5.0, want=False)
    assert running.stats().articles == 0


def test_two_concurrent_ingests_store_every_article_once(server, tmp_path):
    url, collection = server
    first = write_jsonl(tmp_path / "first.jsonl", news_rows("Ia Grai", 12))
    second = write_jsonl(tmp_path / "second.jsonl", news_rows("Chư Păh", 12))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "--store", str(tmp_path / name)]
            + ["--chroma-url", url, "ingest", "--quiet", str(path)],
            env={**os.environ, "HOIDAP_COLLECTION": collection, "HOIDAP_BATCH_SIZE": "2"},
            stderr=subprocess.PIPE,
        )
        for name, path in (("A", first), ("B", second))
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-3000:]
    chunks, articles, ids = server_counts(url, collection)
    assert articles == len(set(ids)) == 24
    assert chunks == expected_chunks(first, second)
    for folder in ("A", "B", "C"):  # both writers and a new replica see all of it
        seen = stats(tmp_path / folder, url, collection)
        assert seen["articles"].strip() == "24"
        assert seen["chunks"].strip() == str(chunks)


def done_on_server(url: str, collection: str) -> int:
    try:
        return server_counts(url, collection)[1]
    except Exception:  # the collections are being created
        return 0


def test_kill_9_mid_ingest_then_rerun_completes_without_duplicates(server, tmp_path):
    url, collection = server
    n = 40
    corpus = write_jsonl(tmp_path / "news.jsonl", news_rows("Đak Đoa", n))
    # Batches of 1 flush every 16 chunks: the kill has two flushes to land in after the first
    # (with 2, the 8 chunks after the first 32 were sometimes published before it landed).
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "--store", str(tmp_path / "A")]
        + ["--chroma-url", url, "ingest", "--quiet", str(corpus)],
        env={**os.environ, "HOIDAP_COLLECTION": collection, "HOIDAP_BATCH_SIZE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    while done_on_server(url, collection) == 0 and proc.poll() is None:
        assert time.monotonic() < deadline, "the ingest published nothing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-3000:]
    killed_at = done_on_server(url, collection)
    assert 0 < killed_at < n, f"kill did not land midway ({killed_at} of {n} published)"

    # Another process's ingest completes it from what the server holds.
    ok(hoidap(tmp_path / "B", url, collection, "ingest", "--quiet", str(corpus)))
    chunks, articles, ids = server_counts(url, collection)
    assert articles == len(set(ids)) == n
    assert chunks == expected_chunks(corpus)
    # The killed process's own rerun embeds nothing more, and every cache agrees.
    rerun = json.loads(
        ok(hoidap(tmp_path / "A", url, collection, "ingest", "--json", str(corpus))).stdout
    )
    assert rerun["chunks_embedded"] == 0, rerun
    assert server_counts(url, collection)[:2] == (chunks, articles)
    for folder in ("A", "B", "C"):
        seen = stats(tmp_path / folder, url, collection)
        assert (seen["articles"].strip(), seen["chunks"].strip()) == (str(n), str(chunks))


def test_a_reset_through_one_process_empties_the_others(server, tmp_path):
    url, collection = server
    a, b = tmp_path / "A", tmp_path / "B"
    ok(hoidap(a, url, collection, "ingest", "--quiet", str(SAMPLE)))
    assert "787" in ask(b, url, collection, QUESTION)["text"]
    ok(hoidap(a, url, collection, "reset", "--yes"))
    assert stats(b, url, collection)["articles"].strip() == "0"
    assert ask(b, url, collection, QUESTION)["abstained"]
    ok(hoidap(b, url, collection, "ingest", "--quiet", str(SAMPLE)))  # and it fills again
    assert "787" in ask(a, url, collection, QUESTION)["text"]


def test_a_cache_made_before_the_server_held_articles_publishes_them(
    server, tmp_path, make_assistant
):
    """Older versions kept article records only in the ingesting process's folder."""
    url, collection = server
    older = make_assistant(chroma_url=url, collection=collection)
    assert not older.ingest([SAMPLE], progress=False).failed
    cache = records_path(older.settings.store)
    older.close()
    # What such a store looks like: chunks on the server, articles only in the local file.
    u = urlparse(url)
    client = chromadb.HttpClient(
        host=u.hostname, port=u.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    for suffix in ("articles", "deleted", "writers"):
        client.delete_collection(f"{collection}_{suffix}")
    with sqlite3.connect(cache) as db:
        db.execute("DROP TABLE synced")
        db.execute("DROP TABLE unlinked")
        db.execute("DELETE FROM meta WHERE key LIKE 'server_%'")
    assert ask(tmp_path / "B", url, collection, QUESTION)["abstained"]

    reopened = make_assistant(chroma_url=url, store=cache.parents[2], collection=collection)
    assert reopened.stats().articles == 1
    assert "787" in ask(tmp_path / "B", url, collection, QUESTION)["text"]


def test_an_embedded_store_keeps_its_schema(make_assistant):
    """Without a server nothing changes on disk: no server tables, no server collections."""
    assistant = make_assistant()
    assert not assistant.ingest([SAMPLE], progress=False).failed
    with sqlite3.connect(records_path(assistant.settings.store)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not tables & {"synced", "unlinked"}
    names = {c.name for c in assistant.store.client.list_collections()}
    assert names == {f"{assistant.settings.store.collection}_chunks"}
