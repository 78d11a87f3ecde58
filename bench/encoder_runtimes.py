"""The CPU runtimes considered for the default model, on the same chunks in one run (issue 11).

Usage: python bench/encoder_runtimes.py CORPUS.jsonl [--articles 40] [--chunks 256]
       [--work /tmp/encoder-runtimes]

Each candidate embeds the same chunk texts (``passage: `` prefix, batches of 32 sorted by length,
two threads) after a warm-up; the table gives chunks/s, the ratio to torch fp32 and the worst
and mean cosine to torch fp32's vectors. Candidates: `store.bert` in fp32 and in bf16 (what
``HOIDAP_PRECISION`` chooses between), torch's dynamic int8 linears (fbgemm and oneDNN), and
ONNX Runtime on an export of transformers' BertModel optimized by onnxruntime's transformer
optimizer (fused attention, LayerNorm, GELU), in fp32 and with dynamic int8 weights. The ONNX
rows need the ``onnx`` package (``pip install onnx``), which hoidap itself does not use.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from assistant.settings import Settings
from ingest.chunk import chunk_article
from ingest.read import read_file
from store.bert import MeanPoolingBert, pad_ids
from store.model import resolve_model

Encode = Callable[[list[list[int]]], np.ndarray]


def batched(forward: Callable[[torch.Tensor, torch.Tensor], np.ndarray]) -> Encode:
    def encode(ids: list[list[int]]) -> np.ndarray:
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), 384), dtype=np.float32)
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            batch, mask = pad_ids([ids[i] for i in rows])
            out[rows] = forward(batch, mask)
        return out

    return encode


def torch_int8(model_dir: str, engine: str) -> Encode:
    """`store.bert`'s arithmetic with every layer matrix as a dynamic-int8 quantized linear."""
    torch.backends.quantized.engine = engine
    bert = MeanPoolingBert.from_folder(model_dir, "fp32")
    packed = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch calls its int8 API deprecated
        for name, w in bert._w.items():
            if w.dim() == 2 and name.startswith("encoder."):
                scale = w.abs().amax(1) / 127
                zero = torch.zeros_like(scale).long()
                q = torch.quantize_per_channel(w, scale, zero, 0, torch.qint8)
                bias = bert._w[name[:-6] + "bias"]
                packed[id(w)] = torch.ops.quantized.linear_prepack(q, bias)
    functional = torch.nn.functional
    plain = functional.linear

    def linear(x, w, b=None):  # noqa: ANN001, ANN202
        p = packed.get(id(w))
        return plain(x, w, b) if p is None else torch.ops.quantized.linear_dynamic(x, p, True)

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        functional.linear = linear
        try:
            with torch.inference_mode():
                return bert._forward(ids, mask).numpy()
        finally:
            functional.linear = plain

    return batched(forward)


def onnx_runtime(model_dir: str, work: Path, quantize: bool) -> Encode:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    exported, optimized = work / "bert.onnx", work / "bert.opt.onnx"
    path = work / ("bert.opt.int8.onnx" if quantize else "bert.opt.onnx")
    if not optimized.exists():
        model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = model  # a submodule: its weights export as initializers

            def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, dim=1)

        ids = torch.tensor([[0, 5, 6, 7, 2], [0, 5, 2, 1, 1]])
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        axes = {0: "batch", 1: "tokens"}
        torch.onnx.export(
            Pooled(),
            (ids, mask),
            str(exported),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        optimize_model(
            str(exported), model_type="bert", num_heads=12, hidden_size=384
        ).save_model_to_file(str(optimized))
    if quantize and not path.exists():
        quantize_dynamic(
            str(optimized),
            str(path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": 1},  # float, for fused ops' outputs
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy().astype(np.int64)}
        return session.run(None, feed)[0]

    return batched(forward)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--work", type=Path, default=Path("/tmp/encoder-runtimes"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    settings = Settings.load()
    subset = args.work / "subset.jsonl"
    lines = args.corpus.read_text(encoding="utf-8").splitlines()[: args.articles]
    subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    articles = read_file(subset, settings.ingest).articles
    texts = ["passage: " + c.text for a in articles for c in chunk_article(a, settings.ingest)]
    texts = texts[: args.chunks]
    model_dir = resolve_model(settings.store)
    fp32 = MeanPoolingBert.from_folder(model_dir, "fp32")
    bf16 = MeanPoolingBert.from_folder(model_dir, "bf16")
    ids = fp32.token_ids(texts)

    candidates: dict[str, Callable[[], Encode]] = {
        "torch fp32 (store.bert)": lambda: lambda i: fp32.encode(texts, 32),
        "torch bf16, prepacked (store.bert)": lambda: lambda i: bf16.encode(texts, 32),
        "torch dynamic int8, fbgemm": lambda: torch_int8(model_dir, "fbgemm"),
        "torch dynamic int8, oneDNN": lambda: torch_int8(model_dir, "onednn"),
    }
    try:
        import onnx  # noqa: F401

        candidates["ONNX Runtime fp32, fused graph"] = lambda: onnx_runtime(
            model_dir, args.work, quantize=False
        )
        candidates["ONNX Runtime dynamic int8, fused graph"] = lambda: onnx_runtime(
            model_dir, args.work, quantize=True
        )
    except ImportError:
        print("onnx is not installed: the ONNX Runtime rows are skipped")

    reference = None
    rows = []
    for name, make in candidates.items():
        encode = make()
        encode(ids[:32])  # warm-up
        started = time.perf_counter()
        vectors = encode(ids)
        seconds = time.perf_counter() - started
        if reference is None:
            reference, base = vectors, seconds
        cosines = np.sum(vectors * reference, axis=1)
        rows.append(
            {
                "runtime": name,
                "chunks_per_s": round(len(ids) / seconds, 1),
                "ratio": round(base / seconds, 2),
                "cosine_min": round(float(cosines.min()), 5),
                "cosine_mean": round(float(cosines.mean()), 5),
            }
        )
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    print(
        f"\n{platform.machine()}, {torch.get_num_threads()} threads, {len(ids)} chunks, "
        f"mean {np.mean([len(i) for i in ids]):.0f} tokens\n"
    )
    print("| runtime | chunks/s | × torch fp32 | cosine to fp32 (min / mean) |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['runtime']} | {r['chunks_per_s']} | {r['ratio']} | "
            f"{r['cosine_min']} / {r['cosine_mean']} |"
        )


if __name__ == "__main__":
    main()
