"""Choose the passage ranker's depth and rank prior on the `dev` fold (never on `test`).

Usage:
    python bench/tune_ranker.py --store DIR --data taynguyen_qa.jsonl --articles taynguyen.jsonl

The store must already hold the data set's articles (run `hoidap eval` once with the same work
folder). Each question is retrieved once, 20 passages deep, and the ranker reads all 20 once;
the reordering (`PassageRanker.rerank`'s score: logit + prior / (1 + fused rank)) is then
replayed for every depth and prior. Printed: hit@1 and hit@5 by question kind for the fusion's
own order and for each setting, best first.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import dev_questions  # bench/dev_questions.py, beside this script
from tqdm import tqdm

from assistant.evaluate import contains_gold
from assistant.question import analyse
from assistant.reading.ranker import RANKER_DIR, PassageRanker, passage_text

DEPTH = 20


def hits(order: list[int], gold: list[bool], k: int) -> bool:
    return any(gold[i] for i in order[:k])


def main() -> None:
    parser = dev_questions.parser(__doc__.splitlines()[0], RANKER_DIR, "ranker")
    parser.add_argument("--output", type=Path, help="Also write every setting's line as JSON.")
    args = parser.parse_args()
    run = dev_questions.open_run(args, nearmiss=False)
    assistant = run.assistant
    ranker = PassageRanker(run.base, args.weights, precision=run.precision)
    reads = []
    for item in tqdm(run.items, desc="Ranking", unit="q"):
        asked = analyse(item.question, item.history, assistant.store.records)
        passages = assistant.retriever.retrieve(asked, k=DEPTH)
        own = run.own_article(item)
        gold = [p.article_id == own and contains_gold(p.text, item.golds) for p in passages]
        logits = ranker.logits(asked.reader_text, [passage_text(p.title, p.text) for p in passages])
        reads.append((item.kind, gold, logits))
    assistant.close()

    def measure(depth: int | None, prior: float) -> dict:
        line: dict = {"depth": depth or 0, "prior": prior}
        by_kind: dict[str, list[tuple[bool, bool]]] = {}
        for kind, gold, logits in reads:
            n = len(gold)
            if depth is None:
                order = list(range(n))
            else:
                head = sorted(range(min(depth, n)), key=lambda i: -(logits[i] + prior / (1 + i)))
                order = head + list(range(min(depth, n), n))
            by_kind.setdefault(kind, []).append((hits(order, gold, 1), hits(order, gold, 5)))
        every = [x for v in by_kind.values() for x in v]
        line["hit@1"] = round(sum(a for a, _ in every) / len(every), 3)
        line["hit@5"] = round(sum(b for _, b in every) / len(every), 3)
        for kind, v in sorted(by_kind.items()):
            line[kind] = round(sum(b for _, b in v) / len(v), 3)
        return line

    lines = [measure(None, 0.0)]
    for depth, prior in itertools.product([5, 10, 15, 20], [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]):
        lines.append(measure(depth, prior))
    print(json.dumps(lines[0]), "(the fusion's order)")
    for line in sorted(lines[1:], key=lambda d: -d["hit@5"])[:15]:
        print(json.dumps(line))
    if args.output:
        args.output.write_text(json.dumps(lines, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
