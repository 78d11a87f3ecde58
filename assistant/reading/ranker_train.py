"""`hoidap reader train-ranker`: rebuild the passage ranker's weights from the QA sets.

One group per question of the `train` fold's articles: the positive is the chunk of the
question's own article that holds the gold answer (the article chunked as the store chunks it,
so a data set's articles need not be in the store), read with its title. Its negatives are what
the ranker meets at answer time: the passages a store of the corpus (`--negatives-store`)
retrieves for the question that do not hold the answer, then the chunk of the same article
sharing most words with the question, and one of another article of the same set. Near-miss
questions teach nothing about order and are left out. A softmax over each group ranks the
positive first (what reordering asks); a per-pair logistic loss keeps the logits comparable
between questions.

Seeded and run in a fixed order, as the reader's training (`train.py`).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.evaluate import Item, contains_gold, load_dataset
from assistant.language import fold
from assistant.models import Passage
from assistant.question import Question
from assistant.reading.ranker import RANKER, RANKER_TOKENS, passage_text
from assistant.reading.reader import load_tokenizer, load_trained
from assistant.reading.split import fold_of
from assistant.reading.train import (
    SEED,
    Encoded,
    _mean,
    optimizer_and_schedule,
    optimizer_step,
    ranking_loss,
    reader_question,
    save_trained,
    training_batches,
)
from assistant.reading.weights import READER, WEIGHTS_DIR, sha256_of
from ingest.chunk import chunk_spans
from ingest.clean import clean_text
from ingest.errors import UsageError
from store.bert import pad_ids

# File in the data folder -> questions taken at most (seeded sample), to fit about 45 minutes
# of training on 2 cores: the Central Highlands news and the English questions whole, the
# other Vietnamese sets in part.
RANKER_FILES: dict[str, int] = {
    "taynguyen_qa.jsonl": 10_000,
    "viquad_dev_en.json": 10_000,
    "mlqa_dev_en.json": 10_000,
    "mlqa_dev_vi.json": 10_000,
    "vinewsqa_dev.json": 800,
    "viquad_dev.json": 500,
    "vicoqa_dev.json": 300,
}
RETRIEVED_DEPTH = 20  # passages retrieved per question, whose first misses are negatives
RETRIEVED_NEGATIVES = 4
GROUP_SIZE = 7  # the positive and six negatives
GROUPS_PER_BATCH = 4

Retrieve = Callable[[Item], tuple[Question, list[Passage]]]


def _words(text: str) -> set[str]:
    return set(fold(text).split())


def _group(
    item: Item,
    title: str,
    chunks: list[str],
    others: list[str],
    retrieved: Sequence[Passage],
    rng: random.Random,
) -> list[tuple[str, str, float]]:
    """(question, passage, label) triples, the positive first; empty when none holds the gold.

    The positive is the store's own chunk when the article is in the store and was retrieved
    (its text as the store cleaned it, like every negative's), else the article's chunk.
    """
    golds = item.golds
    if not golds:
        return []
    stored = (
        passage_text(p.title, p.text)
        for p in retrieved
        if title and p.title.strip() == title and contains_gold(p.text, golds)
    )
    positive = next(stored, None) or next((c for c in chunks if contains_gold(c, golds)), None)
    if positive is None:
        return []
    question = reader_question(item.question, item.history)
    asked = _words(question)
    key = " ".join(positive.split())
    taken = {key}
    negatives: list[str] = []

    def add(text: str) -> None:
        k = " ".join(text.split())
        if k not in taken and not contains_gold(text, golds):
            taken.add(k)
            negatives.append(text)

    for p in retrieved:
        if len(negatives) >= RETRIEVED_NEGATIVES:
            break
        add(passage_text(p.title, p.text))
    own = sorted(chunks, key=lambda c: -len(asked & _words(c)))
    for c in own[:1]:
        add(c)
    sample = rng.sample(others, min(40, len(others)))
    for c in sorted(sample, key=lambda c: -len(asked & _words(c)))[:1]:
        add(c)
    for p in retrieved[RETRIEVED_NEGATIVES:]:
        if len(negatives) >= GROUP_SIZE - 1:
            break
        add(passage_text(p.title, p.text))
    return [(question, positive, 1.0)] + [(question, n, 0.0) for n in negatives]


def ranker_groups(
    data_dir: Path,
    corpus: Path | None,
    chunking: tuple[int, int],
    retrieve: Retrieve | None = None,
    *,
    fold: str = "train",
    extra_data: Sequence[Path] = (),
    progress: bool = True,
) -> tuple[list[list[tuple[str, str, float]]], dict]:
    """One group per answerable question of every data file's articles in `fold`, and counts.

    `chunking`: the store's (chunk size, overlap), so the positives are chunks like the store's.
    """
    from tqdm import tqdm

    rng = random.Random(SEED)
    sources = [(name, data_dir / name, cap) for name, cap in RANKER_FILES.items()]
    sources += [(f"extra: {Path(p).name}", Path(p), 10_000) for p in extra_data]
    for name, path, _ in sources:
        if not path.is_file():
            where = "--extra-data" if name.startswith("extra") else "--data: the QA sets' folder"
            raise UsageError(f"{path} is missing ({where}).")
    groups, counts = [], {}
    for name, path, cap in sources:
        data = load_dataset(path, corpus if path.suffix == ".jsonl" else None)
        chunks: dict[str, list[str]] = {}
        titles: dict[str, str] = {}
        for k, c in data.contexts.items():
            text = clean_text(c.text)
            if fold_of(text) != fold:
                continue
            titles[k] = c.title.strip() if c.title != k else ""
            chunks[k] = [
                passage_text(titles[k], text[s:e]) for s, e in chunk_spans(text, *chunking)
            ]
        items = [i for i in data.items if i.context in chunks and i.kind != "nearmiss"]
        rng.shuffle(items)
        items = items[:cap]
        made = 0
        for item in tqdm(items, desc=f"Retrieving for {name}", unit="q", disable=not progress):
            others = [c for k, cs in chunks.items() if k != item.context for c in cs[:2]]
            retrieved = retrieve(item)[1] if retrieve is not None else []
            group = _group(item, titles[item.context], chunks[item.context], others, retrieved, rng)
            if len(group) > 1:
                groups.append(group)
                made += 1
        counts[name] = {"articles": len(chunks), "questions": made}
    return groups, counts


def train_ranker(
    data_dir: Path,
    corpus: Path | None,
    base_dir: Path,
    out_dir: Path,
    *,
    chunking: tuple[int, int],
    retrieve: Retrieve | None = None,
    epochs: float = 1.0,
    learning_rate: float = 1e-4,
    reader_dir: Path = WEIGHTS_DIR,
    extra_data: Sequence[Path] = (),
    limit: int | None = None,
    progress: bool = True,
) -> dict:
    """Train the ranker and write `ranker.safetensors` and `ranker.json` into `out_dir`.

    It starts from the trained reader in `reader_dir` (its depth, layers and relevance head):
    the reader already tells an answering sentence from its neighbours, in both languages, and
    a ranker trained from the base model's layers on the same groups learned much less (an
    English question's passage ranked no better than by chance after one epoch).
    """
    import torch
    from tqdm import tqdm

    from store.bert import limit_torch_threads

    started = time.time()
    limit_torch_threads()
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    triples, counts = ranker_groups(
        data_dir, corpus, chunking, retrieve, extra_data=extra_data, progress=progress
    )
    if limit:
        triples = triples[:limit]
    if not triples:
        raise UsageError("No training question has its answer in a chunk of its article.")
    tokenizer = load_tokenizer(base_dir, RANKER_TOKENS)
    groups = [
        [
            Encoded(enc.ids, label, 0, 0, range(0))
            for enc, (_, _, label) in zip(tokenizer.encode_batch([(q, t) for q, t, _ in g]), g)
        ]
        for g in triples
    ]
    model, reader = load_trained(base_dir, reader_dir, READER, "fp32")
    frozen, trained = len(model.frozen), len(model.layers)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    total = max(1, int(math.ceil(len(groups) / GROUPS_PER_BATCH) * epochs))
    heads = list(model.relevance.parameters())
    optimizer, schedule = optimizer_and_schedule(params, heads, learning_rate, total)
    pairs = sum(len(g) for g in groups)
    pos_weight = torch.tensor((pairs - len(groups)) / len(groups))
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    losses, ranking_losses = [], []
    bar = tqdm(total=total, desc="Training the ranker", unit="step", disable=not progress)
    for step, batch_groups in enumerate(training_batches(groups, GROUPS_PER_BATCH, total, rng), 1):
        batch = [e for g in batch_groups for e in g]
        ids, mask = pad_ids([e.ids for e in batch], 1)
        relevance, _, _ = model(ids, mask)
        ranking = ranking_loss(relevance, batch_groups)
        loss = ranking + 0.5 * bce(relevance, torch.tensor([e.label for e in batch]))
        optimizer_step(loss, params, optimizer, schedule)
        losses.append(loss.item())
        ranking_losses.append(ranking.item())
        bar.update(1)
        if step % 25 == 0:
            bar.set_postfix(
                loss=f"{_mean(losses[-50:]):.3f}", ranking=f"{_mean(ranking_losses[-50:]):.3f}"
            )
    bar.close()
    weights = out_dir / RANKER.weights_file
    save_trained(model, weights)
    manifest = {
        "sha256": sha256_of(weights),
        "bytes": weights.stat().st_size,
        "base_model": base_dir.name,
        "frozen_layers": frozen,
        "trained_layers": trained,
        "initialised_from": f"the reader, sha256 {reader['sha256']}",
        "max_tokens": RANKER_TOKENS,
        "trained_on": counts,
        "extra_data": [Path(p).name for p in extra_data],
        "split": "articles whose text hash falls in the train fold (assistant/reading/split.py)",
        "pairs": pairs,
        "groups": len(groups),
        "mined_negatives": retrieve is not None,
        "steps": total,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "seed": SEED,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "final_loss": round(_mean(losses[-100:]), 4),
        "final_ranking_loss": round(_mean(ranking_losses[-100:]), 4),
        "minutes": round((time.time() - started) / 60, 1),
        "command": RANKER.rebuild,
    }
    (out_dir / RANKER.manifest_file).write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
    return manifest
