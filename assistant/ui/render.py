"""HTML and chat text for the UI, built so that nothing from an article can run or become markup.

Article text, titles, sources, dates, urls and file names are user data: an uploaded article may
hold `<script>`, `<img onerror=…>` or a Markdown link to `javascript:`. Everything taken from
them goes through `html.escape` (HTML components) or `chat_text` (the Markdown chat), and a url
becomes a link only when it is http(s); otherwise it is shown as text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant.ui.i18n import t

if TYPE_CHECKING:
    from store.docstore import StoredArticle
    from store.report import IngestReport
    from store.store import StoreStats

MARK_ID = "hoidap-cited"
# Markdown punctuation (CommonMark escapes any ASCII punctuation with a backslash). Not `<>&`:
# they become HTML entities, which a backslash would show verbatim.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")


def esc(value: object) -> str:
    """HTML-escape any value, quotes included (safe inside text and attribute values)."""
    return html.escape("" if value is None else str(value), quote=True)


def toast(message: str) -> str:
    """An error message for `gr.Error`, whose toast renders HTML: shown literally, never run."""
    return html.escape(message, quote=False)


def safe_href(url: str | None) -> str | None:
    """The url escaped for an `href` when it is http(s) with a host; None otherwise."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return esc(url.strip())


def chat_text(text: str) -> str:
    """Text for the Markdown chat that shows literally: no HTML, links, images or emphasis."""
    return esc(_MARKDOWN.sub(r"\\\1", text)).replace("\n", "  \n")


def chat_messages(pairs: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    """The chatbot's role/content messages for the conversation's (question, answer) pairs."""
    messages: list[dict[str, str]] = []
    for question, answer in pairs:
        messages.append({"role": "user", "content": chat_text(question)})
        if answer:
            messages.append({"role": "assistant", "content": chat_text(answer)})
    return messages


def with_notice(text: str, notice: str | None) -> str:
    """The answer as shown in the chat, with the note on how it was made, if there is one."""
    return f"{text}\n\nⓘ {notice}" if notice else text


def progressive(text: str, steps: int = 12) -> Iterator[str]:
    """Ever longer prefixes of `text`, cut at word ends, ending with the whole text (streaming)."""
    words = text.split(" ")
    size = max(1, -(-len(words) // steps))
    for end in range(size, len(words), size):
        yield " ".join(words[:end])
    yield text


def _meta(date: str | None, source: str | None) -> str:
    return " · ".join(esc(x) for x in (date, source) if x)


def citation_cards(citations: Sequence[Mapping[str, Any]], lang: str) -> str:
    """One card per citation: number, title, date · source, the quoted passage, its url.

    Each card carries `data-cite="n"`; the UI turns a click on it into opening the article.
    """
    if not citations:
        return f'<p class="hoidap-empty">{esc(t(lang, "no_sources"))}</p>'
    cards = []
    for c in citations:
        n = int(c["n"])
        href = safe_href(c.get("url"))
        url = ""
        if href:
            url = f'<a class="hoidap-url" href="{href}" target="_blank" rel="noopener noreferrer nofollow">{esc(c.get("url"))}</a>'  # noqa: E501
        elif c.get("url"):
            url = f'<span class="hoidap-url">{esc(c.get("url"))}</span>'
        cards.append(
            f'<div class="hoidap-card" data-cite="{n}" role="button" tabindex="0" '
            f'title="{esc(t(lang, "open_article"))}">'
            f'<div class="hoidap-card-head"><span class="hoidap-n">[{n}]</span> '
            f"<strong>{esc(c.get('title'))}</strong></div>"
            f'<div class="hoidap-meta">{_meta(c.get("date"), c.get("source"))}</div>'
            f'<blockquote class="hoidap-passage">{esc(c.get("passage"))}</blockquote>'
            f'{url}<div class="hoidap-open">{esc(t(lang, "open_article"))} →</div></div>'
        )
    return '<div class="hoidap-cards">' + "".join(cards) + "</div>"


def article_html(
    article: StoredArticle | None, start: int | None, end: int | None, lang: str, n: int = 0
) -> str:
    """The whole article as text, the span `[start, end)` inside `<mark id="hoidap-cited">`.

    Offsets are clamped to the text; an empty or inverted span highlights nothing.
    """
    if article is None:
        return f'<p class="hoidap-empty">{esc(t(lang, "article_missing"))}</p>'
    text = article.text
    lo = min(max(start or 0, 0), len(text))
    hi = min(max(end or 0, lo), len(text))
    if hi > lo:
        body = (
            f'{esc(text[:lo])}<mark id="{MARK_ID}" class="hoidap-mark" data-cite="{n}">'
            f"{esc(text[lo:hi])}</mark>{esc(text[hi:])}"
        )
    else:
        body = esc(text)
    href = safe_href(article.url)
    url = ""
    if href:
        url = f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{esc(article.url)}</a>'  # noqa: E501
    elif article.url:
        url = f"<span>{esc(article.url)}</span>"
    meta = _meta(article.date, article.source_name or article.source)
    author = f'<div class="hoidap-meta">{esc(article.author)}</div>' if article.author else ""
    return (
        f'<div class="hoidap-article"><h3>{esc(article.title)}</h3>'
        f'<div class="hoidap-meta">{meta}</div>{author}{url}'
        f'<div class="hoidap-text">{body}</div></div>'
    )


def header(lang: str) -> str:
    return (
        f'<div class="hoidap-header"><h1>{esc(t(lang, "title"))}</h1>'
        f"<p>{esc(t(lang, 'subtitle'))}</p></div>"
    )


def heading(text: str) -> str:
    return f'<h3 class="hoidap-heading">{esc(text)}</h3>'


def notice(text: str) -> str:
    return f'<p class="hoidap-notice">{esc(text)}</p>'


def no_article(lang: str) -> str:
    return f'<p class="hoidap-empty">{esc(t(lang, "no_article"))}</p>'


def stats_html(stats: StoreStats, lang: str) -> str:
    """The store's counts, or how to add articles when it is empty."""
    if not stats.articles:
        return f'<p class="hoidap-stats hoidap-empty">{esc(t(lang, "empty_store"))}</p>'
    text = t(lang, "stats", articles=stats.articles, chunks=stats.chunks, model=stats.model or "-")
    return f'<p class="hoidap-stats">{esc(text)}</p>'


def report_rows(report: IngestReport) -> list[list[Any]]:
    """The per-file results, language-free: [file, status, articles, reason]."""
    return [[f.path, f.status, f.articles, f.reason or "; ".join(f.problems)] for f in report.files]


def upload_table(rows: Sequence[Sequence[Any]], lang: str) -> dict[str, Any]:
    """The result table (a `gr.Dataframe` value): headers and statuses in `lang`, plain text."""
    names = t(lang, "status")
    data = [[path, names.get(status, status), n, reason] for path, status, n, reason in rows]
    return {"headers": t(lang, "headers"), "data": data}


def upload_summary(rows: Sequence[Sequence[Any]], lang: str) -> str:
    if not rows:
        return ""
    statuses = [row[1] for row in rows]
    counts = {s: statuses.count(s) for s in ("added", "updated", "unchanged", "skipped", "failed")}
    return notice(t(lang, "upload_summary", files=len(rows), **counts))


def source_choices(sources: Sequence[tuple[str, str | None, int]]) -> list[tuple[str, str]]:
    """Dropdown choices (label, source code) from `Assistant.sources()`."""
    return [(f"{name or code} ({code}) · {count}", code) for code, name, count in sources]


CSS = """
.hoidap-cards { display: flex; flex-direction: column; gap: .5rem; }
.hoidap-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .6rem .8rem; cursor: pointer; }
.hoidap-card:hover, .hoidap-card:focus { border-color: var(--color-accent); outline: none; }
.hoidap-n { color: var(--color-accent); font-weight: 600; }
.hoidap-meta { color: var(--body-text-color-subdued); font-size: .85em; }
.hoidap-passage { margin: .4rem 0; padding-left: .6rem;
  border-left: 3px solid var(--color-accent); white-space: pre-wrap; }
.hoidap-open { font-size: .85em; color: var(--color-accent); }
.hoidap-url { font-size: .85em; word-break: break-all; }
.hoidap-article { max-height: 32rem; overflow-y: auto; }
.hoidap-text { white-space: pre-wrap; line-height: 1.5; margin-top: .5rem; }
mark.hoidap-mark { background: #ffe58a; color: #000; padding: 0 .1em; }
.hoidap-empty { color: var(--body-text-color-subdued); }
"""

# Turns a click (or Enter) on a citation card into the HTML component's `select` event.
CARDS_JS = """
const pick = (event) => {
  const card = event.target.closest('[data-cite]');
  if (card) trigger('select', {index: Number(card.dataset.cite), value: card.dataset.cite});
};
element.addEventListener('click', pick);
element.addEventListener('keydown', (e) => { if (e.key === 'Enter') pick(e); });
"""

# Scrolls the highlighted span into view whenever a new article is shown.
ARTICLE_JS = f"""
watch('value', () => {{
  const mark = element.querySelector('#{MARK_ID}');
  if (mark) mark.scrollIntoView({{block: 'center', behavior: 'smooth'}});
}});
"""
