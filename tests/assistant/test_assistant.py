"""End to end over a real store: the sample article and the fixture articles, real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.core import Assistant
from assistant.question import analyse
from assistant.retrieval.diacritics import restore_diacritics
from ingest.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
ADMITTED = "Từ đầu năm đến ngày 30-6, toàn Đảng bộ tỉnh đã kết nạp được 787 đảng viên"
DISCIPLINED = "có 129 đảng viên bị thi hành kỷ luật"


@pytest.fixture(scope="module")
def assistant(make_seeded, tmp_path_factory):
    paths = [REPO / "data" / "sample", REPO / "tests" / "fixtures" / "articles"]
    a = make_seeded(tmp_path_factory.mktemp("home"), paths)
    yield a
    a.close()


def cites(answer, sentence: str) -> bool:
    return any(sentence in c.passage for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        "How many party members were admitted by 30 June?",
        "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?",
        "Tinh den 30-6 ket nap duoc bao nhieu dang vien?",
        "dang vien ket nap 30-6",
    ],
)
def test_admitted_members_answered_with_the_right_sentence(assistant, question):
    answer = assistant.ask(question)
    assert not answer.abstained
    assert "787" in answer.text and "[1]" in answer.text
    assert cites(answer, ADMITTED)
    article = assistant.article(answer.citations[0].article_id)
    c = answer.citations[0]
    assert article.text[c.start : c.end] == c.passage
    assert c.source == "Báo Gia Lai" and c.date == "2022-07"


def test_english_question_gets_an_english_answer(assistant):
    answer = assistant.ask("How many party members were admitted by 30 June?")
    assert answer.language == "en" and answer.text.startswith(("According", "The article"))
    vi = assistant.ask("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?")
    assert vi.language == "vi" and vi.text.startswith("Theo")


@pytest.mark.parametrize(
    "follow_up",
    ["Còn bao nhiêu đảng viên bị kỷ luật?", "and how many were disciplined?"],
)
def test_follow_up_uses_the_conversation(assistant, follow_up):
    history = [["Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", "787 đảng viên"]]
    answer = assistant.ask(follow_up, history=history)
    assert "129" in answer.text
    assert cites(answer, DISCIPLINED)


def test_a_conversation_rewrites_the_search(assistant):
    """In a conversation the main search is the previous turn and the question, not the question."""
    history = [
        ("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", "Theo bài báo: 787 đảng viên [1]")
    ]
    asked = analyse("Còn bao nhiêu bị kỷ luật?", history, assistant.store.records)
    (main, main_weight), (alone, alone_weight) = assistant.retriever.queries(asked)
    assert main.startswith("Tính đến 30-6") and "787 đảng viên" in main and "[1]" not in main
    assert main.endswith("Còn bao nhiêu bị kỷ luật?") and main_weight == 1.0
    assert alone == "Còn bao nhiêu bị kỷ luật?"
    assert alone_weight == assistant.settings.assistant.history_weight < 1.0
    assert assistant.retriever.queries(analyse("Còn bao nhiêu bị kỷ luật?")) == [
        ("Còn bao nhiêu bị kỷ luật?", 1.0)
    ]
    passages = assistant.retriever.retrieve(asked, k=3)
    assert any(DISCIPLINED in p.text for p in passages)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        pytest.param(
            "Giá vàng SJC hôm nay là bao nhiêu?",
            "Không tìm thấy",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known limit (docs/EVALUATION.md): the reader answers the gold price "
                "from a fixture's pepper price (hôm nay ... 2.000 đồng), probability 0.87",
            ),
        ),
        ("Who won the football World Cup in 2018?", "I could not find"),
        ("Đội tuyển bóng đá Việt Nam thắng mấy trận ở AFF Cup?", "Không tìm thấy"),
    ],
)
def test_absent_information_abstains(assistant, question, message):
    answer = assistant.ask(question)
    assert answer.abstained and not answer.citations
    assert answer.text.startswith(message)


def test_filters_narrow_retrieval(assistant):
    question = "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
    assert "787" in assistant.ask(question, filters={"source": "GLO"}).text
    assert "787" in assistant.ask(question, filters={"source": "Báo Gia Lai"}).text
    assert "787" in assistant.ask(question, filters={"since": "2022-07", "until": "2022"}).text
    outside = assistant.ask(question, filters={"since": "2023-01"})
    assert all(c.date is None or c.date >= "2023" for c in outside.citations)
    assert "787" not in outside.text
    with pytest.raises(UsageError):
        assistant.ask(question, filters={"since": "July"})
    with pytest.raises(UsageError):
        assistant.ask(question, filters={"colour": "red"})


def test_runnable_invoke_stream_batch_agree(assistant):
    chain = assistant.chain
    inputs = {"question": "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", "chat_history": []}
    invoked = chain.invoke(inputs)
    streamed = list(chain.stream(inputs))
    batched = chain.batch([inputs, inputs])
    assert invoked == streamed[-1] == batched[0] == batched[1]
    assert "787" in invoked["text"] and invoked["citations"][0]["n"] == 1
    json.dumps(invoked, ensure_ascii=False)
    follow = chain.invoke(
        {
            "question": "Còn bao nhiêu đảng viên bị kỷ luật?",
            "chat_history": [
                {"role": "user", "content": inputs["question"]},
                {"role": "assistant", "content": invoked["text"]},
            ],
        }
    )
    assert "129" in follow["text"]


def test_empty_question_is_a_usage_error(assistant):
    with pytest.raises(UsageError):
        assistant.ask("   ")


def test_diacritics_are_restored_from_the_stored_articles(assistant):
    records = assistant.store.records
    assert (
        restore_diacritics("Tinh den 30-6 ket nap duoc bao nhieu dang vien?", records)
        == "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
    )
    # Case is kept, words typed with marks stay as typed, unknown words are left alone.
    assert restore_diacritics("DANG VIEN o Gia Lai", records) == "ĐẢNG VIÊN ở Gia Lai"
    assert restore_diacritics("Đang vien xyzzy", records) == "Đang viên xyzzy"


def test_unaccented_question_retrieves_what_the_accented_one_does(assistant):
    accented = assistant.respond("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?")[1]
    plain = assistant.respond("Tinh den 30-6 ket nap duoc bao nhieu dang vien?")[1]
    assert [p.chunk_id for p in plain[:3]] == [p.chunk_id for p in accented[:3]]


def test_sentences_rescored_by_the_model_when_asked(assistant):
    settings = assistant.settings.with_overrides(assistant={"semantic_sentences": 2})
    rescoring = Assistant(settings, assistant.store)
    answer = rescoring.ask("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?")
    assert "787" in answer.text and cites(answer, ADMITTED)
