"""Question language: Vietnamese with or without marks, English, names inside English."""

from __future__ import annotations

import pytest

from assistant.language import detect_language, fold, gloss_english, names_and_numbers, tokens
from ingest.clean import fold_diacritics


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", "vi"),
        ("Tinh den 30-6 ket nap duoc bao nhieu dang vien?", "vi"),
        ("dang vien ket nap 30-6", "vi"),
        ("Ai là Trưởng ban Tổ chức Tỉnh ủy?", "vi"),
        ("Còn ông ấy?", "vi"),
        ("UBND tinh Gia Lai", "vi"),
        ("hoi nghi to chuc o dau", "vi"),
        ("How many party members were admitted by 30 June?", "en"),
        ("and how many were disciplined?", "en"),
        ("Who is Huỳnh Quang Thái?", "en"),
        ("Who is Huynh Quang Thai?", "en"),
        ("What did Huỳnh Quang Thái say at the conference in Gia Lai?", "en"),
        ("Where is Đắk Lắk?", "en"),
        ("", "vi"),
        ("2022", "vi"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_fold_keeps_offsets() -> None:
    text = "Ban Tổ chức Tỉnh ủy Đắk Lắk, “TP.HCM” – 43,72%"
    assert fold(text) == fold_diacritics(text)
    assert len(fold(text)) == len(text)
    for tok in tokens(text):
        assert fold(text[tok.start : tok.end]) == tok.folded


def test_tokens_split_numbers_and_codes() -> None:
    assert [t.folded for t in tokens("ngày 30-6, 02-NQ/TW")] == [
        "ngay",
        "30",
        "6",
        "02",
        "nq",
        "tw",
    ]
    assert [t.accented for t in tokens("đảng dang")] == [True, False]


def test_gloss_english() -> None:
    glossed = dict(gloss_english("How many party members were disciplined in June?"))
    assert glossed["party members"] == [["dang", "vien"]]
    assert glossed["disciplined"] == [["ky", "luat"]]
    assert glossed["june"] == [["thang", "6"]]
    assert glossed["how"] == []


@pytest.mark.parametrize(
    ("question", "searched"),
    [
        ("How many party members did Gia Lai admit by 30 June?", "Gia Lai . 30"),
        ("Who chaired the conference?", ""),
        ("What did Pleiku decide about Đắk Đoa in 2022?", "Đắk Đoa . 2022"),
        ("Did VFF Vice President Tran Quoc Tuan visit Dak Lak?", "Tran Quoc Tuan . Dak Lak"),
        ("When was Paris occupied by the Roman Empire?", ""),
    ],
)
def test_an_english_question_is_searched_word_for_word_by_its_names_and_numbers(
    question: str, searched: str
) -> None:
    assert names_and_numbers(question) == searched
