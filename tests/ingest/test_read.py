from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ingest.errors import IngestError, UsageError
from ingest.read import ParsedFile, derive_title, file_digest, iter_files, read_file
from ingest.settings import IngestSettings
from ingest.sources import source_name

REPO = Path(__file__).resolve().parents[2]
ARTICLES = REPO / "tests" / "fixtures" / "articles"
SAMPLE = REPO / "data" / "sample" / "000_cb7a5b37da5bff54.txt"


def read_one(path: Path, **settings: object) -> ParsedFile:
    return read_file(path, IngestSettings(**settings))


def only_article(path: Path):
    parsed = read_one(path)
    assert len(parsed.articles) == 1
    return parsed.articles[0]


# --- the seed format -----------------------------------------------------------------------


def test_sample_article():
    parsed = read_one(SAMPLE)
    assert parsed.path == SAMPLE
    assert parsed.digest == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert parsed.problems == []
    (article,) = parsed.articles
    assert article.date == "2022-07"
    assert article.source == "GLO"
    assert article.source_name == "Báo Gia Lai"
    assert article.author == "Anh Huy"
    assert article.captions == (
        "Trưởng ban Tổ chức Tỉnh ủy Huỳnh Quang Thái phát biểu tại hội nghị. Ảnh: Anh Huy",
        "Quang cảnh hội nghị. Ảnh: Anh Huy",
    )
    assert article.text.startswith("Chiều 15-7, Ban Tổ chức Tỉnh ủy Gia Lai tổ chức hội nghị")
    assert article.path == str(SAMPLE)
    assert "Ảnh:" not in article.text
    assert "ANH HUY" not in article.text
    assert article.text.endswith("củng cố tổ chức bộ máy cơ quan ban tổ chức cấp ủy các cấp.")
    assert "\n\n\n" not in article.text and "date 2022-07" not in article.text
    assert article.title.startswith("Chiều 15-7, Ban Tổ chức Tỉnh ủy Gia Lai")
    assert len(article.title) <= 101 and article.title.endswith("…")


def test_seed_fixture_with_caption_byline_and_tricky_numbers():
    article = only_article(ARTICLES / "seed_ca_phe_gia_lai.txt")
    assert (article.date, article.source, article.source_name) == ("2023-03", "GLO", "Báo Gia Lai")
    assert article.author == "Minh Châu"
    assert article.captions == ("Nông dân xã Ia Blang thu hoạch cà phê chín. Ảnh: Minh Châu",)
    assert article.text.startswith("Sáng 10-3, Sở Nông nghiệp")
    assert "MINH CHÂU" not in article.text
    assert "1.465 ha" in article.text and "02-NQ/TW" in article.text


def test_seed_fixture_with_full_date_illustration_caption_and_two_authors():
    article = only_article(ARTICLES / "seed_sau_rieng_dak_lak.txt")
    assert article.date == "2021-11-05"
    assert article.source_name == "Báo Đắk Lắk"
    assert article.author == "Hoàng Linh - Thu Hà"
    assert article.captions == ("Vườn sầu riêng tại huyện Krông Pắc. Ảnh minh họa",)
    # New-style tone marks in the file are stored in the traditional form.
    assert "hòa hợp" in article.text and "sức khỏe" in article.text and "Thủy" in article.text
    assert "hoà" not in article.text and "khoẻ" not in article.text


def test_seed_header_without_byline(tmp_path):
    path = tmp_path / "tin.txt"
    path.write_text(" date 2024-01-02 (XYZ)- Một câu ngắn.\nCâu thứ hai ở dòng sau.\n", "utf-8")
    article = only_article(path)
    assert article.date == "2024-01-02"
    assert (article.source, article.source_name) == ("XYZ", "XYZ")
    assert article.author is None
    assert article.text == "Một câu ngắn.\nCâu thứ hai ở dòng sau."
    assert article.title == "Một câu ngắn"


def test_seed_header_only_is_an_error(tmp_path):
    path = tmp_path / "rong.txt"
    path.write_text(" date 2024-01 (GLO)- \n\n", "utf-8")
    with pytest.raises(IngestError, match="rong.txt: no article text"):
        read_one(path)


# --- plain text and markdown ---------------------------------------------------------------


def test_plain_text_first_line_title():
    article = only_article(ARTICLES / "truong_hoc_kon_tum.txt")
    assert article.title == "Kon Tum khánh thành điểm trường mới cho học sinh vùng sâu"
    assert article.text.startswith("Ngày 5/9/2022, tại xã Đăk Na")
    assert article.date is None and article.source is None and article.author is None


def test_plain_text_without_title_line_derives_one(tmp_path):
    path = tmp_path / "khong_tieu_de.txt"
    body = (
        "Sáng nay, mưa lớn kéo dài nhiều giờ liền đã gây ngập úng cục bộ tại nhiều tuyến đường "
        "trung tâm thành phố và khu dân cư. Lực lượng chức năng đã có mặt hỗ trợ."
    )
    path.write_text(body + "\nĐoạn thứ hai.", "utf-8")
    article = only_article(path)
    assert article.text.startswith("Sáng nay, mưa lớn")
    assert article.title.startswith("Sáng nay, mưa lớn") and article.title.endswith("…")
    assert len(article.title) <= 101


def test_markdown_heading_and_syntax_stripped():
    article = only_article(ARTICLES / "le_hoi_cong_chieng.md")
    assert article.title == "Lễ hội văn hóa cồng chiêng Tây Nguyên năm 2023"
    assert article.text.startswith("Tối 15-7-2023, tại Quảng trường Đại Đoàn Kết")
    for syntax in ("#", "**", "](", "!["):
        assert syntax not in article.text
    assert "Lễ hội văn hóa cồng chiêng tỉnh Gia Lai" in article.text
    assert "tham quan không gian trưng bày" in article.text
    assert "\n\nNhiều hoạt động hấp dẫn\n\n" in article.text


def test_markdown_front_matter(tmp_path):
    path = tmp_path / "bai.md"
    path.write_text(
        "---\ntitle: Tiêu đề riêng\ndate: 15/7/2022\nsource: TN\nauthor: Lan Anh\ntag: x\n---\n"
        "# Tiêu đề trong bài\n\nNội dung bài viết.\n",
        "utf-8",
    )
    article = only_article(path)
    assert article.title == "Tiêu đề riêng"
    assert (article.date, article.source_name, article.author) == (
        "2022-07-15",
        "Thanh Niên",
        "Lan Anh",
    )
    assert article.extra == {"tag": "x"}
    assert article.text == "Tiêu đề trong bài\n\nNội dung bài viết."


# --- HTML --------------------------------------------------------------------------------------


def test_html_article_without_boilerplate():
    article = only_article(ARTICLES / "trang_tin_dien_luc.html")
    assert article.title == "Điện lực Gia Lai đóng điện trạm biến áp 110 kV Chư Sê"
    assert article.date == "2022-07-15"
    assert article.author == "Thanh Nhật"
    assert (
        article.url == "https://baogialai.com.vn/dien-luc-gia-lai-dong-dien-tram-110kv-chu-se.html"
    )
    assert article.source_name == "Báo Gia Lai"
    assert article.text.startswith("Ngày 14-7, Công ty Điện lực Gia Lai")
    assert "huyện Chư Pưh" in article.text
    for junk in ("alert", "KHONG_DUOC_XUAT_HIEN", "dataLayer", "onerror", "Trang chủ",
                 "Giấy phép", "Tin liên quan", "color: red", "<"):  # fmt: skip
        assert junk not in article.text, junk


def test_tiny_html_uses_fallback_and_drops_scripts(tmp_path):
    path = tmp_path / "ngan.htm"
    path.write_text(
        "<html><head><title>Tin ngắn</title><script>var x = 'BI_MAT';</script></head>"
        "<body><nav>Trang chủ | Liên hệ</nav><p>Mưa lớn ở Pleiku.</p>"
        "<script>alert(1)</script><img src=x onerror=alert(2)><footer>Bản quyền</footer>"
        "</body></html>",
        "utf-8",
    )
    article = only_article(path)
    assert "Mưa lớn ở Pleiku." in article.text
    for junk in ("BI_MAT", "alert", "Trang chủ", "Bản quyền"):
        assert junk not in article.text


def test_html_without_text_is_an_error(tmp_path):
    path = tmp_path / "trong.html"
    path.write_text("<html><body><script>alert(1)</script></body></html>", "utf-8")
    with pytest.raises(IngestError, match="trong.html: no article text"):
        read_one(path)


# --- JSONL -------------------------------------------------------------------------------------


def test_jsonl_fields_aliases_and_bad_lines():
    parsed = read_one(ARTICLES / "tong_hop.jsonl")
    assert [a.external_id for a in parsed.articles] == ["vn-001", "42", "vn-006"]
    assert len(parsed.problems) == 3
    assert parsed.problems[0].startswith("line 3: invalid JSON")
    assert parsed.problems[1] == "line 4: not a JSON object"
    assert parsed.problems[2] == "line 5: missing or empty text"
    assert all("\n" not in p for p in parsed.problems)

    first, second, third = parsed.articles
    assert first.title == "Kon Tum đón 1,2 triệu lượt khách du lịch"
    assert first.date == "2023-07-15"
    assert (first.source, first.source_name) == ("BKT", "Báo Kon Tum")
    assert first.url == "https://baokontum.com.vn/du-lich-6-thang"
    assert first.extra == {
        "category": "du lịch",
        "tags": '["Măng Đen", "du lịch"]',
        "views": "1520",
    }
    assert first.text.startswith("Trong 6 tháng đầu năm 2023")

    # doc_id / content aliases, a timestamp date, a domain source, a derived title
    assert second.text.startswith("Sáng 2-9, hàng nghìn người dân TP.HCM")
    assert second.date == "2022-09-02"
    assert second.source_name == "Dân trí"
    assert second.title == (
        "Sáng 2-9, hàng nghìn người dân TP.HCM đã đến Nhà hát Thành phố xem bắn pháo hoa mừng "
        "Quốc khánh"
    )
    # body alias, compact date, author
    assert third.date == "2023-08-15"
    assert third.author == "Hồng Thủy"
    assert third.source_name == "Báo Đắk Nông"
    assert all(a.path == str(ARTICLES / "tong_hop.jsonl") for a in parsed.articles)


def test_jsonl_with_no_valid_line_is_an_error(tmp_path):
    path = tmp_path / "hong.jsonl"
    path.write_text('{"id": 1}\nnot json\n', "utf-8")
    with pytest.raises(IngestError, match=r"hong.jsonl: no valid articles \(line 1: missing"):
        read_one(path)


def test_jsonl_unknown_date_kept_raw(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"text": "Nội dung.", "date": "hôm qua"}) + "\n", "utf-8")
    (article,) = read_one(path).articles
    assert article.date is None
    assert article.extra == {"date_raw": "hôm qua"}


# --- encodings and bad files ----------------------------------------------------------------


def test_windows_1258_is_decoded_and_recomposed():
    raw = (ARTICLES / "windows_1258.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    article = only_article(ARTICLES / "windows_1258.txt")
    assert article.text.startswith("Ngày 20-12, tỉnh Lâm Đồng tổ chức lễ hội hoa Đà Lạt")
    assert article.source_name == "Thông tấn xã Việt Nam"
    assert article.author == "Nguyễn Dũng"
    assert not any(0x300 <= ord(ch) <= 0x36F for ch in article.text)  # no combining marks left


def test_utf16_bom():
    article = only_article(ARTICLES / "utf16_bom.txt")
    assert article.title == "Đắk Nông phát triển du lịch gắn với Công viên địa chất"
    assert article.text.startswith("Tỉnh Đắk Nông đang tập trung")
    assert "\ufeff" not in article.text


def test_utf8_bom_seed():
    article = only_article(ARTICLES / "utf8_bom.txt")
    assert (article.date, article.source_name, article.author) == (
        "2022-05-20",
        "Đài Tiếng nói Việt Nam",
        "Phương Anh",
    )
    assert article.text.startswith("Sáng 20-5, tại TP.HCM")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.txt", "file is empty"),
        ("chi_khoang_trang.txt", "file is empty"),
        ("anh_hong.txt", "binary file"),
    ],
)
def test_bad_fixture_files(name, reason):
    with pytest.raises(IngestError) as info:
        read_one(ARTICLES / name)
    message = str(info.value)
    assert message.startswith(str(ARTICLES / name) + ": ")
    assert reason in message and "\n" not in message


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "la.txt"
    path.write_bytes(b"Xin ch\x81o \x8d\x8e\x8f\x90")  # invalid UTF-8 and undefined in cp1258
    with pytest.raises(IngestError, match="la.txt: cannot decode"):
        read_one(path)


def test_binary_without_nul_bytes(tmp_path):
    path = tmp_path / "rac.txt"
    path.write_bytes(bytes(range(1, 32)) * 20)
    with pytest.raises(IngestError, match="rac.txt: looks binary"):
        read_one(path)


def test_bad_utf16_after_bom(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes(b"\xff\xfe" + "Xin chào".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(IngestError, match="u16.txt: starts with a utf-16 byte-order mark"):
        read_one(path)


def test_file_over_size_limit_is_refused(tmp_path):
    path = tmp_path / "lon.txt"
    path.write_text("Tiêu đề\n" + "Một câu. " * 20_000, "utf-8")
    with pytest.raises(IngestError, match=r"lon.txt: file is 0.2 MB, over the 0.1 MB limit"):
        read_one(path, max_file_mb=0.1)
    assert read_one(path, max_file_mb=1).articles


def test_unreadable_path_is_an_error(tmp_path):
    with pytest.raises(IngestError, match="cannot read"):
        read_one(tmp_path / "khong_co.txt")
    with pytest.raises(IngestError, match="cannot read"):
        file_digest(tmp_path / "khong_co.txt")


def test_file_digest_matches_read_file():
    for path in (SAMPLE, ARTICLES / "tong_hop.jsonl"):
        assert file_digest(path) == read_one(path).digest


# --- folders -----------------------------------------------------------------------------------


def test_iter_files_fixture_folder():
    files, skipped = iter_files([ARTICLES])
    names = [p.name for p in files]
    assert names == sorted(names)
    assert {"seed_ca_phe_gia_lai.txt", "tong_hop.jsonl", "trang_tin_dien_luc.html"} <= set(names)
    assert {"le_hoi_cong_chieng.md", "windows_1258.txt", "utf16_bom.txt"} <= set(names)
    assert skipped == []


def test_iter_files_recursive_hidden_and_unsupported(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a" / "b" / "sau.HTML").write_text("<p>x</p>", "utf-8")
    (tmp_path / "a" / "mot.txt").write_text("x", "utf-8")
    (tmp_path / "a" / "bang.pdf").write_bytes(b"%PDF")
    (tmp_path / "a" / "README").write_text("x", "utf-8")
    (tmp_path / ".an.txt").write_text("x", "utf-8")
    (tmp_path / ".git" / "config.txt").write_text("x", "utf-8")
    (tmp_path / "z.jsonl").write_text("{}", "utf-8")
    files, skipped = iter_files([tmp_path, tmp_path / "z.jsonl"])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "z.jsonl",
        "a/mot.txt",
        "a/b/sau.HTML",
    ]
    reasons = {p.name: r for p, r in skipped}
    assert set(reasons) == {"bang.pdf", "README"}
    assert "unsupported file type '.pdf'" in reasons["bang.pdf"]
    assert "without an extension" in reasons["README"]


def test_iter_files_missing_path_is_usage_error(tmp_path):
    (tmp_path / "co.txt").write_text("x", "utf-8")
    with pytest.raises(UsageError, match="khong_co"):
        iter_files([tmp_path / "co.txt", tmp_path / "khong_co"])


# --- metadata helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("GLO", "Báo Gia Lai"),
        ("glo", "Báo Gia Lai"),
        ("DT", "Dân trí"),
        ("VNE", "VnExpress"),
        ("TTXVN", "Thông tấn xã Việt Nam"),
        ("QĐND", "Quân đội Nhân dân"),
        ("QDND", "Quân đội Nhân dân"),
        ("LĐ", "Lao Động"),
        ("BĐK", "Báo Đắk Lắk"),
        ("BKT", "Báo Kon Tum"),
        ("BĐN", "Báo Đắk Nông"),
        ("dantri.com.vn", "Dân trí"),
        ("https://www.vnexpress.net/abc", "VnExpress"),
        ("ABC", "ABC"),
        ("", None),
        (None, None),
    ],
)
def test_source_name(code, name):
    assert source_name(code) == name


def test_derive_title():
    assert derive_title("Câu ngắn. Câu thứ hai.") == "Câu ngắn"
    long = "Một " * 60 + "hết."
    title = derive_title(long)
    assert title.endswith("…") and len(title) <= 101 and " " not in title[-2:]
