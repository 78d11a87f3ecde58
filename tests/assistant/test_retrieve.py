"""Retrieval helpers that need no model: what of an earlier answer joins a follow-up's search."""

from __future__ import annotations

from assistant.answering.rules import ABSTAIN_TEXT
from assistant.retrieval.retriever import HISTORY_ANSWER_CHARS, answer_context


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
