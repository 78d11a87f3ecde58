"""The real chat app on a free loopback port, driven over HTTP with `gradio_client`."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
Q_JUNE = "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
Q_JUNE_EN = "How many party members were admitted by 30 June?"
Q_DISCIPLINE = "Còn bao nhiêu đảng viên bị kỷ luật?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def client(served):
    from gradio_client import Client

    return Client(served[0], verbose=False)


def ask(client, question: str, history=(), filters=None) -> dict:
    return client.predict(
        question, json.dumps(list(history)), json.dumps(filters or {}), api_name="/ask"
    )


def chat_text(outputs) -> str:
    """The last assistant message in the chatbot value of one `/chat` output."""
    return outputs[0][-1]["content"][0]["text"]


@pytest.mark.slow
def test_binds_loopback_and_names_its_endpoints(served, client):
    assert served[0].startswith("http://127.0.0.1:")
    api = client.view_api(print_info=False, return_format="dict")
    assert {"/ask", "/article", "/sources", "/stats"} <= set(api["named_endpoints"])
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


@pytest.mark.slow
def test_ask_cites_the_sentence_with_the_number(client, served):
    answer = ask(client, Q_JUNE)
    assert "787" in answer["text"] and not answer["abstained"]
    [first, *_] = answer["citations"]
    assert first["n"] == 1 and "787" in first["passage"]
    article = client.predict(first["article_id"], api_name="/article")
    assert article["text"][first["start"] : first["end"]].strip() == first["passage"].strip()
    assert "path" not in article  # no server paths over the API


@pytest.mark.slow
def test_follow_up_uses_the_history(client):
    first = ask(client, Q_JUNE)
    follow = ask(client, Q_DISCIPLINE, history=[[Q_JUNE, first["text"]]])
    assert "129" in follow["text"]
    assert any("129" in c["passage"] for c in follow["citations"])
    messages = [
        {"role": "user", "content": Q_JUNE},
        {"role": "assistant", "content": first["text"]},
    ]
    assert "129" in ask(client, Q_DISCIPLINE, history=messages)["text"]


@pytest.mark.slow
def test_english_question(client):
    answer = ask(client, Q_JUNE_EN)
    assert "787" in answer["text"] and answer["citations"]


@pytest.mark.slow
def test_filters_narrow_retrieval(client):
    assert "787" in ask(client, Q_JUNE, filters={"since": "2022-07", "sources": ["GLO"]})["text"]
    later = ask(client, Q_JUNE, filters={"since": "2023"})
    assert later["abstained"] and not later["citations"]


@pytest.mark.slow
def test_user_errors_come_back_as_messages(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        ask(client, "  ")
    with pytest.raises(AppError, match="valid JSON"):
        client.predict(Q_JUNE, "[", "{}", api_name="/ask")
    with pytest.raises(AppError, match="YYYY"):
        ask(client, Q_JUNE, filters={"since": "hôm qua"})
    with pytest.raises(AppError, match="no longer in the store"):
        client.predict("nope", api_name="/article")


@pytest.mark.slow
def test_sources_and_stats(client):
    assert client.predict(api_name="/sources") == [
        {"source": "GLO", "name": "Báo Gia Lai", "articles": 1}
    ]
    stats = client.predict(api_name="/stats")
    assert stats["articles"] == 1 and stats["chunks"] > 0 and stats["model"]


@pytest.mark.slow
def test_chat_streams_and_keeps_each_session_separate(served):
    """The UI's own chat event: answers stream in; each browser session has its conversation."""
    from gradio_client import Client

    def chat(c, question: str):
        job = c.submit(question, "vi", "", "", [], api_name="/chat")
        job.result()
        return job.outputs()

    alice, bob = Client(served[0], verbose=False), Client(served[0], verbose=False)
    outputs = chat(alice, Q_JUNE)
    texts = [chat_text(o) for o in outputs]
    assert len(texts) >= 3 and "787" in texts[-1]
    assert len(set(texts)) >= 3  # the thinking line, partial answers, the whole answer
    cards = outputs[-1][1]
    assert 'data-cite="1"' in cards and "787" in cards

    results: dict[str, list] = {}
    threads = [
        threading.Thread(target=lambda: results.__setitem__("a", chat(alice, Q_DISCIPLINE))),
        threading.Thread(target=lambda: results.__setitem__("b", chat(bob, Q_JUNE_EN))),
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert "129" in chat_text(results["a"][-1])
    assert len(results["a"][-1][0]) == 4  # alice: two turns
    assert "787" in chat_text(results["b"][-1])
    assert len(results["b"][-1][0]) == 2  # bob: only his own turn

    cleared = alice.predict("vi", api_name="/clear")
    assert cleared[0] == [] and "data-cite" not in cleared[1]


@pytest.mark.slow
def test_sixteen_concurrent_sessions(served):
    """16 sessions at once, each with its own history, all get their own correct answers."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    def session(i: int) -> tuple[str, str]:
        c = Client(served[0], verbose=False)
        first = ask(c, Q_JUNE if i % 2 else Q_JUNE_EN)
        follow = ask(c, Q_DISCIPLINE, history=[[Q_JUNE, first["text"]]])
        return first["text"], follow["text"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(session, range(16)))
    assert all("787" in a and "129" in b for a, b in results)


@pytest.mark.slow
def test_auth_is_required_when_set(served):
    import httpx
    from gradio_client import Client

    from app import build_ui, launch
    from assistant.ui.settings import UiSettings

    ui = UiSettings(port=free_port(), auth="reader:s3cret")
    demo = build_ui(served[1], ui)
    url = launch(demo, ui, block=False)
    try:
        assert httpx.get(f"{url}config").status_code == 401
        client = Client(url, auth=("reader", "s3cret"), verbose=False)
        assert client.predict(api_name="/stats")["articles"] == 1
    finally:
        demo.close()


def test_settings_and_flags(monkeypatch):
    from assistant.settings import Settings
    from ingest.errors import UsageError

    monkeypatch.setenv("HOIDAP_AUTH", "u:p:with:colons")
    monkeypatch.setenv("HOIDAP_PORT", "9000")
    ui = Settings.load().ui
    assert ui.credentials == ("u", "p:with:colons") and ui.port == 9000
    assert ui.host == "127.0.0.1"
    ui = Settings.load().with_overrides(ui={"host": "0.0.0.0", "port": None}).ui
    assert ui.host == "0.0.0.0" and ui.port == 9000
    with pytest.raises(UsageError, match="user:password"):
        Settings.load().with_overrides(ui={"auth": "nocolon"})
    monkeypatch.setenv("HOIDAP_PROT", "1")
    with pytest.raises(UsageError, match="HOIDAP_PROT"):
        Settings.load()


def test_main_reports_bad_flags_without_a_traceback(monkeypatch, capsys):
    import app

    with pytest.raises(SystemExit) as e:
        app.main(["--auth", ":nouser"])
    assert e.value.code == 1
    assert capsys.readouterr().err.startswith("Error: Invalid setting")


@pytest.mark.slow
def test_the_documented_client_example_works(served, capsys):
    """The `gradio_client` example in docs/API.md runs as written against the app."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "API.md").read_text(encoding="utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code.replace("http://127.0.0.1:7860/", served[0]), "docs/API.md", "exec"), {})
    out = capsys.readouterr().out
    assert "787" in out and "129 đảng viên" in out
    assert "có 129 đảng viên bị thi hành kỷ luật" in out


@pytest.mark.slow
def test_empty_store_then_upload_through_the_ui(make_assistant, tmp_path, write_article):
    """An empty store says how to add articles; a dropped zip is ingested file by file."""
    import zipfile

    from gradio_client import Client, handle_file

    from app import build_ui, launch
    from assistant.ui.settings import UiSettings

    assistant = make_assistant()
    ui = UiSettings(port=free_port())
    demo = build_ui(assistant, ui)
    url = launch(demo, ui, block=False)
    try:
        client = Client(url, verbose=False)
        stats_html, _ = client.predict("vi", api_name="/refresh")
        assert "hoidap ingest" in stats_html
        article = write_article(tmp_path / "src", "kon_tum.txt", "Có 321 nghệ nhân tham gia.")
        good = tmp_path / "tin.zip"
        with zipfile.ZipFile(good, "w") as zf:
            zf.write(article, "bai/kon_tum.txt")
            zf.writestr("anh.png", b"\x89PNG")
        bad = tmp_path / "bad.zip"
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("../../evil.txt", "x")
        summary, table, stats_html, _ = client.predict(
            [handle_file(good), handle_file(bad)], "en", api_name="/upload"
        )
        rows = {row[0]: row[1:] for row in table["data"]}
        assert rows["tin.zip/bai/kon_tum.txt"][:2] == ["added", 1]
        assert rows["tin.zip/anh.png"][0] == "skipped"
        assert rows["bad.zip"][0] == "failed" and "unsafe path" in rows["bad.zip"][2]
        assert "1 added" in summary and "1 articles" in stats_html
        assert not list(tmp_path.rglob("evil.txt"))
        uploads = assistant.settings.store.home / "uploads"
        assert (uploads / "archives" / "tin.zip" / "bai" / "kon_tum.txt").exists()
    finally:
        demo.close()


@pytest.mark.slow
def test_article_by_either_id_and_ask_with_passages(make_assistant, tmp_path):
    """`/article` takes the archive's own id too; `/ask` adds the retrieved passages on request."""
    from gradio_client import Client

    from app import build_ui, launch
    from assistant.ui.settings import UiSettings

    assistant = make_assistant()
    archive = tmp_path / "archive.jsonl"
    record = {
        "id": "BKT-2022-08-0042",
        "url": "https://baokontum.com.vn/van-hoa/le-hoi-cong-chieng-42.html",
        "title": "Lễ hội cồng chiêng",
        "source": "BKT",
        "text": "Lễ hội cồng chiêng Kon Tum năm nay có 321 nghệ nhân tham gia.",
    }
    archive.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert not assistant.ingest([SAMPLE, archive], progress=False).failed
    ui = UiSettings(port=free_port())
    demo = build_ui(assistant, ui)
    url = launch(demo, ui, block=False)
    try:
        client = Client(url, verbose=False)
        by_external = client.predict(record["id"], api_name="/article")
        assert by_external["external_id"] == record["id"] and by_external["url"] == record["url"]
        by_internal = client.predict(by_external["id"], api_name="/article")
        assert by_internal == by_external and "path" not in by_internal

        question = "Lễ hội cồng chiêng Kon Tum có bao nhiêu nghệ nhân tham gia?"
        plain = ask(client, question)  # the three-input call of earlier clients still works
        assert plain["passages"] is None
        detailed = client.predict(question, "[]", "{}", True, api_name="/ask")
        [top, *_] = detailed["passages"]
        assert top["external_id"] == record["id"] and top["url"] == record["url"]
        assert "321" in top["text"] and top["score"] > 0 and "article_text" not in top
        assert "321" in detailed["text"]  # needs the trained reader
        assert detailed["citations"][0]["external_id"] == record["id"]
    finally:
        demo.close()
