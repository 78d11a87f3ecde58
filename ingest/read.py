"""Read files into cleaned `Article`s: seed archive text, plain text/Markdown, HTML and JSONL.

Every failure a user can cause (too big, binary, undecodable, empty, no article) raises
`IngestError` with a one-line message naming the file, so one bad file is reported and the
batch goes on. Partial failures inside a JSONL file are returned as `ParsedFile.problems`.

Seed format (`data/sample/`): the first line starts ` date 2022-07 (GLO)- ` and the body
follows on the same line. A last short upper-case line (`ANH HUY`) is the byline: it is
removed from the body and stored as `author` in title case (`Anh Huy`, the form photo credits
use); only the seed format has this convention, elsewhere a short last line stays text.

Photo captions, in every format, are whole lines (up to 300 chars) ending in `Ảnh: NAME` or
`Ảnh minh họa`. They move to `Article.captions`: they describe pictures rather than the story,
and their credit names the photographer, who is not the article's author.

Titles: a Markdown `# ` heading, front matter, HTML metadata or a JSONL `title` when given;
for text files a first line that looks like a title (at most 200 chars and 30 words, not
ending in `.`, `,`, `;`, `:` or `…`, not starting in lower case, followed by more text);
otherwise the first sentence, cut at a word before 100 chars with `…`.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunk import split_sentences
from ingest.clean import clean_line, clean_text, normalize_date
from ingest.errors import IngestError, UsageError
from ingest.models import Article
from ingest.settings import IngestSettings
from ingest.sources import SOURCE_NAMES, source_name

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".htm", ".html", ".jsonl", ".md", ".txt")
TITLE_MAX_CHARS = 100

_SEED_HEADER = re.compile(
    r"\A\s*date\s+(?P<date>[^\s(]*)\s*\((?P<source>[^)\n]{1,40})\)\s*[-–—:]?[ \t]*", re.I
)
_CAPTION = re.compile(r"(?:\bẢnh|\bẢNH)\s*(?::\s*[^.!?:;\n]{1,60}?|minh họa)\s*\)?\s*\.?$")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---(?:\n|\Z)", re.S)
_CAPTION_MAX_CHARS = 300  # a longer line ending in a credit is a paragraph; keep it in the body
# Not //form: ASP.NET sites wrap the whole page, article included, in one <form>.
_HTML_BOILERPLATE = ["//nav", "//footer", "//aside", "//header[not(ancestor::article)]"]
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*>")
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f]")  # rare in text, common in binary
_CHUNK = 1 << 20


@dataclass
class ParsedFile:
    """What one file yielded; `problems` lists skipped parts of a partly readable file."""

    path: Path
    digest: str
    articles: list[Article]
    problems: list[str] = field(default_factory=list)


def iter_files(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders (recursively) into the files we can read.

    Hidden files and folders inside a folder are ignored; other unsupported files are
    returned with a reason so the user sees them.

    Args:
        paths: Files or folders given by the user.

    Returns:
        `(files, skipped)`: supported files in a stable order, and `(path, reason)` pairs.

    Raises:
        UsageError: A path does not exist (checked before any work).
    """
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"No such file or folder: {', '.join(missing)}")
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    seen: set[Path] = set()

    def visit(path: Path) -> None:
        key = path.resolve()
        if key in seen:
            return
        seen.add(key)
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
        else:
            what = f"'{path.suffix}'" if path.suffix else "without an extension"
            skipped.append(
                (path, f"unsupported file type {what} ({', '.join(SUPPORTED_SUFFIXES)})")
            )

    for given in paths:
        root = Path(given)
        if not root.is_dir():
            visit(root)
            continue
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith("."):
                    visit(Path(folder) / name)
    return files, skipped


def file_digest(path: Path) -> str:
    """Sha256 hex of the file's bytes, read in blocks, so unchanged files skip parsing."""
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(_CHUNK):
                sha.update(block)
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror or e})") from e
    return sha.hexdigest()


def read_file(path: Path, settings: IngestSettings) -> ParsedFile:
    """Read one file into cleaned articles.

    Args:
        path: A `.txt`, `.md`, `.html`/`.htm` or `.jsonl` file.
        settings: `max_file_mb` is enforced before reading.

    Returns:
        The articles, the digest of the raw bytes, and per-line problems (JSONL).

    Raises:
        IngestError: The whole file is unusable; the message names the file and why.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > settings.max_file_mb * 1024 * 1024:
            raise IngestError(
                f"{path}: file is {size / 1024 / 1024:.1f} MB, over the {settings.max_file_mb:g} MB"
                " limit (raise HOIDAP_MAX_FILE_MB to read it)"
            )
        raw = path.read_bytes()
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror or e})") from e
    digest = hashlib.sha256(raw).hexdigest()
    text = decode_bytes(raw, path)
    if not text.strip():
        raise IngestError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    problems: list[str] = []
    if suffix == ".jsonl":
        articles = _parse_jsonl(text, path, problems)
    elif suffix in (".html", ".htm"):
        articles = [_parse_html(text, path)]
    else:
        articles = [_parse_text(text, path, markdown=suffix == ".md")]
    logger.debug("read path=%s articles=%d problems=%d", path, len(articles), len(problems))
    return ParsedFile(path=path, digest=digest, articles=articles, problems=problems)


def decode_bytes(raw: bytes, path: Path) -> str:
    """Decode UTF-8 (BOM optional), UTF-16/32 with BOM, else Windows-1258; refuse binary."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise IngestError(
                    f"{path}: starts with a {encoding} byte-order mark but is not valid {encoding}"
                ) from e
    if b"\x00" in raw:
        raise IngestError(
            f"{path}: binary file (contains NUL bytes), not text; UTF-16 needs a byte-order mark"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            # cp1258 yields base letters + combining tone marks; clean_text's NFC recombines them.
            text = raw.decode("cp1258")
        except UnicodeDecodeError as e:
            raise IngestError(
                f"{path}: cannot decode: not UTF-8, UTF-16 (with BOM) or Windows-1258 text"
            ) from e
        logger.debug("decoded path=%s encoding=cp1258", path)
    controls = len(_BINARY_CONTROLS.findall(text))
    if controls > 2 and controls > len(text) // 200:
        raise IngestError(f"{path}: looks binary ({controls} control characters), not text")
    return text


def derive_title(text: str) -> str:
    """Title from the first sentence, cut at a word before `TITLE_MAX_CHARS` with an ellipsis."""
    head = text[:2000]
    spans = split_sentences(head)
    first = head[spans[0][0] : spans[0][1]] if spans else head
    title = clean_line(first).rstrip(" .,;:")
    if len(title) > TITLE_MAX_CHARS:
        cut = title.rfind(" ", 0, TITLE_MAX_CHARS)
        title = (
            title[: cut if cut > TITLE_MAX_CHARS // 2 else TITLE_MAX_CHARS].rstrip(" ,;:-–") + "…"
        )
    return title


def author_from_byline(line: str) -> str:
    """`ANH HUY` -> `Anh Huy`; outlet codes such as `TTXVN` stay upper case."""
    words = []
    for word in line.split():
        bare = word.strip("()[],.-–")
        words.append(word if bare.upper() in SOURCE_NAMES else word.title())
    return " ".join(words)


def _is_byline(line: str) -> bool:
    letters = [ch for ch in line if ch.isalpha()]
    return (
        0 < len(line) <= 60
        and len(line.split()) <= 8
        and bool(letters)
        and all(ch.isupper() for ch in letters)
        and not any(ch.isdigit() for ch in line)
        and line[-1] not in ".:;?!"
    )


def _looks_like_title(line: str) -> bool:
    return (
        len(line) <= 200
        and len(line.split()) <= 30
        and line[-1] not in ".,;:…"
        and not line[0].islower()
        and not _CAPTION.search(line)
    )


def _split_captions(body: str) -> tuple[str, tuple[str, ...]]:
    """Move whole lines ending in a photo credit (`... Ảnh: Anh Huy`) out of cleaned text."""
    if "Ảnh" not in body and "ẢNH" not in body:
        return body, ()
    kept, captions = [], []
    for line in body.split("\n"):
        is_caption = 0 < len(line) <= _CAPTION_MAX_CHARS and _CAPTION.search(line)
        (captions if is_caption else kept).append(line)
    if not captions:
        return body, ()
    return clean_text("\n".join(kept)), tuple(captions)


def _parse_text(text: str, path: Path, *, markdown: bool) -> Article:
    text = clean_text(text)
    header = _SEED_HEADER.match(text)
    if header:
        return _parse_seed(text[header.end() :], header, path)
    meta: dict[str, str] = {}
    if markdown and (front := _FRONT_MATTER.match(text)):
        for line in front.group(1).split("\n"):
            key, sep, value = line.partition(":")
            if sep and value.strip():
                meta[key.strip().lower()] = value.strip().strip("\"'")
        text = text[front.end() :]
    title = meta.pop("title", "")
    first, _, rest = text.partition("\n")
    heading = _MD_HEADING.match(first) if markdown else None
    if not title and heading:
        title, text = heading.group(1), rest
    elif not title and rest.strip() and _looks_like_title(first):
        title, text = first, rest
    if markdown:
        text = _MD_HEADING.sub(r"\1", text)
        text = _MD_LINK.sub(r"\1", _MD_IMAGE.sub("", text))
        text = _MD_EMPHASIS.sub(r"\2", text)
    body, captions = _split_captions(text)
    body = clean_text(body)
    if not body:
        raise IngestError(f"{path}: no article text")
    source = meta.pop("source", None)
    return Article(
        title=clean_line(title) or derive_title(body),
        text=body,
        path=str(path),
        date=normalize_date(meta.pop("date", None)),
        source=source,
        source_name=source_name(source),
        author=_as_str(meta.pop("author", None)),
        url=_as_str(meta.pop("url", None)),
        captions=captions,
        extra=meta,
    )


def _parse_seed(body: str, header: re.Match[str], path: Path) -> Article:
    body, captions = _split_captions(body)
    lines = body.rstrip().split("\n")
    author = None
    if len(lines) > 1 and _is_byline(lines[-1].strip()):
        author = author_from_byline(lines.pop().strip())
    body = clean_text("\n".join(lines))
    if not body:
        raise IngestError(f"{path}: no article text after the 'date ... (SOURCE)-' header")
    source = clean_line(header.group("source"))
    return Article(
        title=derive_title(body),
        text=body,
        path=str(path),
        date=normalize_date(header.group("date")),
        source=source,
        source_name=source_name(source),
        author=author,
        captions=captions,
    )


def _parse_html(html: str, path: Path) -> Article:
    import trafilatura  # slow to import; only HTML needs it

    extracted = trafilatura.bare_extraction(
        html,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        prune_xpath=_HTML_BOILERPLATE,  # its fallback for short pages would keep menus
    )
    doc: dict[str, Any] = {}
    if isinstance(extracted, dict):
        doc = extracted
    elif extracted is not None:
        doc = extracted.as_dict()
    text = doc.get("text") or ""
    if not text.strip():
        text = _html_fallback_text(html)
    body, captions = _split_captions(clean_text(text))
    if not body:
        raise IngestError(f"{path}: no article text found in the HTML")
    title = clean_line(doc.get("title") or "")
    first, _, rest = body.partition("\n")
    if title and clean_line(first) == title and rest.strip():
        body = rest.lstrip()  # trafilatura keeps the <h1>; the title is stored apart
    source = doc.get("sitename") or doc.get("hostname")
    return Article(
        title=title or derive_title(body),
        text=body,
        path=str(path),
        date=normalize_date(doc.get("date")),
        source=clean_line(source) if source else None,
        source_name=source_name(source),
        author=clean_line(doc.get("author") or "") or None,
        url=doc.get("url") or None,
        captions=captions,
    )


def _html_fallback_text(html: str) -> str:
    """Visible text of the main content for pages too short for trafilatura's thresholds."""
    import lxml.html

    try:
        # lxml refuses str input that still carries an <?xml encoding=...?> declaration.
        tree = lxml.html.fromstring(_XML_DECLARATION.sub("", html))
    except Exception:  # noqa: BLE001 - lxml raises several types for junk input
        return ""
    junk = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside",
            "iframe", "svg", "button", "title", "head")  # fmt: skip
    for el in list(tree.iter(*junk)):
        if el.getparent() is not None:
            el.drop_tree()
    roots = tree.xpath("//article") or tree.xpath("//main") or [tree]
    blocks = roots[0].xpath(".//p|.//h2|.//h3|.//h4|.//li|.//blockquote|.//pre|.//figcaption")
    return "\n\n".join(b.text_content() for b in blocks) or roots[0].text_content()


_JSONL_FIELDS = {
    "id": ("id", "doc_id"),
    "text": ("text", "content", "body"),
    "title": ("title",),
    "date": ("date",),
    "source": ("source",),
    "url": ("url",),
    "author": ("author",),
    "captions": ("captions",),
}
_JSONL_CONSUMED = frozenset(key for keys in _JSONL_FIELDS.values() for key in keys)


def _parse_jsonl(text: str, path: Path, problems: list[str]) -> list[Article]:
    articles = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {number}: invalid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {number}: not a JSON object")
            continue
        values = {name: _first(record, keys) for name, keys in _JSONL_FIELDS.items()}
        body, captions = "", ()
        if isinstance(values["text"], str):
            body, captions = _split_captions(clean_text(values["text"]))
        if not body:
            problems.append(f"line {number}: missing or empty text")
            continue
        extra = {
            str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in record.items()
            if k not in _JSONL_CONSUMED and v is not None
        }
        date = normalize_date(values["date"])
        if values["date"] not in (None, "") and date is None:
            extra["date_raw"] = str(values["date"])
        source = _as_str(values["source"])
        articles.append(
            Article(
                title=clean_line(_as_str(values["title"]) or "") or derive_title(body),
                text=body,
                path=str(path),
                date=date,
                source=source,
                source_name=source_name(source),
                author=_as_str(values["author"]),
                url=_as_str(values["url"]),
                external_id=_as_str(values["id"]),
                captions=captions + _as_captions(values["captions"]),
                extra=extra,
            )
        )
    if not articles:
        first = problems[0] if problems else "no records"
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise IngestError(f"{path}: no valid articles ({first}{more})")
    return articles


def _first(record: dict[str, object], keys: tuple[str, ...]) -> object:
    for key in keys:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def _as_captions(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(c for c in (_as_str(v) for v in value) if c)


def _as_str(value: object) -> str | None:
    """A metadata value as a clean one-line string (ids may be numbers)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return clean_line(str(value)) or None
