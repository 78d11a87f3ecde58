"""A BERT encoder with mean pooling in plain torch: the default model without sentence-transformers.

Why this exists: importing sentence-transformers pulls in transformers, scikit-learn and scipy,
about 8 s of a cold ``hoidap ask`` on two cores before a single weight is read (transformers
alone takes about 5 s). The default model, like many sentence models, is a plain BERT encoder
followed by mean pooling and L2 normalization: about forty lines of torch over the saved
tensors, which load by memory-mapping the safetensors file (no copy, no module construction).

The arithmetic is the one transformers' ``BertModel`` does (embeddings, LayerNorm, per layer
scaled-dot-product attention with the padding mask, exact GELU, residual LayerNorms) followed by
sentence-transformers' mean pooling, so the vectors agree with ``SentenceTransformer.encode`` to
float rounding (tests/store/test_bert.py checks it on the real model).

`MeanPoolingBert.from_folder` returns None for any folder that is something else (another
architecture, another pooling, extra modules such as Dense, lower-casing): those keep going
through sentence-transformers, which knows every variant.

Precision: on CPUs that multiply bfloat16 in hardware (AVX-512 BF16, AMX) the layers run in bf16,
with their matrices prepacked for oneDNN (`prepack`): about 3x the fp32 throughput on this
project's 2-core Xeon, where ONNX Runtime's int8 (fused graph) reached 1.6x and torch's dynamic
int8 1.9x with worse vectors (docs/BENCHMARKS.md). Only the encoder layers' matrices are bf16;
the embedding tables (memory-mapped, read row by row), every LayerNorm, the pooling and the
normalization stay fp32, which keeps each vector within a cosine of 0.9999 of the fp32 one (all
bf16, LayerNorms included, fell to 0.996). Elsewhere bf16 is emulated and slower than fp32, so
``auto`` picks fp32 there.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
# Calls with at most this many tokens (a question or two) run on one thread. Such work is too
# small to split well, and while another process keeps a core busy (an LLM, a test run) every
# operation's barrier waits for the descheduled second thread: measured on two cores, one
# query took ~950 ms on two threads against ~40 ms on one.
SINGLE_THREAD_TOKENS = 1024

# Token ids in one forward pass (rows x padded width): about 16 chunks of 256 tokens. Measured
# on 2 cores, bf16 ran 10 % faster at 16 rows of ~160 tokens than at 32; fewer than ~1,000
# tokens a pass leaves the matrix units idle between small products.
BATCH_TOKENS = 4096
# Batches pad to a multiple of this many tokens. Every distinct shape gets its own oneDNN kernels
# and buffers, which stay cached: embedding 3,000 chunks grew a process by 420 MB with exact
# widths and by 280 MB with multiples of 16, at the same speed (~5 % more padded tokens).
PAD_MULTIPLE = 16

Precision = Literal["fp32", "bf16"]
PRECISIONS = ("auto", "bf16", "fp32")

# The sentence-transformers module types (any version's module path) this encoder reproduces.
_TRANSFORMER, _POOLING, _NORMALIZE = "Transformer", "Pooling", "Normalize"
_LAYER_PARTS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
)


@dataclass(frozen=True)
class BertLayout:
    """What a folder must say for `MeanPoolingBert` to reproduce sentence-transformers on it."""

    path: Path
    hidden: int
    layers: int
    heads: int
    layer_norm_eps: float
    max_length: int
    prefix: str  # "" or "bert." before the tensor names


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _module_kind(module: dict[str, Any]) -> str:
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def _is_mean_pooling(config: dict[str, Any]) -> bool:
    """Mean pooling in either the sentence-transformers 6 or the older config format."""
    if "pooling_mode" in config:
        return config["pooling_mode"] == "mean"
    flags = {k: v for k, v in config.items() if k.startswith("pooling_mode_")}
    return flags.get("pooling_mode_mean_tokens") is True and not any(
        v for k, v in flags.items() if k != "pooling_mode_mean_tokens"
    )


def read_layout(path: str | Path) -> BertLayout | None:
    """Return the layout of a local sentence-transformers folder this module can run, else None.

    Accepted: modules Transformer (at the folder root) → mean Pooling → optional Normalize; a
    ``bert`` config with absolute positions and exact GELU; ``tokenizer.json`` and a single
    ``model.safetensors``; no lower-casing. Anything else is left to sentence-transformers.
    """
    folder = Path(path)
    if not folder.is_dir():
        return None
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list) or len(modules) not in (2, 3):
        return None
    kinds = [_module_kind(m) for m in modules]
    if kinds[:2] != [_TRANSFORMER, _POOLING] or kinds[2:] not in ([], [_NORMALIZE]):
        return None
    if modules[0].get("path", "") not in ("", "."):
        return None
    pooling = _read_json(folder / str(modules[1].get("path", "1_Pooling")) / "config.json")
    if not isinstance(pooling, dict) or not _is_mean_pooling(pooling):
        return None
    st_config = _read_json(folder / "sentence_bert_config.json") or {}
    if st_config.get("do_lower_case") or st_config.get("transformer_task") not in (
        None,
        "feature-extraction",
    ):
        return None
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict) or config.get("model_type") != "bert":
        return None
    if config.get("hidden_act", "gelu") != "gelu":
        return None
    if config.get("position_embedding_type", "absolute") != "absolute":
        return None
    if not (folder / TOKENIZER_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        return None
    tokenizer_config = _read_json(folder / "tokenizer_config.json") or {}
    if tokenizer_config.get("do_lower_case"):
        return None
    positions = int(config.get("max_position_embeddings", 512))
    limits = [st_config.get("max_seq_length"), tokenizer_config.get("model_max_length"), positions]
    max_length = min(int(x) for x in limits if isinstance(x, (int, float)) and x > 0)
    try:
        prefix = _tensor_prefix(folder / WEIGHTS_FILE, int(config["num_hidden_layers"]))
    except (OSError, ValueError, KeyError):
        return None
    if prefix is None:
        return None
    return BertLayout(
        path=folder,
        hidden=int(config["hidden_size"]),
        layers=int(config["num_hidden_layers"]),
        heads=int(config["num_attention_heads"]),
        layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        max_length=max_length,
        prefix=prefix,
    )


def _tensor_prefix(weights: Path, layers: int) -> str | None:
    """Read the safetensors header (no weights) and return the tensor name prefix, or None."""
    with open(weights, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        if not 0 < size < 100_000_000:
            raise ValueError("not a safetensors file")
        names = set(json.loads(handle.read(size)))
    for prefix in ("", "bert."):
        if all(prefix + name in names for name in _tensor_names(layers)):
            return prefix
    return None


def _tensor_names(layers: int) -> list[str]:
    names = [
        f"embeddings.{part}"
        for part in (
            "word_embeddings.weight",
            "position_embeddings.weight",
            "token_type_embeddings.weight",
            "LayerNorm.weight",
            "LayerNorm.bias",
        )
    ]
    for i in range(layers):
        for part in _LAYER_PARTS:
            names += [f"encoder.layer.{i}.{part}.weight", f"encoder.layer.{i}.{part}.bias"]
    return names


def _runs_in_precision(name: str) -> bool:
    """The encoder layers' matrices and biases; embeddings and LayerNorms stay fp32."""
    return name.startswith("encoder.") and "LayerNorm" not in name


def prepack(matrix: Any) -> Any | None:
    """A bf16 matrix reordered once into oneDNN's blocked layout, for `packed_linear`.

    Without it every product reorders its weight matrix again; for a question (~16 tokens) that
    reordering is most of the work: a 16 x 384 by 384 x 1536 product took 82 us plain and 36 us
    prepacked on one core, 2.1 ms and 1.5 ms for a 16-chunk batch. These are the operators
    torch's own compiler emits for frozen bf16 linears on CPU; a torch build without oneDNN
    lacks them (None: keep the plain product).
    """
    import torch

    try:
        return torch.ops.mkldnn._reorder_linear_weight(matrix, None)
    except (AttributeError, RuntimeError):  # no oneDNN in this torch build
        return None


def packed_linear(x: Any, packed: Any, bias: Any) -> Any:
    """``x @ W.T + bias`` with a matrix from `prepack`."""
    import torch

    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


def _prepacked(weights: dict[str, Any]) -> dict[str, Any]:
    """The layer matrices of ``weights`` through `prepack` (empty where it is unavailable)."""
    packed = {
        name: prepack(tensor)
        for name, tensor in weights.items()
        if tensor.dim() == 2 and _runs_in_precision(name)
    }
    return packed if all(p is not None for p in packed.values()) else {}


def limit_torch_threads() -> None:
    """Use no more intra-op threads than CPUs this process may run on.

    torch sizes its pool from the machine's cores, which in a container or under ``taskset`` can
    exceed what the process is given; oversubscribed threads make every matrix product wait.
    An explicit ``OMP_NUM_THREADS`` is left alone.
    """
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        available = os.cpu_count() or 1
    if torch.get_num_threads() > available:
        torch.set_num_threads(available)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block on ``count`` intra-op threads, then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    if count != previous:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count != previous:
            torch.set_num_threads(previous)


def release_freed_memory() -> None:
    """Hand memory that was freed back to the system (glibc only; a no-op elsewhere).

    Batches of varying shapes leave glibc's heap fragmented: embedding 3,000 chunks grew a
    process by ~970 MB in bf16 (~560 MB in fp32) although little of it was still in use;
    trimming after each call kept the growth to ~420 MB, well inside the 2 GiB an ingest may use.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags, read once (the embedder and the reader both ask)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:  # not Linux
        pass
    return frozenset()


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX-BF16)."""
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


def resolve_precision(setting: str) -> Precision:
    """``auto`` becomes bf16 where the CPU has bf16 instructions, else fp32."""
    if setting == "auto":
        return "bf16" if native_bf16() else "fp32"
    if setting not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {setting!r}")
    return setting  # type: ignore[return-value]


def length_batches(lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped longest first, each group padding to at most ``max_tokens`` ids.

    Sorting by length keeps padding small; bounding rows x width instead of a fixed row count
    gives short texts bigger batches and long ones smaller, so every pass does similar work.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches:
            batch = batches[-1]
            width = lengths[batch[0]]  # the longest of the group comes first
            if len(batch) < max_rows and (len(batch) + 1) * width <= max_tokens:
                batch.append(i)
                continue
        batches.append([i])
    return batches


def pad_ids(rows: Sequence[Sequence[int]], pad_id: int = 0, multiple: int = 1) -> tuple[Any, Any]:
    """Right-padded token ids and their mask (True on real tokens), as torch tensors.

    ``multiple`` rounds the width up (see `PAD_MULTIPLE`).
    """
    import torch

    width = -(-max(len(r) for r in rows) // multiple) * multiple
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for j, r in enumerate(rows):
        ids[j, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[j, : len(r)] = True
    return ids, mask


class MeanPoolingBert:
    """BERT + mean pooling + L2 normalization over a folder accepted by `read_layout`.

    Attributes:
        precision: ``fp32`` or ``bf16``: the dtype of the encoder layers' matrices.
    """

    def __init__(self, layout: BertLayout, precision: Precision = "fp32") -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        limit_torch_threads()
        self.layout = layout
        self.dimension = layout.hidden
        # Memory-mapped: only the vocabulary rows a text uses are ever read from disk.
        tensors = load_file(str(layout.path / WEIGHTS_FILE))
        p = layout.prefix
        self.precision = precision
        self._dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self._w = {
            name: tensors[p + name].to(self._dtype if _runs_in_precision(name) else torch.float32)
            for name in _tensor_names(layout.layers)
        }
        self._packed = _prepacked(self._w) if precision == "bf16" else {}
        self._torch = torch
        self._tokenizer = Tokenizer.from_file(str(layout.path / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(layout.max_length)

    @classmethod
    def from_folder(cls, path: str | Path, precision: Precision = "fp32") -> MeanPoolingBert | None:
        """Load the folder if `read_layout` accepts it; None means use sentence-transformers."""
        layout = read_layout(path)
        return cls(layout, precision) if layout is not None else None

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with the special tokens, truncated to the model's maximum length."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors, float32, shape ``(len(texts), dimension)``, in the order of ``texts``.

        Texts are grouped by length (`length_batches`: at most ``batch_size`` rows and
        `BATCH_TOKENS` padded ids a pass); small calls run on one thread (`SINGLE_THREAD_TOKENS`).
        """
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts)
        torch = self._torch
        small = sum(len(i) for i in ids) <= SINGLE_THREAD_TOKENS
        batches = length_batches([len(i) for i in ids], batch_size, BATCH_TOKENS)
        with torch.inference_mode(), torch_threads(1 if small else torch.get_num_threads()):
            for rows in batches:
                multiple = PAD_MULTIPLE if len(rows) > 1 else 1
                batch, mask = pad_ids([ids[i] for i in rows], multiple=multiple)
                out[rows] = self._forward(batch, mask).numpy()
        if not small:
            release_freed_memory()
        return out

    def _forward(self, ids: Any, mask: Any) -> Any:
        """The encoder, pooling and normalization for one padded batch."""
        torch = self._torch
        functional = torch.nn.functional
        w, lay = self._w, self.layout
        batch, width = ids.shape
        heads, size = lay.heads, lay.hidden // lay.heads

        def norm(x: Any, name: str) -> Any:  # in fp32, back to the layers' dtype
            return functional.layer_norm(
                x.float(), (lay.hidden,), w[f"{name}.weight"], w[f"{name}.bias"], lay.layer_norm_eps
            ).to(self._dtype)

        def linear(x: Any, name: str) -> Any:
            packed = self._packed.get(f"{name}.weight")
            if packed is not None:
                return packed_linear(x, packed, w[f"{name}.bias"])
            return functional.linear(x, w[f"{name}.weight"], w[f"{name}.bias"])

        def split(x: Any) -> Any:
            return x.view(batch, width, heads, size).transpose(1, 2)

        x = functional.embedding(ids, w["embeddings.word_embeddings.weight"])
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = x + w["embeddings.position_embeddings.weight"][:width]
        x = norm(x, "embeddings.LayerNorm")
        # Padding is masked as a key only; padded rows are dropped by the pooling below.
        attention_mask = None if bool(mask.all()) else mask[:, None, None, :]
        for i in range(lay.layers):
            layer = f"encoder.layer.{i}"
            q = split(linear(x, f"{layer}.attention.self.query"))
            k = split(linear(x, f"{layer}.attention.self.key"))
            v = split(linear(x, f"{layer}.attention.self.value"))
            context = functional.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask)
            context = context.transpose(1, 2).reshape(batch, width, lay.hidden)
            attended = linear(context, f"{layer}.attention.output.dense") + x
            x = norm(attended, f"{layer}.attention.output.LayerNorm")
            hidden = functional.gelu(linear(x, f"{layer}.intermediate.dense"))
            x = norm(linear(hidden, f"{layer}.output.dense") + x, f"{layer}.output.LayerNorm")
        x = x.float()
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return functional.normalize(pooled, p=2, dim=1)
