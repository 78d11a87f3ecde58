"""Choose the reader's blend settings on the `dev` fold (never on `test`).

Usage:
    python bench/tune_reader.py --store DIR --data taynguyen_qa.jsonl --articles taynguyen.jsonl

The store must already hold the data set's articles (run `hoidap eval` once with the same
work folder). Each question is retrieved once, `--depth` (20) passages deep, and the reader
reads every candidate sentence of them once. The answerer's choices are then replayed for every
setting (the passages and sentences it reads, the rank prior, the word-overlap weights) with
`assistant.reading.answer`'s own pieces: its candidates (`scored_candidates`), their choice
(`choose`), their score (`blend`) and the passages' reordering (`rerank`). Reading once and
replaying makes a grid of hundreds of settings cost one pass of the reader.

Printed per setting, best first: how often the chosen sentence holds a gold answer (the
answer-contains of an answer that does not abstain), hit@5 after the reader's reordering, the
threshold that keeps false abstention at 5 % and the share of near-miss questions not answered
from their own article at that threshold.

`--dense W... --dense-sentences N...` also embeds every candidate once and replays the
embedding model's second opinion (`rescore_head` with the question's cosine) for each weight and
head size; `--shipped` keeps the other settings as shipped and varies only those two.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import dev_questions  # bench/dev_questions.py, beside this script
from tqdm import tqdm

from assistant.answering.rules import _Sentence
from assistant.evaluate import contains_gold
from assistant.models import Passage
from assistant.question import analyse
from assistant.reading.answer import (
    LEXICAL_PICKS,
    RANK_PRIOR,
    blend,
    choose,
    rerank,
    rescore_head,
    scored_candidates,
)
from assistant.reading.reader import Reader
from assistant.reading.weights import WEIGHTS_DIR
from assistant.settings import Settings

DEPTH = 20  # passages retrieved and read once per question


@dataclass
class Read:
    """One question: its passages, its candidates (with the reader's logit), which hold it."""

    kind: str
    language: str
    passages: list[Passage]
    candidates: list[_Sentence]
    logits: dict[int, float]  # id(candidate) -> the reader's logit
    gold: dict[int, bool]  # id(candidate) -> the sentence holds a gold answer
    own: dict[int, bool]  # id(candidate) -> from the question's own article
    hits: set[str]  # chunk ids of the passages from its own article holding a gold answer


def replay(  # noqa: ANN201
    r: Read,
    passages: int,
    sentences: int,
    prior: float,
    lexical: float,
    english: float,
    dense: float = 0.0,
    dense_sentences: int = 0,
):
    """The answerer's choice under one setting: (probability, holds gold, own, hit@5)."""
    cands = [c for c in r.candidates if c.rank < passages]
    if not cands:
        return None
    chosen = choose(cands, sentences, LEXICAL_PICKS[r.language])
    weight = english if r.language == "en" else lexical
    scored = sorted(
        ((blend(r.logits[id(c)], c, weight, prior), c, None) for c in chosen),
        key=lambda t: -t[0],
    )
    if dense and dense_sentences:
        scored = rescore_head(scored, dense_sentences, dense, lambda h: [c.semantic for c in h])
    order = rerank(r.passages[:passages], scored)
    top = scored[0][1]
    # The answerer abstains on the best probability of any sentence it read.
    probability = 1 / (1 + math.exp(-max(r.logits[id(c)] for c in chosen)))
    hit = any(p.chunk_id in r.hits for p in order[:5])
    return probability, r.gold[id(top)], r.own[id(top)], hit


def main() -> None:
    parser = dev_questions.parser(__doc__.splitlines()[0], WEIGHTS_DIR, "reader")
    parser.add_argument("--top", type=int, default=15, help="Settings printed.")
    parser.add_argument("--depth", type=int, default=DEPTH, help="Passages retrieved and read.")
    parser.add_argument(
        "--dense",
        type=float,
        nargs="+",
        default=[0.0],
        help=(
            "Weights tried for the embedding model's question-sentence cosine on the best "
            "--dense-sentences candidates (both languages; the answerer's English default is off)."
        ),
    )
    parser.add_argument(
        "--dense-sentences",
        type=int,
        nargs="+",
        default=[0],
        help="Best candidates whose cosine is weighed, tried (0: none).",
    )
    parser.add_argument("--shipped", action="store_true", help="Vary only the dense terms.")
    parser.add_argument("--dump", type=Path, help="Also write every setting's line here.")
    args = parser.parse_args()
    run = dev_questions.open_run(args)
    assistant = run.assistant
    reader = Reader(run.base, args.weights, precision=run.precision)
    reads = []
    for item in tqdm(run.items, desc="Reading", unit="q"):
        asked = analyse(item.question, item.history, assistant.store.records)
        passages = assistant.retriever.retrieve(asked, k=args.depth)
        own = run.own_article(item)
        cands, _ = scored_candidates(asked, passages)
        if not cands:
            continue
        readings = reader.read(asked.reader_text, [c.text for c in cands])
        if any(args.dense) and any(args.dense_sentences):
            # The cosine the answerer's `similarity` gives, for every candidate at once.
            query = assistant.retriever.main_query(asked)
            cosines = assistant._sentence_similarity(query, [c.text for c in cands])
            for c, cosine in zip(cands, cosines):
                c.semantic = cosine
        golds = item.golds
        reads.append(
            Read(
                item.kind,
                asked.language,
                passages,
                cands,
                {id(c): r.logit for c, r in zip(cands, readings)},
                {id(c): bool(golds) and contains_gold(c.text, golds) for c in cands},
                {id(c): c.passage.article_id == own for c in cands},
                {
                    p.chunk_id
                    for p in passages
                    if p.article_id == own and golds and contains_gold(p.text, golds)
                },
            )
        )
    assistant.close()
    # Passages, sentences, rank prior, word-overlap weights (Vietnamese, English).
    if args.shipped:
        s = Settings.load().assistant
        blends = [[s.reader_passages], [s.reader_sentences], [RANK_PRIOR]]
        blends += [[s.reader_lexical_weight], [s.reader_english_lexical_weight]]
    else:
        blends = [[5, 10], [12, 16, 24], [0.3, 1.0, 2.0], [2.0, 4.0, 6.0], [2.0, 6.0, 12.0, 16.0]]
    grid = itertools.product(*blends, args.dense, args.dense_sentences)
    lines = []
    for passages, sentences, prior, lexical, english, dense, dense_sentences in grid:
        out = [
            (
                r.kind,
                replay(r, passages, sentences, prior, lexical, english, dense, dense_sentences),
            )
            for r in reads
        ]
        answerable = [x for k, x in out if k != "nearmiss" and x]
        near = [x for k, x in out if k == "nearmiss" and x]
        probabilities = sorted(x[0] for x in answerable)
        threshold = probabilities[int(0.05 * len(probabilities))] if probabilities else 0.0
        n = max(1, len(answerable))
        line = {
            "passages": passages,
            "sentences": sentences,
            "rank_prior": prior,
            "lexical_weight": lexical,
            "english_lexical_weight": english,
            "dense_weight": dense,
            "dense_sentences": dense_sentences,
            "chosen_holds_gold": round(sum(x[1] for x in answerable) / n, 3),
            "hit@5": round(sum(x[3] for x in answerable) / n, 3),
            "threshold_5pct": round(threshold, 3),
            "nearmiss_not_own": round(
                sum(x[0] < threshold or not x[2] for x in near) / max(1, len(near)), 3
            ),
        }
        for kind in sorted({k for k, _ in out if k != "nearmiss"}):
            sub = [x for k, x in out if k == kind and x]
            line[kind] = round(sum(x[1] for x in sub) / max(1, len(sub)), 3)
        lines.append(line)
    if args.dump:
        args.dump.write_text("".join(json.dumps(line) + "\n" for line in lines))
    lines.sort(key=lambda d: -(d["chosen_holds_gold"] + d["hit@5"]))
    for line in lines[: args.top]:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
