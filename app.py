"""The chat UI: `build_ui(assistant, ui)` makes the Gradio app, `main()` builds and serves it.

Run `python app.py` (or `make run`) and open http://127.0.0.1:7860. Handlers are short adapters:
answering is `Assistant.ask`, HTML comes from `assistant/ui/render.py`, uploads are checked by
`assistant/ui/uploads.py`. Per-person state (conversation, citations) lives in `gr.State`; the one
`Assistant` is shared by every session.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

# Offline by construction: set before Gradio is imported, which reads it at import time.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402

from assistant.articles import article_dict, find_article  # noqa: E402
from assistant.core import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.ui import render  # noqa: E402
from assistant.ui.i18n import DEFAULT_LANG, EXAMPLES, LANGUAGES, t  # noqa: E402
from assistant.ui.settings import UiSettings  # noqa: E402
from assistant.ui.uploads import ALLOWED_SUFFIXES, ingest_uploads, save_uploads  # noqa: E402
from ingest.errors import HoidapError  # noqa: E402

logger = logging.getLogger(__name__)
T = TypeVar("T")
ASK = "ask"  # concurrency group of everything that answers questions


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn`, showing a user error (`HoidapError`) as a Gradio error message."""
    try:
        return fn(*args, **kwargs)
    except HoidapError as e:
        raise gr.Error(render.toast(str(e))) from e


def _json(name: str, value: str | None, default: Any) -> Any:
    try:
        return json.loads(value) if value and value.strip() else default
    except json.JSONDecodeError as e:
        raise gr.Error(render.toast(t("en", "bad_json", name=name, error=e))) from e


def _filters(since: str | None, until: str | None, sources: list[str] | None) -> dict[str, Any]:
    dates = {"since": (since or "").strip() or None, "until": (until or "").strip() or None}
    return {**dates, "sources": sources or []}


def build_ui(assistant: Assistant, ui: UiSettings | None = None) -> gr.Blocks:
    """The chat app over `assistant`; `ui` gives the concurrency and upload limits."""
    ui = ui or UiSettings()
    uploads_dir = assistant.settings.store.home / "uploads"
    lang0 = DEFAULT_LANG
    with gr.Blocks(title="hoidap", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        pairs = gr.State([])  # the conversation: [question, answer] pairs, as asked
        cites = gr.State([])  # citations of the last answer, as dicts
        opened = gr.State(None)  # the citation whose article is shown
        upload_rows = gr.State([])  # the last upload's per-file results
        with gr.Row(equal_height=True):
            header = gr.HTML(render.header(lang0), scale=4)
            lang = gr.Radio(LANGUAGES, value=lang0, label=t(lang0, "language"), scale=1)
        stats = gr.HTML(elem_id="hoidap-stats")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label=t(lang0, "chat"),
                    height=440,
                    sanitize_html=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=["copy", "copy_all"],
                    elem_id="hoidap-chat",
                )
                with gr.Row():
                    question = gr.Textbox(
                        label=t(lang0, "question"),
                        placeholder=t(lang0, "placeholder"),
                        scale=5,
                        elem_id="hoidap-question",
                    )
                    send = gr.Button(t(lang0, "send"), variant="primary", scale=1)
                new_chat = gr.Button(t(lang0, "new_chat"), size="sm")
                examples = gr.Examples(
                    [[q] for q in EXAMPLES], [question], label=t(lang0, "examples")
                )
                with gr.Accordion(t(lang0, "filters"), open=False) as filters_box:
                    with gr.Row():
                        since = gr.Textbox(label=t(lang0, "since"), placeholder="2022-01")
                        until = gr.Textbox(label=t(lang0, "until"), placeholder="2022-12-31")
                    source = gr.Dropdown([], multiselect=True, label=t(lang0, "sources_filter"))
                with gr.Accordion(t(lang0, "upload"), open=False) as upload_box:
                    files = gr.File(
                        file_count="multiple",
                        file_types=list(ALLOWED_SUFFIXES),
                        type="filepath",
                        label=t(lang0, "upload"),
                        elem_id="hoidap-upload",
                    )
                    summary = gr.HTML(elem_id="hoidap-upload-summary")
                    table = gr.Dataframe(
                        headers=t(lang0, "headers"),
                        datatype=["str", "str", "number", "str"],
                        interactive=False,
                        wrap=True,
                        label=t(lang0, "upload_result"),
                        elem_id="hoidap-upload-table",
                    )
            with gr.Column(scale=2):
                cards_title = gr.HTML(render.heading(t(lang0, "sources")))
                cards = gr.HTML(
                    render.citation_cards([], lang0),
                    js_on_load=render.CARDS_JS,
                    elem_id="hoidap-cards",
                )
                article_title = gr.HTML(render.heading(t(lang0, "article")))
                article = gr.HTML(
                    render.no_article(lang0), js_on_load=render.ARTICLE_JS, elem_id="hoidap-article"
                )

        # -- handlers: adapters between components and the Assistant ------------------------
        def refresh(lang: str) -> tuple[str, Any]:
            choices = render.source_choices(_call(assistant.sources))
            return render.stats_html(_call(assistant.stats), lang), gr.update(choices=choices)

        def chat(
            q: str, history: list, lang: str, since: str, until: str, srcs: list[str]
        ) -> Iterator[tuple[Any, ...]]:
            if not q or not q.strip():
                raise gr.Error(t(lang, "empty_question"))
            skip = gr.skip()
            thinking = render.chat_messages([*history, (q, t(lang, "thinking"))])
            yield thinking, *[skip] * 5, ""
            events = _call(assistant.stream, q, history, _filters(since, until, srcs))
            written = ""
            answer = None
            while answer is None:
                event = _call(next, events)
                if isinstance(event, str):  # generative: checked sentences as they come
                    written += event
                    yield render.chat_messages([*history, (q, written)]), *[skip] * 6
                else:
                    answer = event
            if not written:  # extractive: the whole answer at once, shown progressively
                for part in render.progressive(answer.text):
                    yield render.chat_messages([*history, (q, part)]), *[skip] * 6
            shown = render.with_notice(answer.text, answer.notice)
            found = answer.to_dict()["citations"]
            yield (
                render.chat_messages([*history, (q, shown)]),
                [*history, [q, answer.text]],
                found,
                render.citation_cards(found, lang),
                render.no_article(lang),
                None,
                skip,
            )

        def clear(lang: str) -> tuple[Any, ...]:
            return [], [], [], render.citation_cards([], lang), render.no_article(lang), None, ""

        def show_article(c: dict | None, lang: str) -> str:
            if c is None:
                return render.no_article(lang)
            doc = _call(assistant.article, c["article_id"])
            return render.article_html(doc, c["start"], c["end"], lang, c["n"])

        def open_citation(found: list[dict], lang: str, evt: gr.SelectData) -> tuple[str, Any]:
            c = next((c for c in found if c["n"] == int(evt.index)), None)
            return show_article(c, lang), c

        def upload(
            paths: list[str] | None,
            lang: str,
            progress: gr.Progress = gr.Progress(),  # noqa: B008  (how Gradio finds the bar)
        ) -> tuple:
            progress(0, desc=t(lang, "progress_save"))
            saved = _call(save_uploads, paths or [], uploads_dir, ui.upload_limits)
            report = _call(
                ingest_uploads,
                lambda batch: assistant.ingest(batch, progress=False),
                saved,
                lambda done, total, name: progress(
                    done / max(total, 1), desc=t(lang, "progress_ingest", name=name)
                ),
            )
            rows = render.report_rows(report)
            summary, table = render.upload_summary(rows, lang), render.upload_table(rows, lang)
            summary += "".join(render.notice(note) for note in report.notes)  # the store's layout
            return summary, table, rows, *refresh(lang)

        def switch(lang: str, found: list[dict], c: dict | None, rows: list) -> tuple[Any, ...]:
            return (
                render.header(lang),
                # The value with the label, so the switch always shows the language it switched
                # to (issue 13 saw neither option selected); an unchanged value fires no change.
                gr.update(label=t(lang, "language"), value=lang),
                gr.update(label=t(lang, "chat")),
                gr.update(label=t(lang, "question"), placeholder=t(lang, "placeholder")),
                gr.update(value=t(lang, "send")),
                gr.update(value=t(lang, "new_chat")),
                gr.update(label=t(lang, "examples")),
                gr.update(label=t(lang, "filters")),
                gr.update(label=t(lang, "since")),
                gr.update(label=t(lang, "until")),
                gr.update(label=t(lang, "upload")),
                gr.update(label=t(lang, "upload")),
                gr.update(value=render.upload_table(rows, lang), label=t(lang, "upload_result")),
                render.upload_summary(rows, lang),
                render.heading(t(lang, "sources")),
                render.citation_cards(found, lang),
                render.heading(t(lang, "article")),
                show_article(c, lang),
                render.stats_html(_call(assistant.stats), lang),
                gr.update(label=t(lang, "sources_filter")),
            )

        # -- wiring ---------------------------------------------------------------------------
        ui_only: dict[str, Any] = {"api_visibility": "undocumented"}
        demo.load(refresh, [lang], [stats, source], **ui_only)
        chat_io = {
            "fn": chat,
            "inputs": [question, pairs, lang, since, until, source],
            "outputs": [chatbot, pairs, cites, cards, article, opened, question],
            "concurrency_id": ASK,
            "concurrency_limit": ui.concurrency,
            "show_progress": "minimal",
        }
        question.submit(**chat_io, **ui_only)
        send.click(**chat_io, **ui_only)
        cleared = [chatbot, pairs, cites, cards, article, opened, question]
        new_chat.click(clear, [lang], cleared, **ui_only)
        chatbot.clear(clear, [lang], cleared, **ui_only)  # the chatbot's own bin button
        cards.select(open_citation, [cites, lang], [article, opened], **ui_only)
        files.upload(
            upload,
            [files, lang],
            [summary, table, upload_rows, stats, source],
            concurrency_id="ingest",
            concurrency_limit=1,
            **ui_only,
        )
        switch_outputs = [header, lang, chatbot, question, send, new_chat, examples.dataset]
        switch_outputs += [filters_box, since, until, upload_box, files, table, summary]
        switch_outputs += [cards_title, cards, article_title, article, stats, source]
        lang.change(switch, [lang, cites, opened, upload_rows], switch_outputs, **ui_only)

        # -- the documented HTTP API (see docs/API.md) ------------------------------------------
        def ask(
            question: str, history: str = "[]", filters: str = "{}", passages: bool = False
        ) -> dict:
            """Answer a question; `history` and `filters` are JSON. Returns the answer as JSON.

            With `passages` true the answer's `passages` lists every retrieved passage.
            """
            conversation = _json("history", history, [])
            answer, found = _call(
                assistant.respond, question, conversation, _json("filters", filters, {})
            )
            return answer.to_dict(found if passages else None)

        def get_article(article_id: str) -> dict:
            """The whole stored article (`text`, `title`, `date`, `source`, `url`, ...).

            `article_id` is a citation's `article_id` or the archive's own `external_id`.
            """
            doc = _call(find_article, assistant.store, article_id or "")
            if doc is None:
                raise gr.Error(t("en", "article_missing"))
            # Not the server's file path (a private detail, and clients take a "path" for a file).
            return article_dict(doc)

        def list_sources() -> list:
            """The stored news sources: code, name and article count."""
            return [{"source": c, "name": n, "articles": k} for c, n, k in assistant.sources()]

        def get_stats() -> dict:
            """The store's counts: articles, chunks, files, model, location."""
            return _call(assistant.stats).as_dict()

        gr.api(ask, api_name="ask", concurrency_id=ASK, concurrency_limit=ui.concurrency)
        gr.api(get_article, api_name="article", concurrency_limit=None)
        gr.api(list_sources, api_name="sources", concurrency_limit=None)
        gr.api(get_stats, api_name="stats", concurrency_limit=None)
    demo.queue(default_concurrency_limit=ui.concurrency, max_size=256)
    return demo


def warm_up(assistant: Assistant) -> None:
    """Ask one example question, so the model is loaded before the first person asks."""
    try:
        if assistant.stats().articles:
            assistant.ask(EXAMPLES[0])
    except HoidapError as e:
        logger.warning("warm-up question failed: %s", e)


def launch(demo: gr.Blocks, ui: UiSettings, *, block: bool = True, debug: bool = False) -> str:
    """Serve `demo` as configured (loopback by default, never a share link); returns its URL."""
    if ui.host not in ("127.0.0.1", "localhost", "::1") and not ui.auth:
        logger.warning("host=%s listens beyond this machine without --auth", ui.host)
    _, url, _ = demo.launch(
        server_name=ui.host,
        server_port=ui.port,
        auth=ui.credentials,
        share=False,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        max_file_size=ui.upload_max_mb * 1024 * 1024,
        show_error=debug,
        prevent_thread_lock=not block,
        quiet=not debug,
        css=render.CSS,
        footer_links=["api"],
    )
    return url


def serve(settings: Settings, *, debug: bool = False) -> None:
    """Build the app over the configured store, load the model, serve until Ctrl+C.

    `hoidap serve` and `python app.py` both end here; user errors raise `HoidapError`, which
    they print as one line.
    """
    ui = settings.ui
    assistant = Assistant.from_settings(settings)
    demo = build_ui(assistant, ui)
    print("Loading the model…", file=sys.stderr)  # noqa: T201
    warm_up(assistant)
    try:
        url = launch(demo, ui, block=False, debug=debug)
    except OSError as e:  # the port is taken, or the address is not this machine's
        raise HoidapError(f"cannot listen on {ui.host}:{ui.port}: {e} Try --port.") from e
    print(f"hoidap chat UI: {url} (Ctrl+C stops it)", file=sys.stderr)  # noqa: T201
    demo.block_thread()


def main(argv: list[str] | None = None) -> None:
    """`python app.py [--host H] [--port P] [--auth user:password] ...`: `hoidap serve`.

    The same command, so the same flags (`--store`, `--llm`, `--debug`, ...) and errors.
    """
    from assistant.cli import main as cli_main

    cli_main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
