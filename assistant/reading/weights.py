"""The shipped reader weights: one small file in the package, checked before it is used.

`reader.safetensors` holds the trained layers and heads in float16 (the lower layers are the
default embedding model's own, see `model.py`); `reader.json` beside it records its sha256, the
base model it sits on, and how it was trained. Nothing is downloaded: a missing or altered
file is an error that names the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ingest.errors import HoidapError

WEIGHTS_DIR = Path(__file__).parent
WEIGHTS_FILE = "reader.safetensors"
MANIFEST_FILE = "reader.json"
REBUILD = (
    "hoidap --store NEG ingest ../shared/corpus/taynguyen.jsonl ../shared/corpus/dantri.jsonl, "
    "then hoidap reader train --data ../shared/eval --corpus ../shared/corpus/taynguyen.jsonl "
    "--negatives-store NEG --epochs 2"
)


class ReaderError(HoidapError):
    """The reader's weights are missing, altered, or do not fit the base model."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path = WEIGHTS_DIR) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError as e:
        raise ReaderError(f"The reader's manifest {path} is missing. Rebuild it: {REBUILD}") from e
    except ValueError as e:
        raise ReaderError(f"The reader's manifest {path} is not valid JSON ({e}).") from e


def verified_weights(folder: Path = WEIGHTS_DIR) -> tuple[Path, dict[str, Any]]:
    """The weights file and its manifest, after checking the file's sha256 against it."""
    manifest = read_manifest(folder)
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise ReaderError(f"The reader's weights {path} are missing. Rebuild them: {REBUILD}")
    actual = sha256_of(path)
    if actual != manifest.get("sha256"):
        raise ReaderError(
            f"The reader's weights {path} fail their check (sha256 {actual[:12]}…, expected "
            f"{str(manifest.get('sha256'))[:12]}…). Reinstall hoidap or rebuild them: {REBUILD}"
        )
    return path, manifest
