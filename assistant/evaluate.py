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
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.core import Assistant
from assistant.models import Answer, Passage
from assistant.settings import Settings
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
    qid: str
    question: str
    golds: tuple[str, ...]
    context: str
    history: tuple[tuple[str, str], ...] = ()


@dataclass
class Dataset:
    contexts: dict[str, Context] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)


def load_dataset(path: Path) -> Dataset:
    """Read SQuAD v1/v2 style (`data[].paragraphs[].qas[]`) or ViCoQA (`data[].story`)."""
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
                data.items.append(
                    Item(f"{key}-{q['turn_id']}", q["input_text"], golds, key, tuple(history))
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
                data.items.append(Item(str(qa.get("id")), qa["question"], golds, key))
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
    data: Dataset, limit: int | None, holdout: int
) -> tuple[list[Item], list[Item], list[Context]]:
    """Answerable items (their contexts stored) and held-out items (contexts not stored)."""
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
    items = [i for i in data.items if i.context not in held_keys][: limit or None]
    stored = [c for k, c in data.contexts.items() if k not in held_keys]
    return items, held, stored


def evaluate(
    settings: Settings,
    data_path: Path,
    *,
    work_dir: Path,
    distractors: list[Path] = (),  # type: ignore[assignment]
    limit: int | None = None,
    holdout: int = 0,
    strip_diacritics: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Ingest the data set (plus distractors), ask every question, return the metrics."""
    data = load_dataset(data_path)
    items, held, contexts = _split(data, limit, holdout)
    work_dir.mkdir(parents=True, exist_ok=True)
    contexts_file = work_dir / "contexts.jsonl"
    with contexts_file.open("w", encoding="utf-8") as out:
        for c in contexts:
            row = {"id": c.key, "title": c.title, "text": c.text, "source": "EVAL"}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    settings = settings.with_overrides(store={"store": work_dir / "store"})
    assistant = Assistant.from_settings(settings)
    started = time.perf_counter()
    report = assistant.ingest([contexts_file, *distractors], prune=True, progress=progress)
    ingest_seconds = time.perf_counter() - started
    if report.failed:
        failed = [f.reason for f in report.files if f.status == "failed"]
        raise UsageError(f"Ingest failed: {'; '.join(str(r) for r in failed)}")
    article_of = {a.external_id: a.id for a in read_file(contexts_file, settings.ingest).articles}
    # With an LLM, the extractive answerer answers the same questions from the same store, so
    # the two modes are compared on one run.
    extractive = (
        Assistant(_without_llm(settings), assistant.store) if assistant.generator else assistant
    )

    def run(batch: list[Item], desc: str, by: Assistant) -> Iterator[Outcome]:
        for item in tqdm(batch, desc=desc, unit="q", disable=not progress):
            question = strip_marks(item.question) if strip_diacritics else item.question
            t0 = time.perf_counter()
            answer, passages = by.respond(question, list(item.history))
            latency = (time.perf_counter() - t0) * 1000
            yield Outcome(item, answer, passages, latency, article_of.get(item.context))

    outcomes = list(run(items, "Answerable", extractive))
    held_outcomes = list(run(held, "Held out", extractive))
    generated = list(run(items, "Generative", assistant)) if assistant.generator else []
    articles_in_store = assistant.stats().articles
    assistant.close()

    n = len(outcomes)
    latencies = [o.latency_ms for o in outcomes + held_outcomes]
    answered = [o for o in outcomes if not o.answer.abstained]
    metrics: dict[str, Any] = {
        "data": str(data_path),
        "questions": n,
        "diacritics_stripped": strip_diacritics,
        "multi_turn": sum(1 for o in outcomes if o.item.history),
        "articles_in_store": articles_in_store,
        "ingest_seconds": round(ingest_seconds, 1),
        "hit@1": sum(o.hit(1) for o in outcomes) / n,
        "hit@5": sum(o.hit(5) for o in outcomes) / n,
        "answer_contains": sum(contains_gold(o.answer.text, o.item.golds) for o in answered) / n,
        "short_f1": statistics.fmean(token_f1(o.answer.short, o.item.golds) for o in outcomes),
        "abstained": sum(o.answer.abstained for o in outcomes) / n,
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.5), 1),
            "p95": round(_percentile(latencies, 0.95), 1),
            "p99": round(_percentile(latencies, 0.99), 1),
        },
        "settings": settings.assistant.model_dump(),
    }
    if held_outcomes:
        metrics["held_out_questions"] = len(held_outcomes)
        metrics["held_out_abstained"] = sum(o.answer.abstained for o in held_outcomes) / len(
            held_outcomes
        )
        metrics["calibration"] = calibrate(
            [o.answer.confidence for o in outcomes], [o.answer.confidence for o in held_outcomes]
        )
    metrics["citations"] = citation_metrics(outcomes)
    if generated:
        metrics["generative"] = generative_metrics(generated, settings)
    return metrics


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
