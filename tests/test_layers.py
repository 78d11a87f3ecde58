"""Data flows one way: ingest → store → assistant → app. A lower layer never imports a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ORDER = ["ingest", "store", "assistant", "app"]


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", ORDER[:-1])
def test_lower_layers_do_not_import_higher_ones(layer):
    higher = set(ORDER[ORDER.index(layer) + 1 :])
    for path in sorted((REPO / layer).rglob("*.py")):
        bad = imported_roots(path) & higher
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"
