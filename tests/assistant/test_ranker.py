"""The trained passage ranker: shipped weights that verify, and the answering passage put first.

Real model: the ranker sits on the default embedding model's own layers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.models import Passage
from assistant.reading.ranker import RANKER, RANKER_DIR, PassageRanker, passage_text
from assistant.reading.weights import ReaderError, sha256_of, verified_weights
from ingest.chunk import chunk_spans
from ingest.read import read_file
from ingest.settings import IngestSettings

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
COFFEE = REPO / "tests" / "fixtures" / "articles" / "seed_ca_phe_gia_lai.txt"


def test_the_shipped_ranker_is_small_and_matches_its_manifest():
    path, manifest = verified_weights(shipped=RANKER)
    assert path.parent == RANKER_DIR and path.stat().st_size <= 20 * 1024 * 1024
    assert sha256_of(path) == manifest["sha256"]
    assert manifest["trained_on"] and manifest["pairs"] > 5_000


def test_an_altered_ranker_fails_its_check_and_says_how_to_rebuild(tmp_path):
    shutil.copy(RANKER_DIR / RANKER.manifest_file, tmp_path / RANKER.manifest_file)
    data = bytearray((RANKER_DIR / RANKER.weights_file).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / RANKER.weights_file).write_bytes(bytes(data))
    with pytest.raises(ReaderError, match="passage ranker's weights .* fail their check"):
        verified_weights(tmp_path, RANKER)
    (tmp_path / RANKER.weights_file).unlink()
    with pytest.raises(ReaderError, match="missing.*hoidap reader train-ranker"):
        verified_weights(tmp_path, RANKER)


def _passages(path: Path) -> list[Passage]:
    """An article's passages chunked as the store chunks them, with its title."""
    settings = IngestSettings()
    article = read_file(path, settings).articles[0]
    spans = chunk_spans(article.text, settings.chunk_size, settings.chunk_overlap)
    return [
        Passage(f"{path.stem}-{i}", path.stem, article.title, article.text[s:e], s, e, "", 0.0)
        for i, (s, e) in enumerate(spans)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How many party members were admitted by 30 June?", "787"),
        ("How many party members were disciplined in the first half of the year?", "129"),
        ("How many hectares of coffee were replanted?", "1.465 ha"),
        ("Who chaired the conference?", "Lý Anh Sang"),
        ("Tái canh được bao nhiêu ha cà phê?", "1.465 ha"),
    ],
)
def test_the_ranker_puts_the_answering_passage_near_the_top(ranker, question, answer):
    """Both articles open with the same "Từ đầu năm đến ngày 30-6" form, so word overlap alone
    cannot tell their passages apart. The ranker puts the answering passage in its first two
    and above every passage of the other article; between neighbouring passages of one article
    it can err (the 129 of discipline sits next to the 787 of admissions), which the fusion's
    prior in `rerank` and the reader's sentence scores then settle."""
    passages = _passages(next(SAMPLE.glob("*.txt"))) + _passages(COFFEE)
    holding = {p.chunk_id for p in passages if answer in p.text}
    assert holding and len(holding) < len(passages)
    logits = dict(
        zip(
            (p.chunk_id for p in passages),
            ranker.logits(question, [passage_text(p.title, p.text) for p in passages]),
        )
    )
    order = sorted(logits, key=lambda c: -logits[c])
    assert holding & set(order[:2])
    best = max(logits[c] for c in holding)
    article = next(p.article_id for p in passages if p.chunk_id in holding)
    assert all(logits[p.chunk_id] < best for p in passages if p.article_id != article)
    # Put last by the fusion, it comes back into the first two.
    fused = sorted(passages, key=lambda p: p.chunk_id in holding)
    assert {p.chunk_id for p in ranker.rerank(question, fused, len(fused), 0.5)[:2]} & holding


@pytest.mark.slow
def test_bf16_ranks_like_fp32(e5_model_path):
    full = PassageRanker(e5_model_path, precision="fp32")
    half = PassageRanker(e5_model_path, precision="bf16")
    passages = _passages(next(SAMPLE.glob("*.txt"))) + _passages(COFFEE)
    texts = [passage_text(p.title, p.text) for p in passages]
    question = "How many party members were admitted by 30 June?"
    a, b = full.logits(question, texts), half.logits(question, texts)
    assert max(abs(x - y) for x, y in zip(a, b)) < 0.25
    assert max(range(len(a)), key=a.__getitem__) == max(range(len(b)), key=b.__getitem__)


@pytest.mark.slow
def test_the_ranker_shares_the_readers_lower_layers_and_ranks_the_same(e5_model_path):
    """One copy of the base model's embeddings and frozen layers for both cross-encoders."""
    from assistant.reading.reader import Reader

    reader = Reader(e5_model_path, precision="bf16")
    question = "How many party members were admitted by 30 June?"
    sentence = "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên."
    before = reader.read(question, [sentence])
    alone = PassageRanker(e5_model_path, precision="bf16")
    shared = PassageRanker(e5_model_path, precision="bf16", reader=reader)
    assert shared.model._word.data_ptr() == reader.model._word.data_ptr()
    assert shared.model.frozen is reader.model.frozen
    assert alone.model._word.data_ptr() != reader.model._word.data_ptr()
    passages = _passages(next(SAMPLE.glob("*.txt"))) + _passages(COFFEE)
    texts = [passage_text(p.title, p.text) for p in passages]
    assert shared.logits(question, texts) == alone.logits(question, texts)
    assert reader.read(question, [sentence]) == before  # the reader reads as it did
    # A reader in another precision is not shared (its layers are not in the ranker's dtype).
    other = PassageRanker(e5_model_path, precision="fp32", reader=reader)
    assert other.model.frozen is not reader.model.frozen


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many party members were admitted by 30 June?", "787"),
        ("How many party members were disciplined in the first half of the year?", "129"),
        ("Who chaired the conference?", "Huỳnh Quang Thái và Lý Anh Sang"),
    ],
)
def test_the_rankers_second_opinion_keeps_english_answers_right(reader, ranker, question, expected):
    """With the ranker re-scoring the reader's best sentences (the English default), the answer
    cites the answering sentence among both articles' look-alike sentences (both open with
    "Từ đầu năm đến ngày 30-6"; over both, the reader alone answers the chair question with the
    coffee article's "Ông Nguyễn Văn Hòa … chủ trì hội nghị"), and the sentences it did not
    read stay behind those it did."""
    from assistant.question import analyse
    from assistant.reading.answer import (
        SentenceRanking,
        answer_with_reader,
        blend,
        choose,
        scored_candidates,
    )
    from assistant.settings import AssistantSettings

    s = AssistantSettings()
    asked = analyse(question)
    passages = _passages(next(SAMPLE.glob("*.txt"))) + _passages(COFFEE)
    ranking = SentenceRanking(ranker, s.english_ranked_sentences, s.sentence_ranker_weight)
    answer, _ = answer_with_reader(
        asked,
        passages,
        reader,
        threshold=s.reader_threshold,
        candidates=s.reader_sentences,
        lexical_weight=s.reader_lexical_weight,
        english_lexical_weight=s.reader_english_lexical_weight,
        typed_spans=s.reader_typed_spans,
        sentence_ranking=ranking,
    )
    assert not answer.abstained and expected in answer.text
    assert answer.citations[0].article_id == next(SAMPLE.glob("*.txt")).stem

    cands, _ = scored_candidates(asked, passages)
    chosen = choose(cands, 8, 4)
    scored = [(blend(0.0, c, 1.0), c, None) for c in chosen]
    rescored = SentenceRanking(ranker, 3, 2.0).rescore(asked.reader_text, scored)
    assert {id(c) for _, c, _ in rescored[:3]} == {id(c) for _, c, _ in scored[:3]}
    assert all(b <= rescored[2][0] for b, _, _ in rescored[3:])
