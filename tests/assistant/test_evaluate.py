"""`hoidap eval` on tiny SQuAD and ViCoQA files written here (real model, real store)."""

from __future__ import annotations

import json

import pytest

from assistant.evaluate import contains_gold, evaluate, load_dataset, strip_marks, token_f1
from assistant.settings import Settings
from ingest.errors import UsageError

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


def article_questions(tmp_path):
    articles = tmp_path / "articles.jsonl"
    rows = [
        {"id": "a/1", "title": "Đảng viên", "text": CONTEXT_1},
        {"id": "a/2", "title": "Trường học", "text": CONTEXT_2},
        {"id": "a/3", "title": "Cà phê", "text": CONTEXT_3},
    ]
    articles.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    questions = [
        {
            "article_id": "a/1",
            "kind": "vi",
            "question": "Kết nạp được bao nhiêu đảng viên?",
            "answer": "787 đảng viên",
        },
        {
            "article_id": "a/1",
            "kind": "en",
            "question": "How many party members were admitted?",
            "answer": "787",
        },
        {
            "article_id": "a/1",
            "kind": "followup",
            "question": "Còn kỷ luật bao nhiêu?",
            "answer": "129",
            "history": [["Kết nạp được bao nhiêu đảng viên?", "787"]],
        },
        {"article_id": "a/3", "kind": "nearmiss", "question": "Hội chợ cà phê kéo dài mấy ngày?"},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8"
    )
    return path, articles


def test_article_question_jsonl_is_read_with_its_articles(tmp_path):
    path, articles = article_questions(tmp_path)
    data = load_dataset(path, articles)
    assert [i.kind for i in data.items] == ["vi", "en", "followup", "nearmiss"]
    assert data.items[2].history == (("Kết nạp được bao nhiêu đảng viên?", "787"),)
    assert data.items[3].golds == () and data.contexts["a/3"].text == CONTEXT_3
    with pytest.raises(UsageError, match="--articles"):
        load_dataset(path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"article_id": "nope", "kind": "vi", "question": "?"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match="bad.jsonl:1"):
        load_dataset(bad, articles)


def test_article_question_eval_reports_kinds_nearmisses_and_the_baseline(tmp_path, e5_model_path):
    path, articles = article_questions(tmp_path)
    metrics = evaluate(
        Settings.load(),
        path,
        articles=articles,
        work_dir=tmp_path / "work",
        baseline=True,
        progress=False,
    )
    assert metrics["questions"] == 3 and set(metrics["by_kind"]) == {"vi", "en", "followup"}
    assert metrics["by_kind"]["vi"]["hit@5"] == 1.0
    assert metrics["nearmiss"]["questions"] == 1
    assert metrics["baseline"]["questions"] == 3
    assert metrics["articles_in_store"] == 3
