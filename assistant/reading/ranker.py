"""`PassageRanker`: reorders the retrieved passages by reading the question with each one.

Why: the fusion of dense and BM25 search finds the right passage in its top 20 for about 95 % of
taynguyen questions but puts it in the top 5 for 65-89 % (English questions lose most), and the
reader, which scores sentences, did not make a good passage ranker: reading more passages let
it promote wrong ones (docs/EVALUATION.md). So a second cross-encoder of the reader's shape
(`model.CrossEncoder`, the default model's lower layers, a few trained layers) reads the question
with each passage's title and text, and its logit, plus a prior for the fusion's rank, reorders
the first `depth` passages before the reader reads the best few. It is trained by
`hoidap reader train-ranker` (`ranker_train.py`, starting from the reader's layers) and shipped
beside the reader. By default it reorders English questions' passages only: on Vietnamese
`dev` questions, where BM25 and dense search agree, it moved passages the wrong way
(docs/EVALUATION.md, session 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistant.models import Passage
from assistant.reading.reader import Reader, load_tokenizer, load_trained
from assistant.reading.weights import Shipped
from store.bert import Precision, pad_ids

RANKER_DIR = Path(__file__).parent
RANKER_TOKENS = 224  # question, title and passage together; a 1,000-character chunk is ~230
BATCH = 16
REBUILD_RANKER = (
    "hoidap --store NEG ingest ../shared/corpus/taynguyen.jsonl ../shared/corpus/dantri.jsonl, "
    "then hoidap reader train-ranker --data ../shared/eval --corpus "
    "../shared/corpus/taynguyen.jsonl --negatives-store NEG"
)
RANKER = Shipped(
    "The passage ranker", RANKER_DIR, "ranker.safetensors", "ranker.json", REBUILD_RANKER
)


def passage_text(title: str | None, text: str) -> str:
    """What the ranker reads of a passage: its article's title, then the passage."""
    title = (title or "").strip()
    return f"{title}. {text}" if title else text


class PassageRanker:
    """The trained passage cross-encoder, loaded offline on the default model's folder.

    `reader`: a loaded reader in the same precision, whose embeddings and frozen layers (the base
    model's own) the ranker shares instead of holding a second copy.

    Raises:
        ReaderError: the weights are missing, fail their sha256 check, or do not fit the base.
    """

    def __init__(
        self,
        base_dir: Path,
        weights_dir: Path = RANKER_DIR,
        *,
        precision: Precision = "fp32",
        reader: Reader | None = None,
    ) -> None:
        import torch

        lower = reader.model if reader is not None and reader.precision == precision else None
        self.model, self.manifest = load_trained(base_dir, weights_dir, RANKER, precision, lower)
        self.tokenizer = load_tokenizer(
            base_dir, int(self.manifest.get("max_tokens", RANKER_TOKENS))
        )
        self._torch = torch

    def logits(self, question: str, texts: Sequence[str]) -> list[float]:
        """How well each text answers the question (higher is better), in order."""
        if not texts:
            return []
        encoded = self.tokenizer.encode_batch([(question, t) for t in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i].ids))
        out = [0.0] * len(texts)
        with self._torch.inference_mode():
            for lo in range(0, len(order), BATCH):
                rows = order[lo : lo + BATCH]
                ids, mask = pad_ids([encoded[i].ids for i in rows], 1)
                relevance, _, _ = self.model(ids, mask)
                for j, i in enumerate(rows):
                    out[i] = float(relevance[j])
        return out

    def rerank(
        self, question: str, passages: Sequence[Passage], depth: int, prior: float
    ) -> list[Passage]:
        """The first `depth` passages reordered by logit + prior / (1 + fused rank), then the rest.

        The prior keeps the fusion's say: a passage both searches put first needs a clearly
        better rival to lose its place.
        """
        head, tail = list(passages[:depth]), list(passages[depth:])
        logits = self.logits(question, [passage_text(p.title, p.text) for p in head])
        score = {id(p): x + prior / (1 + rank) for rank, (p, x) in enumerate(zip(head, logits))}
        return sorted(head, key=lambda p: -score[id(p)]) + tail
