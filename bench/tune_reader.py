"""Choose the reader's blend settings on the `dev` fold (never on `test`).

Usage:
    python bench/tune_reader.py --store DIR --data taynguyen_qa.jsonl --articles taynguyen.jsonl

The store must already hold the data set's articles (run `hoidap eval` once with the same
work folder). Each dev question is retrieved once; the reader then answers it under every
`--english-weights` (the word-overlap weight of English questions; Vietnamese ones keep 2).
For each combination it prints answer-contains, short-answer F1 and hit@5 after reordering,
and the threshold that keeps false abstention at 5 % with the share of near-miss questions it
then abstains on.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from assistant.core import Assistant
from assistant.evaluate import contains_gold, load_dataset, token_f1
from assistant.question import analyse
from assistant.reading.answer import answer_with_reader
from assistant.reading.split import fold_of
from assistant.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--articles", type=Path)
    parser.add_argument("--fold", default="dev")
    parser.add_argument("--english-weights", default="2,4,6")
    parser.add_argument("--passages", type=int, default=5)
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()

    data = load_dataset(args.data, args.articles)
    folds = {k: fold_of(c.text) for k, c in data.contexts.items()}
    items = [i for i in data.items if folds[i.context] == args.fold][: args.limit or None]
    settings = Settings.load().with_overrides(store={"store": args.store})
    assistant = Assistant.from_settings(settings)
    article_of = {}
    if data.articles_file:
        from ingest.read import read_file

        parsed = read_file(data.articles_file, settings.ingest)
        article_of = {a.external_id: a.id for a in parsed.articles}
    weights = [float(w) for w in args.english_weights.split(",")]
    results: dict[str, list] = {}
    for item in items:
        asked = analyse(item.question, item.history, assistant.store.records)
        passages = assistant.retriever.retrieve(asked, k=args.passages)
        own = article_of.get(item.context)
        for w, typed in itertools.product(weights, (True,)):
            answer, ranked = answer_with_reader(
                asked,
                passages,
                assistant.reader,
                threshold=0.0,
                lexical_weight=2.0,
                english_lexical_weight=w,
                typed_spans=typed,
            )
            hit = any(p.article_id == own and contains_gold(p.text, item.golds) for p in ranked[:5])
            results.setdefault(f"english_lexical={w} typed={typed}", []).append(
                (
                    item.kind,
                    answer.confidence,
                    contains_gold(answer.text, item.golds),
                    token_f1(answer.short, item.golds),
                    hit,
                    any(c.article_id == own for c in answer.citations),
                )
            )
    for name, rows in results.items():
        answerable = [r for r in rows if r[0] != "nearmiss"]
        near = [r for r in rows if r[0] == "nearmiss"]
        confs = sorted(r[1] for r in answerable)
        threshold = confs[int(0.05 * len(confs))] if confs else 0.0
        line = {
            "variant": name,
            "answerable": len(answerable),
            "answer_contains": round(sum(r[2] for r in answerable) / max(1, len(answerable)), 3),
            "short_f1": round(sum(r[3] for r in answerable) / max(1, len(answerable)), 3),
            "hit@5": round(sum(r[4] for r in answerable) / max(1, len(answerable)), 3),
            "threshold_5pct": threshold,
            "nearmiss_abstained": round(sum(r[1] < threshold for r in near) / max(1, len(near)), 3),
            "nearmiss_not_own": round(
                sum(r[1] < threshold or not r[5] for r in near) / max(1, len(near)), 3
            ),
        }
        for kind in sorted({r[0] for r in answerable}):
            sub = [r for r in answerable if r[0] == kind]
            line[kind] = round(sum(r[2] for r in sub) / len(sub), 3)
        print(json.dumps(line))


if __name__ == "__main__":
    main()
