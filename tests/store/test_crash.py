"""A batch killed with SIGKILL midway leaves the store consistent; rerunning completes it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.chunk import chunk_article
from ingest.read import read_file
from ingest.settings import IngestSettings
from store.store import records_path

pytestmark = pytest.mark.slow


def make_articles(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        paragraphs = [
            f"Ngày {i % 28 + 1}-7, xã Ia Pa số {i} đã trồng {i * 10 + 7} cây xanh dọc các tuyến đường.",
            f"Theo ông Nguyễn Văn {chr(65 + i % 26)}, chương trình năm nay huy động {i + 3} tổ chức.",
            f"Kinh phí thực hiện khoảng {i * 3 + 1},5 tỷ đồng, trong đó ngân sách tỉnh hỗ trợ {i % 9 + 1}0%.",
            f"Đến cuối tháng {i % 12 + 1}, địa phương sẽ tổng kết và nhân rộng mô hình ra {i % 5 + 2} xã.",
            f"Người dân thôn {i % 7 + 1} góp {i + 12} ngày công, hiến {i % 4 + 1}00 m² đất làm đường.",
            f"Hội Phụ nữ xã nhận chăm sóc {i * 2 + 40} cây, Đoàn Thanh niên nhận {i * 3 + 25} cây.",
            f"Ông Trần Văn {chr(66 + i % 24)}, Chủ tịch UBND xã, cho biết mục tiêu là {i + 500} cây mỗi năm.",
            f"Năm {2015 + i % 8}, xã đã được công nhận đạt chuẩn nông thôn mới với {i % 19 + 1} tiêu chí.",
        ]
        rows.append(
            {"id": f"a{i}", "title": f"Trồng cây xanh ở xã số {i}", "text": "\n\n".join(paragraphs)}
        )
    return rows


def done_articles(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM articles WHERE state = 'done'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_midway_then_rerun_completes_without_duplicates(make_assistant, tmp_path):
    n = 80
    corpus = tmp_path / "news.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in make_articles(n)), encoding="utf-8"
    )
    assistant = make_assistant(batch_size=4)
    settings = assistant.settings
    db_path = records_path(settings.store)
    env = {
        **os.environ,
        "HOIDAP_STORE": str(settings.store.store_path),
        "HOIDAP_BATCH_SIZE": "4",  # flushes every 64 chunks, so the kill lands mid-batch
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ingest", str(corpus), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while done_articles(db_path) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = done_articles(db_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    assert 0 < killed_at < n, f"kill did not land midway ({killed_at} of {n} done)"

    report = assistant.ingest([corpus], progress=False)
    assert not report.failed
    assert report.count("added") + report.count("updated") == 1

    store = assistant.store
    expected = {
        c.id
        for a in read_file(corpus, IngestSettings()).articles
        for c in chunk_article(a, settings.ingest)
    }
    collection = store.client.get_collection(store.collection_name)
    stored = collection.get(include=[])["ids"]
    assert len(stored) == len(set(stored)) == len(expected), "duplicate or lost vectors"
    assert set(stored) == expected
    assert {r[0] for r in store.records._query("SELECT id FROM chunks")} == expected
    stats = assistant.stats()
    assert stats.articles == n and stats.pending == 0
    # Only the unfinished part was embedded again.
    assert report.chunks_embedded < len(expected)
