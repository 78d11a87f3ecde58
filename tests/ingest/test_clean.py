from __future__ import annotations

import unicodedata

import pytest

from ingest.clean import (
    clean_line,
    clean_text,
    fold_diacritics,
    normalize_date,
    normalize_query,
    normalize_tone_marks,
)


def test_nfc_from_decomposed_input():
    decomposed = unicodedata.normalize("NFD", "Tiếng Việt có dấu")
    assert decomposed != "Tiếng Việt có dấu"
    assert clean_text(decomposed) == "Tiếng Việt có dấu"


@pytest.mark.parametrize(
    ("new_style", "traditional"),
    [
        ("hoà", "hòa"),
        ("Hoá", "Hóa"),
        ("thuý", "thúy"),
        ("khoẻ", "khỏe"),
        ("Thuỷ", "Thủy"),
        ("Uỷ ban", "Ủy ban"),
        ("toạ đàm", "tọa đàm"),
        ("nguỵ", "ngụy"),
        ("HOÀ", "HÒA"),
        ("oà khóc", "òa khóc"),
    ],
)
def test_tone_marks_use_traditional_placement(new_style, traditional):
    assert clean_text(new_style) == traditional
    assert len(normalize_tone_marks(new_style)) == len(new_style)


@pytest.mark.parametrize(
    "unchanged", ["quý", "Quý", "hoàng", "thuyết", "khuya", "hòa", "thủy", "khỏe", "huỳnh", "hoa"]
)
def test_tone_marks_leave_other_syllables_alone(unchanged):
    assert clean_text(unchanged) == unchanged


def test_zero_width_and_control_characters_removed():
    text = "Gia\u200b Lai\u200d có\ufeff mưa\x07 lớn\x00.\u00ad"
    assert clean_text(text) == "Gia Lai có mưa lớn."


def test_zero_width_between_letter_and_mark_recombines():
    assert clean_text("ca\u200b\u0301") == "cá"


def test_whitespace_collapsed_within_lines():
    text = "  Một\t\thai\u00a0 ba\u2009bốn  \nnăm   sáu  "
    assert clean_text(text) == "Một hai ba bốn\nnăm sáu"


def test_paragraphs_kept_as_single_blank_line():
    text = "Đoạn một.\r\n\r\n\r\n\r\nĐoạn hai.\n  \n\t\nĐoạn ba.\nDòng tiếp.\u2029Đoạn bốn."
    assert clean_text(text) == "Đoạn một.\n\nĐoạn hai.\n\nĐoạn ba.\nDòng tiếp.\nĐoạn bốn."


def test_clean_text_is_idempotent():
    text = "  Hoà  bình\u200b.\n\n\n\nKhoẻ  mạnh.  "
    once = clean_text(text)
    assert clean_text(once) == once


def test_clean_line_and_query_are_single_line():
    assert clean_line("  Tiêu đề\n\n bài   viết ") == "Tiêu đề bài viết"
    assert normalize_query("  Ai là  Phó Giám đốc\n Sở hoà giải? ") == (
        "Ai là Phó Giám đốc Sở hòa giải?"
    )


def test_query_and_article_cleaning_agree():
    question = unicodedata.normalize("NFD", "Sức khoẻ của Thuý")
    assert normalize_query(question) in clean_text("Bài viết về Sức khỏe của Thúy.")


def test_fold_diacritics():
    assert fold_diacritics("Đắk Lắk") == "dak lak"
    assert fold_diacritics("HÒA BÌNH, Thủy") == "hoa binh, thuy"
    assert fold_diacritics(unicodedata.normalize("NFD", "Tiếng Việt")) == "tieng viet"
    assert len(fold_diacritics("Tỉnh ủy Gia Lai")) == len("Tỉnh ủy Gia Lai")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2022-07", "2022-07"),
        ("2022-07-15", "2022-07-15"),
        ("2022-7-5", "2022-07-05"),
        ("15/7/2022", "2022-07-15"),
        ("15-07-2022", "2022-07-15"),
        ("2022-07-15T08:00:00", "2022-07-15"),
        ("2022-07-15T23:30:00+07:00", "2022-07-15"),
        ("20201001", "2020-10-01"),
        (20201001, "2020-10-01"),
        ("7/2022", "2022-07"),
        ("ngày 15 tháng 7 năm 2022", "2022-07-15"),
        ("Thứ Sáu, 15/07/2022 08:00", "2022-07-15"),
        ("2022", "2022"),
        ("2022-13-01", None),
        ("31/2/2022", None),
        ("hôm qua", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_date(raw, expected):
    assert normalize_date(raw) == expected
