"""The chat UI's words in Vietnamese (the default) and English.

Every label and message the UI shows comes from `t(lang, key)`, so switching the language
switches everything; `tests/test_app.py` checks both languages define the same keys.
"""

from __future__ import annotations

from typing import Any, Literal

Lang = Literal["vi", "en"]
DEFAULT_LANG: Lang = "vi"
LANGUAGES: list[tuple[str, Lang]] = [("Tiếng Việt", "vi"), ("English", "en")]

# Shown in both languages whatever the interface language: people ask in either.
EXAMPLES: list[str] = [
    "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?",
    "Còn bao nhiêu đảng viên bị kỷ luật?",
    "How many party members were admitted by 30 June?",
    "How many candidates passed the civil servant exam?",
]

STRINGS: dict[str, dict[str, Any]] = {
    "vi": {
        "title": "Hỏi đáp tin tức",
        "subtitle": "Hỏi về các bài báo đã lưu; mỗi câu trả lời trích dẫn đoạn văn nguồn.",
        "language": "Ngôn ngữ",
        "chat": "Hội thoại",
        "question": "Câu hỏi",
        "placeholder": "Nhập câu hỏi (tiếng Việt hoặc tiếng Anh) rồi nhấn Enter",
        "send": "Gửi",
        "new_chat": "Cuộc hội thoại mới",
        "examples": "Câu hỏi mẫu",
        "filters": "Bộ lọc",
        "since": "Từ ngày (YYYY[-MM[-DD]])",
        "until": "Đến ngày (YYYY[-MM[-DD]])",
        "sources_filter": "Nguồn báo",
        "sources": "Nguồn trích dẫn",
        "no_sources": "Đặt câu hỏi để xem các đoạn được trích dẫn.",
        "open_article": "Xem toàn bài",
        "article": "Bài báo",
        "no_article": "Bấm vào một trích dẫn để mở toàn bài, đoạn được trích sẽ được tô sáng.",
        "article_missing": "Bài báo này không còn trong kho.",
        "upload": "Thêm bài báo (.txt .md .html .htm .jsonl hoặc .zip, kéo thả vào đây)",
        "upload_result": "Kết quả thêm bài",
        "headers": ["Tệp", "Kết quả", "Số bài", "Lý do"],
        "store": "Kho dữ liệu",
        "stats": "{articles} bài báo · {chunks} đoạn · mô hình {model}",
        "empty_store": (
            "Kho chưa có bài báo nào. Kéo thả tệp .txt, .md, .html, .jsonl hoặc .zip vào ô "
            "«Thêm bài báo», hoặc chạy lệnh: hoidap ingest THƯ_MỤC"
        ),
        "thinking": "Đang tìm trong các bài báo…",
        "empty_question": "Hãy nhập câu hỏi.",
        "bad_json": "{name} phải là JSON hợp lệ: {error}",
        "progress_save": "Đang kiểm tra tệp tải lên",
        "progress_ingest": "Đang thêm {name}",
        "upload_summary": "{files} tệp: {added} thêm mới, {updated} cập nhật, "
        "{unchanged} không đổi, {skipped} bỏ qua, {failed} lỗi",
        "status": {
            "added": "thêm mới",
            "updated": "cập nhật",
            "unchanged": "không đổi",
            "skipped": "bỏ qua",
            "failed": "lỗi",
            "removed": "đã xoá",
        },
    },
    "en": {
        "title": "News Q&A",
        "subtitle": "Ask about the stored articles; every answer cites its source passages.",
        "language": "Language",
        "chat": "Conversation",
        "question": "Question",
        "placeholder": "Type a question (Vietnamese or English) and press Enter",
        "send": "Send",
        "new_chat": "New conversation",
        "examples": "Example questions",
        "filters": "Filters",
        "since": "From date (YYYY[-MM[-DD]])",
        "until": "To date (YYYY[-MM[-DD]])",
        "sources_filter": "News source",
        "sources": "Cited sources",
        "no_sources": "Ask a question to see the cited passages.",
        "open_article": "Open the article",
        "article": "Article",
        "no_article": (
            "Click a citation to open the whole article with the cited passage highlighted."
        ),
        "article_missing": "This article is no longer in the store.",
        "upload": "Add articles (.txt .md .html .htm .jsonl or a .zip; drop files here)",
        "upload_result": "Upload result",
        "headers": ["File", "Result", "Articles", "Reason"],
        "store": "Store",
        "stats": "{articles} articles · {chunks} chunks · model {model}",
        "empty_store": (
            "The store has no articles yet. Drop .txt, .md, .html, .jsonl or .zip files on "
            "“Add articles”, or run: hoidap ingest FOLDER"
        ),
        "thinking": "Searching the articles…",
        "empty_question": "Please type a question.",
        "bad_json": "{name} must be valid JSON: {error}",
        "progress_save": "Checking the uploaded files",
        "progress_ingest": "Adding {name}",
        "upload_summary": "{files} files: {added} added, {updated} updated, "
        "{unchanged} unchanged, {skipped} skipped, {failed} failed",
        "status": {
            "added": "added",
            "updated": "updated",
            "unchanged": "unchanged",
            "skipped": "skipped",
            "failed": "failed",
            "removed": "removed",
        },
    },
}


def lang_of(value: str | None) -> Lang:
    """The interface language for a switch value; anything unknown falls back to Vietnamese."""
    return "en" if value == "en" else DEFAULT_LANG


def t(lang: str | None, key: str, **values: Any) -> Any:
    """The text for `key` in `lang`, with `{placeholders}` filled from `values`."""
    text = STRINGS[lang_of(lang)][key]
    return text.format(**values) if values and isinstance(text, str) else text
