"""The shipped trained weights: one small file each in the package, checked before use.

`reader.safetensors` holds the reader's trained layers and heads in float16 (the lower layers
are the default embedding model's own, see `model.py`); `reader.json` beside it records its
sha256, the base model it sits on, and how it was trained. The passage ranker
(`assistant.reading.ranker`) ships the same way, with its own `Shipped` names. Nothing is
downloaded: a missing or altered file is an error that names the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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
    """Trained weights (the reader's or the ranker's) are missing, altered, or do not fit."""


@dataclass(frozen=True)
class Shipped:
    """One trained model's files in the package and the command that rebuilds them."""

    what: str  # "The reader", "The passage ranker": how errors name it
    folder: Path
    weights_file: str
    manifest_file: str
    rebuild: str


READER = Shipped("The reader", WEIGHTS_DIR, WEIGHTS_FILE, MANIFEST_FILE, REBUILD)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path = WEIGHTS_DIR, shipped: Shipped = READER) -> dict[str, Any]:
    path = folder / shipped.manifest_file
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError as e:
        raise ReaderError(
            f"{shipped.what}'s manifest {path} is missing. Rebuild it: {shipped.rebuild}"
        ) from e
    except ValueError as e:
        raise ReaderError(f"{shipped.what}'s manifest {path} is not valid JSON ({e}).") from e


def verified_weights(
    folder: Path | None = None, shipped: Shipped = READER
) -> tuple[Path, dict[str, Any]]:
    """The weights file and its manifest, after checking the file's sha256 against it.

    `folder`: where the files are (default: the package's, `shipped.folder`).
    """
    folder = shipped.folder if folder is None else folder
    manifest = read_manifest(folder, shipped)
    path = folder / shipped.weights_file
    rebuild = shipped.rebuild
    if not path.is_file():
        raise ReaderError(f"{shipped.what}'s weights {path} are missing. Rebuild them: {rebuild}")
    actual = sha256_of(path)
    if actual != manifest.get("sha256"):
        raise ReaderError(
            f"{shipped.what}'s weights {path} fail their check (sha256 {actual[:12]}…, expected "
            f"{str(manifest.get('sha256'))[:12]}…). Reinstall hoidap or rebuild them: {rebuild}"
        )
    return path, manifest
