"""Sentence-aware chunking with exact character offsets into the stored article text.

Offsets matter more than anything here: citations highlight `article.text[start:end]`, so
every chunk is a slice of the article text, never re-joined sentences. Chunks end at
sentence boundaries (preferring paragraph ends) and repeat whole trailing sentences as overlap.

The sentence splitter is a small rule set rather than `underthesea.sent_tokenize`, which
splits `PGS.TS.` apart and cannot return spans. A boundary is `.`, `!`, `?` or `…` (plus closing
quotes or brackets), then whitespace, then something that can start a sentence. Numbers and
codes (`30-6`, `43,72%`, `1.465`, `02-NQ/TW`, `TP.HCM`) have no space after their dots and
are never split; titles like `TS.`, `PGS.TS.`, `ThS.` and initials like `ông A.` are known
abbreviations and are not boundaries either.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import NamedTuple

from ingest.models import Article, Chunk
from ingest.settings import IngestSettings

logger = logging.getLogger(__name__)

# Words that end in a dot without ending the sentence (academic and professional titles,
# place-name prefixes). Single capital letters (initials: "ông A.", "Q. 1") are handled apart.
ABBREVIATIONS = frozenset(
    {
        "TS", "ThS", "Ths", "PGS", "GS", "BS", "BSCK", "BSCKI", "BSCKII", "CKI", "CKII", "KS",
        "CN", "NCS", "TP", "Tp", "tp", "TX", "TT", "Th", "Tr", "tr", "NXB", "St", "Mr", "Mrs",
        "Ms", "Dr", "Prof", "Co", "Ltd", "Inc", "No", "Jr", "Sr", "vs", "Nxb",
    }
)  # fmt: skip

_LINE = re.compile(r"[^\n]+")
_BOUNDARY = re.compile(r"([.!?…]+)([”\"’'»)\]]*)\s+(?=\S)")
_SENTENCE_START = re.compile(r"[\d“\"‘'(«\[\-–—•*]")  # besides a capital letter
# "1.", "II.", "a." opening a line are list markers, not sentences.
_LIST_MARKER = re.compile(r"\d{1,3}|[IVXLC]{1,6}|[a-zđ]")


def _is_boundary(text: str, sent_start: int, match: re.Match[str]) -> bool:
    """Decide whether the punctuation in `match` really ends a sentence."""
    nxt = text[match.end()]
    if nxt.isalpha():
        if not nxt.isupper():
            return False
    elif not _SENTENCE_START.match(nxt):
        return False
    punct = match.group(1)
    if punct != ".":
        return True  # ?, !, … and "..." before a capital end the sentence.
    if _LIST_MARKER.fullmatch(text, sent_start, match.start(1)):
        return False
    token_start = text.rfind(" ", sent_start, match.start(1)) + 1
    token = text[max(token_start, sent_start) : match.start(1)].lstrip("(“\"'‘[")
    last = token.rsplit(".", 1)[-1]
    if last in ABBREVIATIONS:
        return False
    return not (len(last) == 1 and last.isalpha() and last.isupper())


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split Vietnamese text into sentences, as `(start, end)` spans into `text`.

    A line break always ends a sentence. Spans carry no surrounding whitespace, so
    `text[start:end]` is the sentence as written.

    Args:
        text: Any text; cleaned article text gives the best results.

    Returns:
        Spans in order, non-overlapping, never empty.
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        sent_start, line_end = _strip_span(text, line.start(), line.end())
        if sent_start == line_end:
            continue
        for match in _BOUNDARY.finditer(text, sent_start, line_end):
            if not _is_boundary(text, sent_start, match):
                continue
            spans.append((sent_start, match.end(2)))
            sent_start = match.end()
        spans.append((sent_start, line_end))
    return spans


class _Unit(NamedTuple):
    """A piece that chunks are made of: a sentence, or a word-bounded part of a long one."""

    start: int
    end: int
    new_paragraph: bool


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at word boundaries into pieces of at most `size` chars."""
    pieces = []
    while end - start > size:
        cut = text.rfind(" ", start + 1, start + size + 1)
        if cut <= start:
            cut = start + size  # one "word" longer than a chunk (a URL, a table row)
        piece = _strip_span(text, start, cut)
        if piece[0] < piece[1]:
            pieces.append(piece)
        start, _ = _strip_span(text, cut, end)
    if start < end:
        pieces.append((start, end))
    return pieces


def _units(text: str, size: int) -> list[_Unit]:
    units: list[_Unit] = []
    prev_end = 0
    for start, end in split_sentences(text):
        new_paragraph = not units or "\n" in text[prev_end:start]
        for k, (s, e) in enumerate(_split_long(text, start, end, size)):
            units.append(_Unit(s, e, new_paragraph and k == 0))
        prev_end = end
    return units


def chunk_spans(text: str, chunk_size: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """Chunk boundaries for `text`: sentence-aligned spans of at most `chunk_size` chars.

    A chunk grows sentence by sentence; when full it ends at the last paragraph break if that
    keeps it at least half full, else at the last sentence. The next chunk starts with the
    whole trailing sentences of the previous one that fit in `chunk_overlap` chars.
    """
    units = _units(text, chunk_size)
    spans: list[tuple[int, int]] = []
    first, fresh = 0, 0  # first unit of this chunk; first unit not yet in any chunk
    while fresh < len(units):
        start = units[first].start
        stop = fresh + 1
        while stop < len(units) and units[stop].end - start <= chunk_size:
            stop += 1
        if stop < len(units) and not units[stop].new_paragraph:
            for k in range(stop - 1, fresh, -1):
                if units[k].new_paragraph and units[k - 1].end - start >= chunk_size // 2:
                    stop = k
                    break
        spans.append((start, units[stop - 1].end))
        if stop >= len(units):
            break
        # Overlap: whole trailing sentences within `chunk_overlap`. When the rest of the text
        # is short (a last line, a byline), the last chunk reaches further back so that it is
        # not a near-empty passage.
        short_tail = units[-1].end - units[stop].start < chunk_size // 4
        nxt = stop
        while nxt - 1 > first:
            candidate = units[nxt - 1].start
            if units[stop].end - candidate > chunk_size:
                break
            in_overlap = units[stop - 1].end - candidate <= chunk_overlap
            backfill = (
                short_tail
                and units[-1].end - units[nxt].start < chunk_size // 4
                and units[-1].end - candidate <= chunk_size
            )
            if not (in_overlap or backfill):
                break
            nxt -= 1
        first, fresh = nxt, stop
    return spans


@dataclass(frozen=True)
class ChunkLayout:
    """How one store's chunks are cut and what each chunk is searched by.

    A question is compared with every chunk of a store, so all of them share one layout: the
    store records the layout it was first built with (`store.chroma.VectorIndex.layout`) and
    keeps it until it is re-indexed (`hoidap reindex`), whatever the settings say later.
    """

    chunk_size: int
    chunk_overlap: int
    chunk_title: bool

    @classmethod
    def of(cls, settings: IngestSettings) -> ChunkLayout:
        return cls(settings.chunk_size, settings.chunk_overlap, settings.chunk_title)

    def embedded_text(self, article: Article, chunk: Chunk) -> str:
        """What the model embeds: the title first when the layout says so.

        A chunk that never names its article's subject is then still found by it.
        """
        return f"{article.title}. {chunk.text}" if self.chunk_title else chunk.text

    def lexical_text(self, article: Article, chunk: Chunk) -> str:
        """What BM25 indexes: the title before every chunk, or (older layout) the first only."""
        if self.chunk_title or chunk.position == 0:
            return f"{article.title}. {chunk.text}"
        return chunk.text

    def describe(self) -> str:
        title = "with" if self.chunk_title else "without"
        return (
            f"{self.chunk_size:,}-character chunks ({self.chunk_overlap} overlap), "
            f"{title} the title"
        )


# Stores built before the layout was recorded: the defaults of that time.
LEGACY_LAYOUT = ChunkLayout(chunk_size=700, chunk_overlap=150, chunk_title=False)


def chunk_article(article: Article, settings: IngestSettings | ChunkLayout) -> list[Chunk]:
    """Cut an article into overlapping passages whose offsets index `article.text`.

    Args:
        article: A cleaned article (as returned by `ingest.read.read_file`).
        settings: `chunk_size` and `chunk_overlap` are used (settings or a store's layout).

    Returns:
        Chunks with positions 0..n-1; `article.text[c.start:c.end] == c.text` for each.
    """
    text = article.text
    article_id = article.id
    return [
        Chunk(article_id=article_id, position=i, start=s, end=e, text=text[s:e])
        for i, (s, e) in enumerate(chunk_spans(text, settings.chunk_size, settings.chunk_overlap))
    ]
