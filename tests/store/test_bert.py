"""The torch-only BERT backend: the same vectors as sentence-transformers, on the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from store.bert import (
    MeanPoolingBert,
    length_batches,
    native_bf16,
    read_layout,
    resolve_precision,
)
from store.embedder import Embedder, SentenceTransformerEncoder, load_encoder

LONG = "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên. " * 60
TEXTS = [
    "query: Tính đến 30-6 kết nạp được bao nhiêu đảng viên?",
    "query: tinh den 30-6 ket nap duoc bao nhieu dang vien",
    "query: How many party members were admitted by 30 June?",
    "passage: Giá cà phê nhân xô tại Tây Nguyên hôm nay tăng 500 đồng/kg, lên 48.000 đồng/kg.",
    "passage: TP.HCM đạt 43,72%, theo Nghị quyết 02-NQ/TW; 1.465 hộ được hỗ trợ.",
    "passage: " + LONG,  # longer than 512 tokens: truncated alike
    "",
    "passage: Lễ hội cồng chiêng thu hút hàng nghìn du khách.",
]


@pytest.fixture(scope="module")
def reference(e5_model_path: Path) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(str(e5_model_path))


@pytest.fixture(scope="module")
def bert(e5_model_path: Path) -> MeanPoolingBert:
    model = MeanPoolingBert.from_folder(e5_model_path)
    assert model is not None
    return model


def test_default_model_runs_on_the_torch_only_backend(embedder: Embedder, e5_model_path: Path):
    assert embedder.backend == "bert"
    assert isinstance(load_encoder(str(e5_model_path)), MeanPoolingBert)
    layout = read_layout(e5_model_path)
    assert layout is not None
    assert (layout.hidden, layout.layers, layout.heads, layout.max_length) == (384, 12, 12, 512)


@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_vectors_equal_sentence_transformers(
    bert: MeanPoolingBert, reference: SentenceTransformerEncoder, batch_size: int
):
    got = bert.encode(TEXTS, batch_size)
    want = reference.encode(TEXTS, batch_size)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() > 0.9999, cosines
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert bert.encode([], batch_size).shape == (0, 384)


@pytest.mark.parametrize("batch_size", [1, 32])
def test_bf16_vectors_stay_within_the_verified_bound(
    e5_model_path: Path, reference: SentenceTransformerEncoder, batch_size: int
):
    bf16 = MeanPoolingBert.from_folder(e5_model_path, "bf16")
    assert bf16 is not None and bf16.precision == "bf16"
    assert bf16._w["encoder.layer.0.intermediate.dense.weight"].dtype == torch.bfloat16
    assert bf16._w["encoder.layer.0.output.LayerNorm.weight"].dtype == torch.float32
    got = bf16.encode(TEXTS, batch_size)
    want = reference.encode(TEXTS, batch_size)
    assert got.dtype == np.float32
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() > 0.9995, cosines
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    ("lengths", "rows", "tokens"),
    [([5, 300, 7, 120, 120, 9], 32, 400), ([10] * 50, 8, 4096), ([600], 4, 100), ([], 4, 100)],
)
def test_length_batches_cover_every_text_once_within_the_budget(
    lengths: list[int], rows: int, tokens: int
):
    batches = length_batches(lengths, rows, tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        widths = [lengths[i] for i in batch]
        assert widths == sorted(widths, reverse=True) and len(batch) <= rows
        assert len(batch) == 1 or len(batch) * widths[0] <= tokens
    if lengths == [10] * 50:
        assert [len(b) for b in batches] == [8] * 6 + [2]


def test_precision_settings_resolve():
    assert resolve_precision("auto") == ("bf16" if native_bf16() else "fp32")
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("int8")


def test_tokens_equal_sentence_transformers(bert: MeanPoolingBert, e5_model_path: Path):
    from sentence_transformers import SentenceTransformer

    tokenizer = SentenceTransformer(str(e5_model_path), device="cpu").tokenizer
    want = tokenizer(TEXTS, truncation=True, max_length=512)["input_ids"]
    got = bert.token_ids(TEXTS)
    assert got == want
    assert max(len(ids) for ids in got) == 512


def test_a_batch_gives_what_each_text_gives_alone(bert: MeanPoolingBert):
    together = bert.encode(TEXTS, 32)
    alone = np.stack([bert.encode([t], 1)[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def _copy(model: Path, target: Path) -> Path:
    """The model's small files copied, the weights linked (nothing large is written)."""
    target.mkdir()
    for path in model.rglob("*"):
        dest = target / path.relative_to(model)
        if path.is_dir():
            dest.mkdir(exist_ok=True)
        elif path.name == "model.safetensors":
            dest.symlink_to(path)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
    return target


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text("utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), "utf-8")


@pytest.mark.parametrize(
    "change",
    ["cls pooling", "dense module", "other architecture", "lower case", "no tokenizer.json"],
)
def test_other_folders_are_left_to_sentence_transformers(
    e5_model_path: Path, tmp_path: Path, change: str
):
    folder = _copy(e5_model_path, tmp_path / "model")
    assert read_layout(folder) is not None
    if change == "cls pooling":
        _edit(folder / "1_Pooling" / "config.json", pooling_mode="cls")
    elif change == "dense module":
        modules = json.loads((folder / "modules.json").read_text("utf-8"))
        dense = {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.Dense"}
        (folder / "modules.json").write_text(json.dumps([*modules, dense]), "utf-8")
    elif change == "other architecture":
        _edit(folder / "config.json", model_type="xlm-roberta")
    elif change == "lower case":
        _edit(folder / "sentence_bert_config.json", do_lower_case=True)
    else:
        (folder / "tokenizer.json").unlink()
    assert read_layout(folder) is None
    assert MeanPoolingBert.from_folder(folder) is None


def test_older_pooling_format_and_a_shorter_max_length(
    e5_model_path: Path, tmp_path: Path, reference: SentenceTransformerEncoder
):
    folder = _copy(e5_model_path, tmp_path / "model")
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(
        json.dumps(
            {
                "word_embedding_dimension": 384,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
            }
        ),
        "utf-8",
    )
    _edit(folder / "sentence_bert_config.json", max_seq_length=64)
    layout = read_layout(folder)
    assert layout is not None and layout.max_length == 64
    short = MeanPoolingBert(layout)
    assert max(len(ids) for ids in short.token_ids(TEXTS)) == 64
    # Truncated at 64 tokens, the long passage is a different vector than at 512.
    full = reference.encode(TEXTS[5:6])[0]
    assert float(short.encode(TEXTS[5:6])[0] @ full) < 0.9999
    np.testing.assert_allclose(short.encode(TEXTS[:5]), reference.encode(TEXTS[:5]), atol=1e-5)
