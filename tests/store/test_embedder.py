"""Embedder: the real default model, prefixes added here, Vietnamese and English retrieval."""

from __future__ import annotations

import time
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from sentence_transformers import SentenceTransformer

from ingest.errors import HoidapError
from store.bert import native_bf16
from store.embedder import Embedder, ModelLoadError
from store.langchain_embeddings import as_langchain_embeddings
from store.settings import StoreSettings

QUESTION_VI = "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
QUESTION_EN = "How many party members were admitted by 30 June?"
PASSAGES = [
    "Giá cà phê nhân xô tại Tây Nguyên hôm nay tăng 500 đồng/kg, lên mức 48.000 đồng/kg.",
    "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên, đạt 65,6% "
    "chỉ tiêu năm.",
    "Lễ hội cồng chiêng Tây Nguyên thu hút hàng nghìn du khách trong và ngoài nước.",
    "Trận mưa lớn kéo dài khiến nhiều tuyến đường ở thành phố Pleiku bị ngập sâu.",
]
RIGHT = 1


@pytest.fixture(scope="module")
def raw_model(e5_model_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(e5_model_path), device="cpu")


@pytest.fixture(scope="module")
def fp32_embedder(e5_model_path: Path) -> Embedder:
    """The fp32 runtime, which must equal sentence-transformers to float rounding."""
    return Embedder.from_settings(StoreSettings(precision="fp32"))


def raw_encode(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def test_default_embedder_shape_and_label(embedder: Embedder):
    wrapped = as_langchain_embeddings(embedder)
    assert isinstance(wrapped, Embeddings)
    assert wrapped.embed_query(QUESTION_VI) == embedder.embed_query(QUESTION_VI)
    assert embedder.dimension == 384
    assert embedder.model_label == "multilingual-e5-small"
    vectors = embedder.embed_passages(PASSAGES)
    assert vectors.dtype == np.float32 and vectors.shape == (len(PASSAGES), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_queries([]).shape == (0, 384)
    assert embedder.embed_documents([]) == []
    docs = embedder.embed_documents(PASSAGES[:2])
    assert len(docs) == 2 and len(docs[0]) == 384 and isinstance(docs[0][0], float)


def test_prefixes_are_added_by_the_embedder(
    fp32_embedder: Embedder, raw_model: SentenceTransformer
):
    embedder = fp32_embedder
    assert embedder.precision == "fp32"
    query = np.array(embedder.embed_query(QUESTION_VI))
    np.testing.assert_allclose(
        query, raw_encode(raw_model, ["query: " + QUESTION_VI])[0], atol=1e-5
    )
    passages = embedder.embed_passages(PASSAGES[:2])
    np.testing.assert_allclose(
        passages, raw_encode(raw_model, ["passage: " + p for p in PASSAGES[:2]]), atol=1e-5
    )
    np.testing.assert_allclose(embedder.embed_documents(PASSAGES[:2]), passages, atol=1e-6)
    # The same text as a query and as a passage differs only by the prefix.
    as_passage = embedder.embed_passages([QUESTION_VI])[0]
    assert float(query @ as_passage) < 0.999
    unprefixed = raw_encode(raw_model, [QUESTION_VI])[0]
    assert not np.allclose(query, unprefixed, atol=1e-3)


def test_repeated_questions_come_from_the_cache_unchanged(
    fp32_embedder: Embedder, raw_model: SentenceTransformer
):
    embedder = fp32_embedder
    embedder.clear_query_cache()
    first = embedder.embed_queries([QUESTION_EN, QUESTION_VI, QUESTION_EN])
    first[0] = 0.0  # a caller changing its copy does not change the cached vector
    again = embedder.embed_queries([QUESTION_VI, QUESTION_EN])
    expected = raw_encode(raw_model, ["query: " + QUESTION_VI, "query: " + QUESTION_EN])
    np.testing.assert_allclose(again, expected, atol=1e-5)
    np.testing.assert_allclose(first[1:], expected, atol=1e-5)


@pytest.mark.parametrize("question", [QUESTION_VI, QUESTION_EN], ids=["vi", "en"])
def test_question_ranks_the_right_passage_first(embedder: Embedder, question: str):
    scores = embedder.embed_passages(PASSAGES) @ embedder.embed_queries([question])[0]
    assert int(np.argmax(scores)) == RIGHT, scores
    others = np.delete(scores, RIGHT)
    assert scores[RIGHT] - others.max() > 0.02, scores


def test_a_local_folder_with_its_own_prefixes(e5_model_path: Path, raw_model: SentenceTransformer):
    settings = StoreSettings(
        model=str(e5_model_path), query_prefix="Câu hỏi: ", passage_prefix="", precision="fp32"
    )
    folder = Embedder.from_settings(settings)
    assert folder.model_label == str(e5_model_path)
    assert (folder.query_prefix, folder.passage_prefix) == ("Câu hỏi: ", "")
    np.testing.assert_allclose(
        folder.embed_queries([QUESTION_EN]),
        raw_encode(raw_model, ["Câu hỏi: " + QUESTION_EN]),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        folder.embed_passages(PASSAGES[:1]), raw_encode(raw_model, PASSAGES[:1]), atol=1e-5
    )


def test_the_default_runtime_is_bf16_where_the_cpu_has_it(
    embedder: Embedder, fp32_embedder: Embedder
):
    assert embedder.precision == ("bf16" if native_bf16() else "fp32")
    bf16 = Embedder.from_settings(StoreSettings(precision="bf16"))
    assert bf16.precision == "bf16"
    texts = [QUESTION_VI, QUESTION_EN]
    cosines = np.sum(bf16.embed_queries(texts) * fp32_embedder.embed_queries(texts), axis=1)
    assert cosines.min() > 0.9995, cosines
    # Retrieval is unchanged: the right passage first, by the same margin within 0.01.
    for embedder_ in (bf16, fp32_embedder):
        scores = embedder_.embed_passages(PASSAGES) @ embedder_.embed_queries([QUESTION_EN])[0]
        assert int(np.argmax(scores)) == RIGHT


def test_an_unknown_precision_is_refused(monkeypatch: pytest.MonkeyPatch):
    from pydantic import ValidationError

    monkeypatch.setenv("HOIDAP_PRECISION", "int4")
    with pytest.raises(ValidationError, match="precision"):
        StoreSettings()


def test_unknown_model_fails_fast_with_one_line(monkeypatch: pytest.MonkeyPatch):
    # Offline mode: no retries against an unreachable hub. huggingface_hub reads the variable
    # once at import, so the already-imported constant is switched too.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as info:
        Embedder.from_settings(StoreSettings(model="no-such-org/no-such-model"))
    assert time.monotonic() - started < 30
    assert isinstance(info.value, HoidapError)
    message = str(info.value)
    assert "\n" not in message
    assert "Could not load the embedding model 'no-such-org/no-such-model'" in message
    assert "local" in message and "folder" in message
    assert info.value.__cause__ is not None


def test_folder_that_is_not_a_model_fails_clearly(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="Could not load the embedding model"):
        Embedder(str(tmp_path), model_label="x", query_prefix="", passage_prefix="")
