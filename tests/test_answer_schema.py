"""One answer object everywhere: docs/API.md's tables, `Answer.to_dict`, and the four surfaces.

The surfaces are `hoidap ask --json`, a `hoidap ask --batch` line, the chain's dict and `/ask`;
the slow test asks each the same question over the same store and compares their shapes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.models import Answer, Citation, Generation, Passage

REPO = Path(__file__).resolve().parents[1]
API_MD = REPO / "docs" / "API.md"
HOIDAP = str(Path(sys.executable).parent / "hoidap")
Q_JUNE = "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
BATCH_EXTRA = {"id", "latency_ms"}  # what a --batch line adds to the answer object


def documented_fields(table: str) -> list[str]:
    """The field names of the table under `### {table}` in docs/API.md, in order."""
    text = API_MD.read_text(encoding="utf-8")
    section = text.split(f"\n### {table}\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, re.M)


def fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def check_shape(answer: dict[str, Any], extra: set[str] = frozenset()) -> None:
    """`answer` has exactly the documented fields, and so has each nested object."""
    assert set(answer) == set(documented_fields("answer")) | extra
    for c in answer["citations"]:
        assert set(c) == set(documented_fields("citation"))
    for p in answer["passages"] or []:
        assert set(p) == set(documented_fields("passage"))
    if answer["generation"] is not None:
        assert set(answer["generation"]) == set(documented_fields("generation"))


def test_the_documented_tables_are_the_dataclasses():
    assert documented_fields("answer") == [*fields(Answer), "passages"]
    assert documented_fields("citation") == fields(Citation)
    assert documented_fields("passage") == [f for f in fields(Passage) if f != "article_text"]
    assert documented_fields("generation") == fields(Generation)


def test_to_dict_is_the_documented_object():
    text = "Có 787 đảng viên."
    passage = Passage("c1", "a1", "Tin", text, 0, len(text), text, 0.03, external_id="X-1")
    citation = Citation(1, "a1", "Tin", text, 0, len(text), 0.03, external_id="X-1")
    answer = Answer(f"{text} [1]", [citation], short="787 đảng viên", generation=Generation("m"))
    check_shape(answer.to_dict())
    check_shape(answer.to_dict([passage]))
    assert answer.to_dict()["passages"] is None
    assert answer.to_dict([passage])["passages"][0]["external_id"] == "X-1"
    assert json.loads(json.dumps(answer.to_dict([passage]))) == answer.to_dict([passage])


def test_the_chain_returns_the_documented_object(make_assistant):
    assistant = make_assistant()
    assistant.ingest([REPO / "data" / "sample"], progress=False)
    plain = assistant.chain.invoke({"question": Q_JUNE})
    check_shape(plain)
    assert plain["passages"] is None
    detailed = assistant.chain.invoke({"question": Q_JUNE, "passages": True})
    check_shape(detailed)
    assert detailed["passages"] and all(p["chunk_id"] for p in detailed["passages"])
    *_, last = assistant.chain.stream({"question": Q_JUNE, "passages": True})
    assert last == detailed


@pytest.mark.slow
def test_the_four_surfaces_return_the_same_object(served):
    """`ask --json`, a `--batch` line, the chain and `/ask`, over one store, one question."""
    from gradio_client import Client

    url, assistant = served
    store = ["--store", str(assistant.settings.store.store_path)]
    env = {**os.environ}

    def cli(*args: str) -> str:
        result = subprocess.run(
            [HOIDAP, *store, *args], capture_output=True, text=True, env=env, timeout=600
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    batch = Path(assistant.settings.store.home) / "q.jsonl"
    batch.write_text(json.dumps({"id": "q1", "question": Q_JUNE}) + "\n", encoding="utf-8")
    surfaces = {
        "ask --json": json.loads(cli("ask", Q_JUNE, "--json", "--passages")),
        "ask --batch": json.loads(cli("ask", "--batch", str(batch), "--passages")),
        "chain": assistant.chain.invoke({"question": Q_JUNE, "passages": True}),
        "/ask": Client(url, verbose=False).predict(Q_JUNE, "[]", "{}", True, api_name="/ask"),
    }
    check_shape(surfaces.pop("ask --batch"), BATCH_EXTRA)
    for name, answer in surfaces.items():
        check_shape(answer)
        assert answer["citations"], f"{name}: no citation"  # needs the trained reader
        assert "787" in answer["text"], name
    texts = {json.dumps(a["citations"], ensure_ascii=False) for a in surfaces.values()}
    assert len(texts) == 1  # the same answer, not only the same keys
