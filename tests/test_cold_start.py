"""A cold `hoidap ask` loads only what a question needs (issue 3: cold start ≤ 10 s).

sentence-transformers, transformers, scikit-learn, scipy, LangChain and Gradio each cost from a
fraction of a second to several seconds to import; none of them is needed to answer a question
with the default model, so a new process must not import them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = [
    "sentence_transformers",
    "transformers",
    "sklearn",
    "scipy",
    "langchain_core",
    "langchain_chroma",
    "gradio",
]
ASK = """
import json, sys
heavy = set(json.loads(sys.argv[3]))
sys.argv = ["hoidap", "--store", sys.argv[1], "ask", sys.argv[2], "--json"]
from assistant.cli import main
try:
    main()
finally:
    loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
    print("LOADED=" + json.dumps(loaded))
"""

pytestmark = pytest.mark.slow


def test_cold_ask_imports_no_heavy_library(tmp_path: Path, e5_model_path: Path):
    store = tmp_path / "store"
    hoidap = Path(sys.executable).parent / "hoidap"
    env = {**os.environ, "HOIDAP_HOME": str(tmp_path / "home")}
    ingest = subprocess.run(
        [str(hoidap), "--store", str(store), "ingest", str(REPO / "data" / "sample"), "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ingest.returncode == 0, ingest.stderr
    question = "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
    result = subprocess.run(
        [sys.executable, "-c", ASK, str(store), question, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    output, _, loaded = result.stdout.rpartition("LOADED=")
    assert json.loads(loaded) == []
    assert "787" in json.loads(output)["short"]
