"""`Reader`: scores how well each candidate sentence answers a question, and finds the span.

The answerer hands it the question (analysed once, see `assistant.question`) and the
candidate sentences of the retrieved passages; one batched pass of the cross-encoder gives, per
sentence, the probability that it answers the question and the best short-answer span in it.
It runs in the store's precision: bf16 layers where the CPU has bf16 instructions (about twice
as fast; probabilities within about 0.01 of fp32, tests/assistant/test_reader.py), else fp32.
Dynamic int8 was tried and dropped: it moved the sample's answering sentence from 0.95 to 0.22.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.reading.weights import READER, WEIGHTS_DIR, ReaderError, Shipped, verified_weights
from ingest.read import derive_title
from store.bert import Precision, pad_ids

if TYPE_CHECKING:
    from assistant.reading.model import CrossEncoder

MAX_TOKENS = 160  # question and sentence together; longer pairs lose the sentence's end
# A name or a number is a few tokens, but a reason or a description runs to half a sentence: with
# the gold sentence given, 64 against 24 lifted span F1 on `dev` from 0.73 to 0.85 (ViCoQA) and
# 0.78 to 0.83 (ViNewsQA), left taynguyen_qa as it was and cost ViQuAD 1 point (EVALUATION.md).
MAX_SPAN_TOKENS = 64
BATCH = 32


@dataclass(frozen=True)
class PairInput:
    """One tokenized (question, sentence) pair and where the sentence's tokens are."""

    ids: list[int]
    sentence_tokens: range  # token positions that belong to the sentence
    offsets: list[tuple[int, int]]  # per token, character offsets into the sentence


@dataclass(frozen=True)
class Reading:
    """The reader's view of one sentence: `probability` that it answers, the span it found."""

    probability: float
    logit: float
    span: tuple[int, int] | None  # character offsets into the sentence


TITLE_SEPARATOR = " | "


def headline(title: str | None, article_text: str) -> str:
    """The title the reader reads with an article's sentences: "" when it is not a headline.

    A file without a headline gets a title made of its first sentence (`derive_title`), which
    only repeats the text. Every article the reader was trained on has a real headline, and the
    few sentence-like titles it met (Dân Trí's, ending in "…") were all negatives' titles: with
    the sample article's made-up title its answering sentence read 0.001 instead of 0.9
    (docs/EVALUATION.md, session 19).
    """
    title = (title or "").strip()
    return "" if not title or derive_title(article_text) == title else title


def with_title(sentence: str, title: str | None) -> str:
    """What a title-reading reader reads of a sentence: the sentence, then its article's title.

    Why: a sentence alone often lacks the story the question names ("Lễ ký kết diễn ra ngày
    nào?" after a question on NutiFood's signing in Đắk Lắk), which its headline holds. The
    title comes after the sentence, so the sentence keeps its character offsets and truncation
    cuts the title first.
    """
    title = " ".join((title or "").split())
    return f"{sentence}{TITLE_SEPARATOR}{title}" if title else sentence


def encode_pairs(  # noqa: ANN001
    tokenizer, question: str, sentences: Sequence[str], titles: Sequence[str] | None = None
) -> list[PairInput]:
    """Tokenize `(question, sentence)` pairs the way the reader was trained on them.

    `titles`: each sentence's article title, read after it (`with_title`), or None; the span
    is only ever looked for in the sentence's own tokens.
    """
    texts = list(sentences) if titles is None else list(map(with_title, sentences, titles))
    out = []
    for sentence, enc in zip(sentences, tokenizer.encode_batch([(question, t) for t in texts])):
        seq, offsets = enc.sequence_ids, enc.offsets
        inside = [i for i, s in enumerate(seq) if s == 1 and offsets[i][0] < len(sentence)]
        tokens = range(inside[0], inside[-1] + 1) if inside else range(0)
        out.append(PairInput(enc.ids, tokens, list(offsets)))
    return out


def load_tokenizer(base_dir: Path, max_tokens: int = MAX_TOKENS):  # noqa: ANN201
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens, strategy="longest_first")
    return tokenizer


def best_span(start, end, pair: PairInput, sentence: str) -> tuple[int, int] | None:  # noqa: ANN001
    """The highest start+end logit span of at most `MAX_SPAN_TOKENS` tokens, as characters.

    `start`, `end`: one pair's logits (torch, over its padded width).
    """
    import torch

    tokens = pair.sentence_tokens
    if not tokens:
        return None
    s = start[tokens.start : tokens.stop]
    e = end[tokens.start : tokens.stop]
    n = len(tokens)
    scores = s[:, None] + e[None, :]
    band = torch.ones(n, n, dtype=torch.bool).triu().tril(MAX_SPAN_TOKENS - 1)
    flat = int(scores.masked_fill(~band, float("-inf")).argmax())
    i, j = tokens.start + flat // n, tokens.start + flat % n
    lo, hi = pair.offsets[i][0], pair.offsets[j][1]
    while lo < hi and sentence[lo].isspace():
        lo += 1
    while hi > lo and sentence[hi - 1] in " ,;:.":
        hi -= 1
    return _balanced(sentence, lo, hi) if hi > lo else None


_BRACKETS = {"(": ")", "[": "]", "“": "”"}
BRACKET_REACH = 60  # characters a span may grow by to take in the other half of its bracket


def _balanced(sentence: str, lo: int, hi: int) -> tuple[int, int]:
    """The span with every bracket it opens or closes whole.

    The span head ends a span where it likes, and 9 of 641 `dev` answers stopped inside a bracket:
    "Paicî (phần phía bắc của Grande Terre". The span grows to the other half when it is near,
    and is cut before the lone half when it is not (short F1 on `dev` unchanged, session 18).
    """
    for opening, closing in _BRACKETS.items():
        text = sentence[lo:hi]
        if text.count(opening) > text.count(closing):
            end = sentence.find(closing, hi)
            if end != -1 and end - hi <= BRACKET_REACH:
                hi = end + 1
            elif head := text[: text.rfind(opening)].rstrip(" ,;:"):
                hi = lo + len(head)
        elif text.count(closing) > text.count(opening):
            start = sentence.rfind(opening, 0, lo)
            if start != -1 and lo - start <= BRACKET_REACH:
                lo = start
            elif tail := text[text.find(closing) + 1 :].lstrip(" ,;:."):
                lo = hi - len(tail)
    return lo, hi


def load_trained(  # noqa: ANN201
    base_dir: Path,
    folder: Path,
    shipped: Shipped,
    precision: Precision,
    lower: CrossEncoder | None = None,
):
    """A shipped cross-encoder (`CrossEncoder`) on the base model, checked, for inference.

    Returns the model and its manifest, whose depth it is built with. `lower`: a model loaded
    in the same precision whose embeddings and frozen layers the new one shares when its
    depth allows (`CrossEncoder.on_lower`), instead of reading the base model again. Raises
    `ReaderError` when the weights are missing, fail their sha256 check, or do not fit.
    """
    import torch
    from safetensors.torch import load_file

    from assistant.reading.model import FROZEN_LAYERS, TRAINED_LAYERS, CrossEncoder
    from store.bert import limit_torch_threads

    limit_torch_threads()
    path, manifest = verified_weights(folder, shipped)
    frozen = int(manifest.get("frozen_layers", FROZEN_LAYERS))
    trained = int(manifest.get("trained_layers", TRAINED_LAYERS))
    try:
        if lower is not None and len(lower.frozen) == frozen:
            model = CrossEncoder.on_lower(lower, trained)
        else:
            model = CrossEncoder(load_file(str(base_dir / "model.safetensors")), frozen, trained)
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        if set(state) != set(model.trained_state()):
            raise ValueError(f"its tensors are not those of {len(model.layers)} trained layers")
        model.load_state_dict({**model.state_dict(), **state}, strict=True)
    except (OSError, KeyError, RuntimeError, ValueError) as e:
        raise ReaderError(
            f"{shipped.what}'s weights do not fit the base model in {base_dir} ({e})."
        ) from e
    model.eval()
    if precision == "bf16":
        model.run_layers_in(torch.bfloat16)
    return model, manifest


class Reader:
    """The trained cross-encoder, loaded offline on top of the default model's folder.

    Args:
        base_dir: the built default embedding model (`store.model.build_default_model`), whose
            embeddings and lower layers the reader shares.
        weights_dir: folder of `reader.safetensors` and `reader.json` (default: the package).
        precision: ``bf16`` or ``fp32`` layers (see the module's note).

    Raises:
        ReaderError: the weights are missing, fail their sha256 check, or do not fit the base.
    """

    def __init__(
        self, base_dir: Path, weights_dir: Path = WEIGHTS_DIR, *, precision: Precision = "fp32"
    ) -> None:
        import torch

        self.model, self.manifest = load_trained(base_dir, weights_dir, READER, precision)
        # Weights trained on sentences followed by their title (`with_title`) read them so.
        self.reads_titles = bool(self.manifest.get("reads_titles", False))
        self.precision = precision
        self.tokenizer = load_tokenizer(base_dir)
        self._torch = torch
        self.pad_id = 1

    def read(
        self, question: str, sentences: Sequence[str], titles: Sequence[str] | None = None
    ) -> list[Reading]:
        """One `Reading` per sentence, in order.

        `titles`: each sentence's article title, read with it when the weights were trained so.
        """
        if not sentences:
            return []
        torch = self._torch
        titles = titles if self.reads_titles else None
        pairs = encode_pairs(self.tokenizer, question, sentences, titles)
        order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i].ids))
        out: list[Reading | None] = [None] * len(pairs)
        with torch.inference_mode():
            for lo in range(0, len(order), BATCH):
                rows = order[lo : lo + BATCH]
                ids, mask = pad_ids([pairs[i].ids for i in rows], self.pad_id)
                relevance, start, end = self.model(ids, mask)
                for j, i in enumerate(rows):
                    logit = float(relevance[j])
                    span = best_span(start[j], end[j], pairs[i], sentences[i])
                    out[i] = Reading(1 / (1 + math.exp(-logit)), logit, span)
        return [r for r in out if r is not None]
