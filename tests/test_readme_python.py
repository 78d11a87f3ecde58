"""The README's Python API example runs as written (the chain, `passages`, the retriever)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_python_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Python API\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_example_uses_the_chain_passages_and_the_retriever():
    code = readme_python_example()
    for piece in ('"passages": True', "assistant.as_retriever(", "retriever | RunnableLambda"):
        assert piece in code


@pytest.mark.slow
def test_the_python_example_runs(monkeypatch, capsys, e5_model_path):
    """In a fresh data folder (HOIDAP_HOME, from conftest), from the repository's root."""
    monkeypatch.chdir(REPO)
    exec(compile(readme_python_example(), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "787" in lines[0]  # the answer to the 30 June question
    assert any("129" in line for line in lines)  # the chain's short answer, with passages
    # The retriever's three documents: title, start, end, the passage's start.
    assert sum(bool(re.search(r" \d+ \d+ \S", line)) for line in lines) >= 3
