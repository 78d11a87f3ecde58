"""`hoidap eval`: retrieval and answer quality on SQuAD-format and ViCoQA data.

The contexts of the data set become articles (written to one JSONL file in the work folder)
and are ingested with optional distractor corpora into a store in the work folder; reusing the
folder re-embeds nothing that is unchanged, so the distractors are embedded once.
A question counts as a hit@k when one of the first k retrieved passages comes from its own
article and contains a gold answer.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.core import Assistant
from assistant.language import detect_language
from assistant.models import Answer, Passage
from assistant.reading.split import fold_of
from assistant.settings import Settings
from ingest.chunk import ChunkLayout
from ingest.clean import clean_line, fold_diacritics
from ingest.errors import UsageError
from ingest.read import read_file

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Context:
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class Item:
    """A question; `kind` is `vi`, `en`, `followup` or `nearmiss` (its article lacks the answer)."""

    qid: str
    question: str
    golds: tuple[str, ...]
    context: str
    history: tuple[tuple[str, str], ...] = ()
    kind: str = "vi"
    no_diacritics: bool = False


@dataclass
class Dataset:
    """Questions and their articles; `articles_file` is set when the articles come as JSONL."""

    contexts: dict[str, Context] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    articles_file: Path | None = None


def load_dataset(path: Path, articles: Path | None = None) -> Dataset:
    """Read a SQuAD, ViCoQA or `taynguyen_qa.jsonl` file.

    SQuAD v1/v2 is `data[].paragraphs[].qas[]`, ViCoQA `data[].story`; `taynguyen_qa.jsonl`
    has one question a line, naming an article of the `articles` JSONL.
    """
    if path.suffix == ".jsonl":
        return _load_article_questions(path, articles)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = raw["data"] if isinstance(raw, dict) else raw
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"{path}: not a SQuAD or ViCoQA JSON file ({e})") from e
    data = Dataset()
    for i, entry in enumerate(entries):
        if "story" in entry:
            key = f"coqa-{entry.get('id', i)}"
            data.contexts[key] = Context(key, str(entry.get("name") or key), entry["story"])
            history: list[tuple[str, str]] = []
            answers = {a["turn_id"]: a for a in entry.get("answers", [])}
            for q in entry.get("questions", []):
                a = answers.get(q["turn_id"], {})
                golds = tuple(
                    g.strip()
                    for g in (a.get("span_text", ""), a.get("input_text", ""))
                    if g.strip()
                )
                kind = "followup" if history else "vi"
                data.items.append(
                    Item(f"{key}-{q['turn_id']}", q["input_text"], golds, key, tuple(history), kind)
                )
                history.append((q["input_text"], a.get("input_text", "")))
            continue
        for j, paragraph in enumerate(entry.get("paragraphs", [])):
            key = f"ctx-{i}-{j}"
            data.contexts[key] = Context(key, entry.get("title") or key, paragraph["context"])
            for qa in paragraph.get("qas", []):
                if qa.get("is_impossible"):
                    continue
                golds = tuple(a["text"] for a in qa.get("answers", []) if a.get("text"))
                kind = "en" if detect_language(qa["question"]) == "en" else "vi"
                data.items.append(Item(str(qa.get("id")), qa["question"], golds, key, kind=kind))
    if not data.items:
        raise UsageError(f"{path}: no questions found")
    return data


KINDS = ("vi", "en", "followup", "nearmiss")


def _load_article_questions(path: Path, articles: Path | None) -> Dataset:
    """Lines of `article_id`, `kind`, `question`, `answer`, `alt_answers`, `history`."""
    if articles is None:
        guess = path.parent.parent / "corpus" / "taynguyen.jsonl"
        if not guess.is_file():
            raise UsageError(
                f"{path} names its articles by id: pass the articles' JSONL with --articles."
            )
        articles = guess
    data = Dataset(articles_file=articles)
    try:
        with articles.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    key = str(row["id"])
                    data.contexts[key] = Context(key, str(row.get("title") or key), row["text"])
        with path.open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"{path}: not a question JSONL file with its articles ({e})") from e
    for n, row in enumerate(rows):
        key, kind = str(row.get("article_id")), row.get("kind", "vi")
        if key not in data.contexts or kind not in KINDS or not row.get("question"):
            raise UsageError(f"{path}:{n + 1}: unknown article, kind or no question")
        golds = tuple(g for g in [row.get("answer"), *row.get("alt_answers", [])] if g)
        history = tuple((str(q), str(a)) for q, a in row.get("history") or [])
        data.items.append(
            Item(
                f"{key}-{n}",
                row["question"],
                golds,
                key,
                history,
                kind,
                bool(row.get("no_diacritics")),
            )
        )
    if not data.items:
        raise UsageError(f"{path}: no questions found")
    return data


def strip_marks(text: str) -> str:
    """The question as typed on a keyboard without Vietnamese input: marks gone, case kept."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(fold_diacritics(clean_line(text))))


def contains_gold(text: str, golds: tuple[str, ...]) -> bool:
    haystack = f" {_norm(text)} "
    return any(f" {_norm(g)} " in haystack for g in golds if _norm(g))


def token_f1(prediction: str | None, golds: tuple[str, ...]) -> float:
    if not prediction:
        return 0.0
    pred = _norm(prediction).split()
    best = 0.0
    for gold in golds:
        ref = _norm(gold).split()
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Outcome:
    item: Item
    answer: Answer
    passages: list[Passage]
    latency_ms: float
    article_id: str | None

    def hit(self, k: int) -> bool:
        return any(
            p.article_id == self.article_id and contains_gold(p.text, self.item.golds)
            for p in self.passages[:k]
        )


def _split(
    data: Dataset, limit: int | None, holdout: int, fold: str | None
) -> tuple[list[Item], list[Item], list[Context]]:
    """Answerable items (their contexts stored) and held-out items (contexts not stored).

    With `fold`, only questions on articles of that fold of the reader's split are asked
    (`test`: articles the reader never trained on); every article is still stored.
    """
    keys = list(data.contexts)
    held: list[Item] = []
    held_keys: set[str] = set()
    if holdout:
        for key in reversed(keys):  # from the end, so `limit` items from the start stay stored
            held.extend(i for i in data.items if i.context == key and not i.history)
            held_keys.add(key)
            if len(held) >= holdout:
                break
        held = held[:holdout]
    items = [i for i in data.items if i.context not in held_keys]
    if fold:
        folds = {k: fold_of(c.text) for k, c in data.contexts.items()}
        items = [i for i in items if folds[i.context] == fold]
        held = [i for i in held if folds[i.context] == fold]
    stored = [c for k, c in data.contexts.items() if k not in held_keys]
    return items[: limit or None], held, stored


def evaluate(
    settings: Settings,
    data_path: Path,
    *,
    work_dir: Path,
    distractors: list[Path] = (),  # type: ignore[assignment]
    articles: Path | None = None,
    limit: int | None = None,
    holdout: int = 0,
    fold: str | None = None,
    baseline: bool = False,
    strip_diacritics: bool = False,
    progress: bool = True,
    inspect: Callable[[list[Outcome], Assistant], None] | None = None,
) -> dict[str, Any]:
    """Ingest the data set (plus distractors), ask every question, return the metrics.

    `baseline`: also answer every question with the word-overlap rules (no reader) from the
    same store in the same run, under `"baseline"`. `inspect` is called with the answerable
    questions' outcomes and the assistant before the store closes (`bench/naive_baseline.py`
    runs other retrievers over the same stored articles and questions there).
    """
    data = load_dataset(data_path, articles)
    items, held, contexts = _split(data, limit, holdout, fold)
    work_dir.mkdir(parents=True, exist_ok=True)
    if data.articles_file is not None and not holdout:
        contexts_file = data.articles_file  # the articles as they are, ids and all
    else:
        contexts_file = work_dir / "contexts.jsonl"
        with contexts_file.open("w", encoding="utf-8") as out:
            for c in contexts:
                row = {"id": c.key, "title": c.title, "text": c.text, "source": "EVAL"}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    settings = settings.with_overrides(store={"store": work_dir / "store"})
    assistant = Assistant.from_settings(settings)
    kept, wanted = assistant.store.layout(settings.ingest), ChunkLayout.of(settings.ingest)
    if kept != wanted:
        assistant.close()
        raise UsageError(
            f"The store in {work_dir} has {kept.describe()}, not the settings' "
            f"{wanted.describe()}: use another --work-dir."
        )
    started = time.perf_counter()
    files = [contexts_file, *(d for d in distractors if d.resolve() != contexts_file.resolve())]
    report = assistant.ingest(files, prune=True, progress=progress)
    ingest_seconds = time.perf_counter() - started
    if report.failed:
        failed = [f.reason for f in report.files if f.status == "failed"]
        raise UsageError(f"Ingest failed: {'; '.join(str(r) for r in failed)}")
    article_of = {a.external_id: a.id for a in read_file(contexts_file, settings.ingest).articles}
    # The baseline and the extractive answerer under an LLM answer the same questions from the
    # same store, so the modes are compared on one run.
    extractive = (
        Assistant(_without_llm(settings), assistant.store) if assistant.generator else assistant
    )
    rules = (
        Assistant(_without_reader(_without_llm(settings)), assistant.store) if baseline else None
    )

    def run(batch: list[Item], desc: str, by: Assistant) -> list[Outcome]:
        out = []
        for item in tqdm(batch, desc=desc, unit="q", disable=not progress):
            question = strip_marks(item.question) if strip_diacritics else item.question
            t0 = time.perf_counter()
            answer, passages = by.respond(question, list(item.history))
            latency = (time.perf_counter() - t0) * 1000
            out.append(Outcome(item, answer, passages, latency, article_of.get(item.context)))
        return out

    outcomes = run(items, "Answerable", extractive)
    held_outcomes = run(held, "Held out", extractive)
    generated = run(items, "Generative", assistant) if assistant.generator else []
    baseline_outcomes = run(items, "Baseline (rules)", rules) if rules else []
    baseline_held = run(held, "Baseline held out", rules) if rules else []
    articles_in_store = assistant.stats().articles
    if inspect is not None:
        inspect(outcomes, assistant)
    assistant.close()

    metrics: dict[str, Any] = {
        "data": str(data_path),
        "fold": fold or "all",
        "diacritics_stripped": strip_diacritics,
        "articles_in_store": articles_in_store,
        "ingest_seconds": round(ingest_seconds, 1),
        **summarize(outcomes, held_outcomes),
        "settings": settings.assistant.model_dump(),
    }
    if baseline_outcomes:
        metrics["baseline"] = summarize(baseline_outcomes, baseline_held)
    if generated:
        metrics["generative"] = generative_metrics(generated, settings)
    return metrics


def _answer_measures(outcomes: list[Outcome]) -> dict[str, Any]:
    n = max(1, len(outcomes))
    answered = [o for o in outcomes if not o.answer.abstained]
    return {
        "questions": len(outcomes),
        "hit@1": sum(o.hit(1) for o in outcomes) / n,
        "hit@5": sum(o.hit(5) for o in outcomes) / n,
        "answer_contains": sum(contains_gold(o.answer.text, o.item.golds) for o in answered) / n,
        "short_f1": sum(token_f1(o.answer.short, o.item.golds) for o in outcomes) / n,
        "abstained": sum(o.answer.abstained for o in outcomes) / n,
    }


def summarize(outcomes: list[Outcome], held_outcomes: list[Outcome]) -> dict[str, Any]:
    """Every measure of one answering mode: overall, by question kind, near-misses, held out.

    A near-miss question's article does not state its answer: it counts as right when the
    answer abstains or cites only other articles.
    """
    nearmiss = [o for o in outcomes if o.item.kind == "nearmiss"]
    answerable = [o for o in outcomes if o.item.kind != "nearmiss"]
    latencies = [o.latency_ms for o in outcomes + held_outcomes]
    out: dict[str, Any] = {
        **_answer_measures(answerable),
        "multi_turn": sum(1 for o in answerable if o.item.history),
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.5), 1),
            "p95": round(_percentile(latencies, 0.95), 1),
            "p99": round(_percentile(latencies, 0.99), 1),
        },
    }
    kinds = sorted({o.item.kind for o in answerable})
    if len(kinds) > 1:
        out["by_kind"] = {
            k: _answer_measures([o for o in answerable if o.item.kind == k]) for k in kinds
        }
    if nearmiss:
        out["nearmiss"] = {
            "questions": len(nearmiss),
            "not_answered_from_own_article": sum(
                all(c.article_id != o.article_id for c in o.answer.citations) for o in nearmiss
            )
            / len(nearmiss),
            "abstained": sum(o.answer.abstained for o in nearmiss) / len(nearmiss),
            "calibration": calibrate(
                [o.answer.confidence for o in answerable],
                [o.answer.confidence for o in nearmiss],
            ),
        }
    if held_outcomes:
        out["held_out_questions"] = len(held_outcomes)
        out["held_out_abstained"] = sum(o.answer.abstained for o in held_outcomes) / len(
            held_outcomes
        )
        out["calibration"] = calibrate(
            [o.answer.confidence for o in answerable],
            [o.answer.confidence for o in held_outcomes],
        )
    out["citations"] = citation_metrics(answerable)
    return out


def _without_reader(settings: Settings) -> Settings:
    """The answerer before the reader: word-overlap rules, English questions through BM25 too."""
    return settings.with_overrides(
        assistant={"reader": False, "english_bm25": True, "english_lexical_weight": 1.0}
    )


def _without_llm(settings: Settings) -> Settings:
    return settings.model_copy(update={"llm": settings.llm.model_copy(update={"llm": None})})


def citation_metrics(outcomes: list[Outcome]) -> dict[str, float]:
    """How often the quoted evidence is right, over the questions answered (not abstained).

    `from_right_article`: share of citations that point into the question's own article.
    `contains_gold`: share of answers with a citation whose quoted text holds a gold answer.
    """
    answered = [o for o in outcomes if not o.answer.abstained]
    cites = [(o, c) for o in answered for c in o.answer.citations]
    return {
        "answered": len(answered),
        "from_right_article": sum(c.article_id == o.article_id for o, c in cites)
        / max(1, len(cites)),
        "contains_gold": sum(
            any(
                c.article_id == o.article_id and contains_gold(c.passage, o.item.golds)
                for c in o.answer.citations
            )
            for o in answered
        )
        / max(1, len(answered)),
    }


def generative_metrics(outcomes: list[Outcome], settings: Settings) -> dict[str, Any]:
    """The LLM mode on the same questions: answer quality, the grounding check, timings."""
    n = len(outcomes)
    infos = [o.answer.generation for o in outcomes if o.answer.generation is not None]
    sentences = sum(i.sentences for i in infos)
    first = [i.first_token_ms for i in infos if i.first_token_ms is not None]
    total = [i.total_ms for i in infos]
    fallbacks = Counter(i.fallback for i in infos if i.fallback)
    answered = [o for o in outcomes if not o.answer.abstained]
    return {
        "llm": settings.llm.llm,
        "questions": n,
        "answer_contains": sum(contains_gold(o.answer.text, o.item.golds) for o in answered) / n,
        "abstained": sum(o.answer.abstained for o in outcomes) / n,
        "generated_answers": sum(o.answer.mode == "generative" for o in outcomes),
        "fallbacks": dict(fallbacks),
        "citations": citation_metrics(outcomes),
        "sentences": sentences,
        "unsupported_sentence_rate": sum(i.unsupported for i in infos) / max(1, sentences),
        "cited_right_rate": sum(i.cited for i in infos) / max(1, sentences),
        "reassigned_citation_rate": sum(i.reassigned for i in infos) / max(1, sentences),
        "added_citation_rate": sum(i.added for i in infos) / max(1, sentences),
        "latency_ms": {
            "first_token_p50": round(_percentile(first, 0.5), 1),
            "first_token_p95": round(_percentile(first, 0.95), 1),
            "total_p50": round(_percentile(total, 0.5), 1),
            "total_p95": round(_percentile(total, 0.95), 1),
            "answer_p50": round(_percentile([o.latency_ms for o in outcomes], 0.5), 1),
            "answer_p95": round(_percentile([o.latency_ms for o in outcomes], 0.95), 1),
        },
        "settings": settings.llm.model_dump(exclude={"llm_api_key"}),
    }


def calibrate(answerable: list[float], unanswerable: list[float]) -> list[dict[str, float]]:
    """For candidate thresholds: share of answerable wrongly abstained vs unanswerable caught."""
    rows = []
    for t in [x / 100 for x in range(0, 101, 2)]:
        rows.append(
            {
                "threshold": t,
                "false_abstention": sum(c < t for c in answerable) / max(1, len(answerable)),
                "abstention_on_unanswerable": sum(c < t for c in unanswerable)
                / max(1, len(unanswerable)),
            }
        )
    return rows
