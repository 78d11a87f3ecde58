"""Retrieval: what of an earlier answer joins a follow-up's search, and sentence coverage."""

from __future__ import annotations

from assistant.answering.rules import ABSTAIN_TEXT
from assistant.evaluate import strip_marks
from assistant.retrieval.coverage import window_coverage
from assistant.retrieval.retriever import HISTORY_ANSWER_CHARS, HybridRetriever, answer_context
from store.lexical import query_terms


def test_earlier_answer_keeps_its_content_without_lead_markers_or_abstention():
    answer = (
        "Theo bài báo: 787 đảng viên — “Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết "
        "nạp được 787 đảng viên” [1]"
    )
    context = answer_context(answer)
    assert context.startswith("787 đảng viên") and "[1]" not in context
    assert answer_context("According to the article: 129 members [2]") == "129 members"
    assert answer_context("Nguyễn Văn A") == "Nguyễn Văn A"
    for text in ABSTAIN_TEXT.values():
        assert answer_context(text) == ""
    assert len(answer_context("Theo bài báo: " + "rất dài " * 100)) <= HISTORY_ANSWER_CHARS


def test_window_coverage_counts_terms_found_together_in_two_adjacent_sentences():
    weights = {"ky_luat": 3.0, "dang_vien": 2.0, "129": 5.0}
    together = "Hội nghị đã diễn ra. Có 129 đảng viên bị kỷ luật. Trời mưa."
    apart = "Có 129 người. Đảng viên họp. Trời nắng. Gió to. Bàn chuyện kỷ luật."
    assert window_coverage(together, weights) == 1.0
    assert window_coverage(apart, weights) == 0.7  # "kỷ luật" is three sentences further
    assert window_coverage(apart, weights, window=5) == 1.0
    assert window_coverage(strip_marks(apart), weights) == 0.7  # folded keys: no marks needed
    assert window_coverage(together, {}) == 0.0 and window_coverage("", weights) == 0.0


def test_passages_whose_sentences_hold_the_question_rise(seeded):
    """Each passage gains the weight times its coverage; the order is the fused score's."""
    question = "Ai chủ trì hội nghị?"
    settings = seeded.settings.assistant
    assert settings.sentence_coverage_weight == 0.3  # the default
    plain = HybridRetriever(
        seeded.store, settings.model_copy(update={"sentence_coverage_weight": 0.0})
    )
    before = plain.retrieve(question, k=10)
    after = seeded.retriever.retrieve(question, k=10)
    weights = seeded.store.records.term_weights(query_terms(question))
    gain = {p.chunk_id: 0.3 * window_coverage(p.text, weights) for p in before}
    expected = sorted(before, key=lambda p: p.score + gain[p.chunk_id], reverse=True)
    assert len(after) == len(before) > 5
    assert [p.chunk_id for p in after] == [p.chunk_id for p in expected]
    assert [p.chunk_id for p in after] != [p.chunk_id for p in before]
    assert "chủ trì" in after[0].text
