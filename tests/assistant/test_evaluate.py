"""`hoidap eval` on tiny SQuAD and ViCoQA files written here (real model, real store)."""

from __future__ import annotations

import json

import pytest

from assistant.evaluate import contains_gold, evaluate, load_dataset, strip_marks, token_f1
from assistant.settings import Settings

pytestmark = pytest.mark.slow

CONTEXT_1 = (
    "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên. "
    "Có 129 đảng viên bị thi hành kỷ luật."
)
CONTEXT_2 = "Sáng 2-8, UBND TP.HCM công bố kế hoạch xây dựng 12 trường học mới trong năm 2023."
CONTEXT_3 = "Hội chợ cà phê Buôn Ma Thuột lần thứ 8 thu hút 120 gian hàng từ 15 tỉnh thành."


def squad(tmp_path):
    data = {
        "data": [
            {
                "title": "Đảng viên",
                "paragraphs": [
                    {
                        "context": CONTEXT_1,
                        "qas": [
                            {
                                "id": "1",
                                "question": "Kết nạp được bao nhiêu đảng viên?",
                                "answers": [{"text": "787 đảng viên", "answer_start": 0}],
                            },
                            {
                                "id": "2",
                                "question": "Bao nhiêu đảng viên bị kỷ luật?",
                                "answers": [{"text": "129", "answer_start": 0}],
                            },
                        ],
                    }
                ],
            },
            {
                "title": "Trường học",
                "paragraphs": [
                    {
                        "context": CONTEXT_2,
                        "qas": [
                            {
                                "id": "3",
                                "question": "TP.HCM xây bao nhiêu trường học mới?",
                                "answers": [{"text": "12 trường học", "answer_start": 0}],
                            }
                        ],
                    }
                ],
            },
            {
                "title": "Cà phê",
                "paragraphs": [
                    {
                        "context": CONTEXT_3,
                        "qas": [
                            {
                                "id": "4",
                                "question": "Hội chợ cà phê có bao nhiêu gian hàng?",
                                "answers": [{"text": "120 gian hàng", "answer_start": 0}],
                            }
                        ],
                    }
                ],
            },
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_squad_eval_reports_metrics_and_held_out_abstention(tmp_path, e5_model_path):
    metrics = evaluate(
        Settings.load(), squad(tmp_path), work_dir=tmp_path / "work", holdout=1, progress=False
    )
    assert metrics["questions"] == 3 and metrics["held_out_questions"] == 1
    assert metrics["hit@5"] == 1.0 and metrics["hit@1"] == 1.0
    assert metrics["answer_contains"] >= 2 / 3
    assert metrics["latency_ms"]["p50"] > 0
    assert {"threshold", "false_abstention", "abstention_on_unanswerable"} <= set(
        metrics["calibration"][0]
    )
    # Re-running in the same work folder re-embeds nothing.
    again = evaluate(
        Settings.load(),
        squad(tmp_path),
        work_dir=tmp_path / "work",
        holdout=1,
        progress=False,
        strip_diacritics=True,
    )
    assert again["diacritics_stripped"] and again["hit@5"] == 1.0


def test_vicoqa_format_keeps_the_conversation(tmp_path):
    data = {
        "data": [
            {
                "id": 1,
                "story": CONTEXT_1,
                "questions": [
                    {"input_text": "Kết nạp bao nhiêu đảng viên?", "turn_id": 1},
                    {"input_text": "Còn kỷ luật?", "turn_id": 2},
                ],
                "answers": [
                    {"span_text": "kết nạp được 787 đảng viên", "input_text": "787", "turn_id": 1},
                    {
                        "span_text": "129 đảng viên bị thi hành kỷ luật",
                        "input_text": "129",
                        "turn_id": 2,
                    },
                ],
            }
        ]
    }
    path = tmp_path / "coqa.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    items = load_dataset(path).items
    assert items[1].history == (("Kết nạp bao nhiêu đảng viên?", "787"),)


def test_matching_helpers():
    assert contains_gold("Đã kết nạp 787 đảng viên.", ("787 Đảng viên",))
    assert not contains_gold("Đã kết nạp 7870 đảng viên.", ("787",))
    assert token_f1("787 đảng viên", ("787",)) == pytest.approx(0.5)
    assert strip_marks("Đảng viên kết nạp") == "Dang vien ket nap"
