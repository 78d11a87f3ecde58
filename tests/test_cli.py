"""The installed `hoidap` command, run as a user would (real processes, real store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOIDAP = str(Path(sys.executable).parent / "hoidap")

pytestmark = pytest.mark.slow


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOIDAP, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, e5_model_path) -> Path:
    store = tmp_path_factory.mktemp("cli") / "store"
    result = run("--store", str(store), "ingest", str(REPO / "data" / "sample"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout
    return store


def test_ingest_reports_bad_files_and_exits_non_zero(tmp_path, e5_model_path):
    store = tmp_path / "store"
    result = run("--store", str(store), "ingest", str(REPO / "tests" / "fixtures" / "articles"))
    assert result.returncode == 1
    assert "failed:" in result.stderr and "empty.txt" in result.stderr
    assert "Traceback" not in result.stderr
    assert "3 failed" in result.stdout
    again = run("--store", str(store), "ingest", "-q", "--json", str(REPO / "tests" / "fixtures"))
    report = json.loads(again.stdout)
    assert report["summary"]["unchanged"] >= 9 and report["chunks_embedded"] == 0


def test_stats(store_dir):
    result = run("--store", str(store_dir), "stats", "--json")
    assert result.returncode == 0
    stats = json.loads(result.stdout)
    assert stats["articles"] == 1 and stats["chunks"] > 0
    assert stats["model"] == "multilingual-e5-small" and stats["dimension"] == 384


def test_ask_json_and_batch(store_dir, tmp_path):
    result = run(
        "--store",
        str(store_dir),
        "ask",
        "--json",
        "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?",
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "787" in answer["text"] and answer["citations"][0]["n"] == 1

    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"id": "q1", "question": "How many party members were admitted by 30 June?"})
        + "\n"
        + json.dumps(
            {
                "id": "q2",
                "question": "Còn bao nhiêu đảng viên bị kỷ luật?",
                "history": [["Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", "787"]],
            },
            ensure_ascii=False,
        )
        + "\nnot json\n",
        encoding="utf-8",
    )
    result = run("--store", str(store_dir), "ask", "--batch", str(batch))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x.get("id") for x in lines] == ["q1", "q2", None]
    assert "787" in lines[0]["answer"] and "129" in lines[1]["answer"]
    assert lines[0]["latency_ms"] > 0 and "error" in lines[2]
    assert f"{batch}:3" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("ingest", "/no/such/path"), {}, "No such file or folder"),
        (("stats",), {"HOIDAP_CHUNKSIZE": "5"}, "Unknown setting"),
        (("ask", "x", "--since", "July"), {}, "Invalid since date"),
        (("reset",), {}, "--yes"),
        (("--model", "other/model", "stats"), {}, "hoidap reset"),
    ],
)
def test_user_errors_are_one_line_without_traceback(store_dir, args, env, message):
    result = run("--store", str(store_dir), *args, env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
