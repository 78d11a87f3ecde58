"""Warm answering latency of this tree's reading network against a git revision's, interleaved.

Usage:
    python bench/model_ab.py --store DIR --questions QA.json --before REV [--questions-limit 100]

Why: on a shared two-core machine the same code's p50 drifts by 10-25 % between runs minutes
apart, more than a change to the network's runtime is worth. Here two assistants on one store
answer the same questions in one process, alternating which goes first, so the drift falls on
both. The "before" assistant's reader and ranker are built from `assistant/reading/model.py` as
it is at REV (`git show`); everything else is this tree's, so only changes confined to that
module can be compared. Prints p50/p95/mean of each, their ratio, and how many answers agree.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

from query import sample_questions  # bench/query.py, beside this script

import assistant.reading.model as network
from assistant.core import Assistant
from assistant.settings import Settings
from store.store import Store


def git(*args: str) -> str:
    repository = Path(__file__).resolve().parent.parent
    return subprocess.run(
        ["git", *args], check=True, capture_output=True, text=True, cwd=repository
    ).stdout


def module_at(revision: str):  # noqa: ANN201
    """`assistant/reading/model.py` as it is at `revision`, imported under another name."""
    source = git("show", f"{revision}:assistant/reading/model.py")
    path = Path(tempfile.mkdtemp()) / "model_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("model_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loaded(settings: Settings, store: Store, warm_question: str) -> Assistant:
    """An assistant whose reader and ranker are loaded now (with `network.CrossEncoder`)."""
    assistant = Assistant(settings, store)
    assistant.reader, assistant.ranker  # noqa: B018 - load both now
    assistant.ask(warm_question)
    return assistant


def summary(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "mean_ms": round(statistics.fmean(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--before", required=True, help="git revision of the 'before' network")
    parser.add_argument("--questions-limit", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions")
    args = parser.parse_args()

    questions = sample_questions(args.questions, args.questions_limit)
    settings = Settings.load().with_overrides(store={"store": args.store})
    store = Store(settings.store)
    after = loaded(settings, store, questions[0])
    current = network.CrossEncoder
    network.CrossEncoder = module_at(args.before).CrossEncoder
    try:
        before = loaded(settings, store, questions[0])
    finally:
        network.CrossEncoder = current
    for q in questions[:5]:
        before.ask(q), after.ask(q)
    times: dict[str, list[float]] = {"before": [], "after": []}
    same = 0
    for round_ in range(args.rounds):
        for n, q in enumerate(questions):
            pair = [("before", before), ("after", after)]
            if (n + round_) % 2:
                pair.reverse()
            answers = {}
            for name, assistant in pair:
                store.embedder.clear_query_cache()
                t0 = time.perf_counter()
                answers[name] = assistant.ask(q).text
                times[name].append((time.perf_counter() - t0) * 1000)
            same += answers["before"] == answers["after"]
    result = {
        "date": date.today().isoformat(),
        "before_revision": git("rev-parse", args.before).strip(),
        "questions": len(questions),
        "asks_each": len(times["after"]),
        "same_answers": same,
        **{name: summary(t) for name, t in times.items()},
    }
    result["p50_ratio"] = round(result["after"]["p50_ms"] / result["before"]["p50_ms"], 3)
    result["mean_ratio"] = round(result["after"]["mean_ms"] / result["before"]["mean_ms"], 3)
    store.close()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
