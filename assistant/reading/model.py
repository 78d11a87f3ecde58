"""The reader network: the default e5-small's lower layers, a few fine-tuned layers, two heads.

Why this shape: no cross-encoder or QA model ships in any package this machine can install, so
the reader is trained here, on two CPU cores. It starts from multilingual-e5-small, which already
maps Vietnamese and English into one space. The word embeddings and the first `frozen`
layers are the default embedding model's own weights, read from its built folder, so the shipped
file holds only the `trained` layers above them and the heads (a few MB), and both languages
share everything the embedding model knows. The two counts are the manifest's (`reader.json`),
so a file trained at another depth loads as it was trained; `FROZEN_LAYERS` and
`TRAINED_LAYERS` are the training command's defaults.

Precision: `CrossEncoder.run_layers_in` puts the layers' linear matrices in bf16 for inference
(the store's ``precision`` setting, as the embedding model); LayerNorms, the embeddings and the
heads stay fp32, as in `store.bert`.

Input: ``<s> question </s></s> sentence </s>`` (the XLM-R pair format). Outputs per pair:
a relevance logit (does this sentence answer the question?) from the mean of the tokens, and
start and end logits over the sentence's tokens for the short answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from store.bert import packed_linear, prepack

HIDDEN = 384
HEADS = 12
FFN = 1536
LAYER_NORM_EPS = 1e-12
FROZEN_LAYERS = 3
TRAINED_LAYERS = 3
BASE_LAYERS = 12  # multilingual-e5-small
TOKEN_BUCKET = 64  # see `Packing`
_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


class EncoderLayer(nn.Module):
    """One BERT layer (post-LayerNorm, exact GELU), as `store.bert` computes it."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(HIDDEN, HIDDEN)
        self.k = nn.Linear(HIDDEN, HIDDEN)
        self.v = nn.Linear(HIDDEN, HIDDEN)
        self.ao = nn.Linear(HIDDEN, HIDDEN)
        self.aln = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        self.fi = nn.Linear(HIDDEN, FFN)
        self.fo = nn.Linear(FFN, HIDDEN)
        self.oln = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        # Inference: the query, key and value matrices as one product (`fuse_qkv`).
        self.qkv: nn.Module | None = None
        self.dropout = 0.0  # training only (`CrossEncoder.set_dropout`); none in eval mode

    def fuse_qkv(self) -> None:
        """One bf16 product for the query, key and value matrices, prepacked (inference).

        Three products of 384 columns cost more than one of 1,152 on small batches.
        """
        if self.qkv is not None or not all(
            isinstance(m, (nn.Linear, PackedLinear)) for m in (self.q, self.k, self.v)
        ):
            return
        self.qkv = PackedLinear.of(
            torch.cat([self.q.weight, self.k.weight, self.v.weight]),
            torch.cat([self.q.bias, self.k.bias, self.v.bias]),
        )

    def forward(self, x: torch.Tensor, packing: Packing) -> torch.Tensor:
        """`x`: the batch's real tokens, packed (`Packing`); attention sees them padded."""
        batch, width = packing.batch, packing.width
        if self.qkv is not None:
            qkv = self.qkv(x)
        else:
            qkv = torch.cat([self.q(x), self.k(x), self.v(x)], dim=-1)
        heads = packing.unpack(qkv).view(batch, width, 3, HEADS, HIDDEN // HEADS)
        q, k, v = heads.permute(2, 0, 3, 1, 4).unbind(0)
        drop = self.dropout if self.training else 0.0
        context = functional.scaled_dot_product_attention(
            q, k, v, attn_mask=packing.key_mask, dropout_p=drop
        )
        context = packing.pack(context.transpose(1, 2).reshape(batch, width, HIDDEN))
        x = _norm(self.aln, functional.dropout(self.ao(context), drop, self.training) + x)
        ffn = self.fo(functional.gelu(self.fi(x)))
        return _norm(self.oln, functional.dropout(ffn, drop, self.training) + x)

    def load_bert(self, tensors: Mapping[str, torch.Tensor], index: int) -> None:
        """Copy layer `index` of a BERT checkpoint (transformers' tensor names)."""
        state = {}
        for short, long in _PARTS.items():
            for kind in ("weight", "bias"):
                state[f"{short}.{kind}"] = tensors[f"encoder.layer.{index}.{long}.{kind}"].float()
        self.load_state_dict(state)


class CrossEncoder(nn.Module):
    """Embeddings and frozen lower layers from the base model, trained layers and heads on top."""

    def __init__(
        self,
        base: Mapping[str, torch.Tensor],
        frozen: int = FROZEN_LAYERS,
        trained: int = TRAINED_LAYERS,
    ) -> None:
        super().__init__()
        if frozen + trained > BASE_LAYERS or frozen < 0 or trained < 1:
            raise ValueError(f"{frozen} frozen + {trained} trained layers do not fit the base")
        # The base model's tensors are kept as buffers-by-reference: never trained, never saved.
        self._word = base["embeddings.word_embeddings.weight"].float()
        self._position = base["embeddings.position_embeddings.weight"].float()
        self._type = base["embeddings.token_type_embeddings.weight"][0].float()
        self._embedding_norm = (
            base["embeddings.LayerNorm.weight"].float(),
            base["embeddings.LayerNorm.bias"].float(),
        )
        self.frozen = nn.ModuleList(EncoderLayer() for _ in range(frozen))
        for i, layer in enumerate(self.frozen):
            layer.load_bert(base, i)
            layer.requires_grad_(False)
        self.layers = nn.ModuleList(EncoderLayer() for _ in range(trained))
        self.relevance = nn.Linear(HIDDEN, 1)
        self.span = nn.Linear(HIDDEN, 2)

    @classmethod
    def on_lower(cls, lower: CrossEncoder, trained: int) -> CrossEncoder:
        """A new model on `lower`'s embeddings and frozen layers, shared, not copied.

        Those are the base model's own weights and never trained, so two cross-encoders on one
        base (the reader and the passage ranker) hold them once: the word embeddings alone are
        about 380 MB in float32. Inference only: the shared layers stay in `lower`'s dtype.
        """
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model._word, model._position, model._type = lower._word, lower._position, lower._type
        model._embedding_norm = lower._embedding_norm
        model.frozen = lower.frozen
        model.layers = nn.ModuleList(EncoderLayer() for _ in range(trained))
        model.relevance = nn.Linear(HIDDEN, 1)
        model.span = nn.Linear(HIDDEN, 2)
        return model

    def set_dropout(self, p: float) -> None:
        """Dropout in the trained layers while training (`hoidap reader train --dropout`).

        Without it the reader fits its training questions almost perfectly (a ranking loss
        near 0.03 on taynguyen_qa's); 0.1, as BERT is fine-tuned, was measured and not
        shipped (docs/EVALUATION.md, session 12).
        """
        for layer in self.layers:
            layer.dropout = p

    def init_trained_from_base(self, base: Mapping[str, torch.Tensor]) -> None:
        """Start the trained layers from the base model's next layers (training only)."""
        for i, layer in enumerate(self.layers):
            layer.load_bert(base, len(self.frozen) + i)

    def lower(self, ids: torch.Tensor, packing: Packing) -> torch.Tensor:
        """Embeddings and the frozen layers, packed: no gradient ever flows here."""
        with torch.no_grad():
            width = ids.shape[1]
            x = functional.embedding(ids, self._word) + self._type + self._position[:width]
            x = functional.layer_norm(x, (HIDDEN,), *self._embedding_norm, LAYER_NORM_EPS)
            x = packing.pack(x.to((self.frozen or self.layers)[0].q.weight.dtype))
            for layer in self.frozen:
                x = layer(x, packing)
        return x

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Relevance logits (batch,), start and end logits (batch, width)."""
        packing = Packing.of(mask)
        x = self.lower(ids, packing)
        for layer in self.layers:
            x = layer(x, packing)
        x = packing.unpack(x.float())
        # Mean over the tokens, as the embedding model pools: its first token was never
        # trained to summarize, and a head on it barely learned in a first training run.
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        relevance = self.relevance(pooled).squeeze(-1)
        start, end = self.span(x).unbind(-1)
        return relevance, start, end

    def run_layers_in(self, dtype: torch.dtype) -> None:
        """Cast the layers' linear weights to ``dtype`` (inference; LayerNorms stay fp32).

        bf16 matrices are prepacked for oneDNN, as `store.bert` does for the embedding model.
        """
        for layer in [*self.frozen, *self.layers]:
            # Layers already packed (shared with another model, `on_lower`) hold no nn.Linear.
            for name, module in list(layer.named_children()):
                if isinstance(module, nn.Linear):
                    module.to(dtype)
                    if dtype == torch.bfloat16:
                        packed = PackedLinear.of(module.weight, module.bias)
                        if packed is not None:
                            setattr(layer, name, packed)
            if dtype == torch.bfloat16:
                layer.fuse_qkv()

    def trained_state(self) -> dict[str, torch.Tensor]:
        """What the shipped file holds: the trained layers and the heads."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("frozen.")}


class PackedLinear(nn.Module):
    """An inference-only bf16 `nn.Linear` whose matrix is prepacked (`store.bert.prepack`)."""

    def __init__(self, weight: torch.Tensor, packed: object, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.packed, self.bias = weight, packed, bias

    @classmethod
    def of(cls, weight: torch.Tensor, bias: torch.Tensor) -> PackedLinear | None:
        """None where oneDNN cannot prepack (`prepack`)."""
        weight = weight.detach()
        packed = prepack(weight)
        return None if packed is None else cls(weight, packed, bias.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return packed_linear(x, self.packed, self.bias)


def _norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """LayerNorm in fp32 whatever the layers run in, back in their dtype."""
    return norm(x.float()).to(x.dtype)


@dataclass(frozen=True)
class Packing:
    """Where a padded batch's real tokens are: the layers' products read only those.

    Why: oneDNN builds a kernel for each new shape of a product, about 14 ms for a 384 x 1536
    one on two cores against 2.6 ms to run it once built. The reader's batches (some 22
    sentences of 20-160 tokens) had a new shape nearly every question, and a third of their
    tokens were padding. Packed, the products see the real tokens, their count rounded up to a
    multiple of `TOKEN_BUCKET`, so a few dozen shapes recur; attention alone sees the padded
    batch (docs/BENCHMARKS.md, "Packed tokens").
    """

    batch: int
    width: int
    # Positions of the real tokens in the flattened (batch x width) batch; None: all of them,
    # padding included, when the batch is hardly padded (a ranker's passages).
    index: torch.Tensor | None
    rows: int  # the packed matrix's rows: the real tokens, rounded up to TOKEN_BUCKET
    key_mask: torch.Tensor | None  # (batch, 1, 1, width) for attention, None without padding

    @classmethod
    def of(cls, mask: torch.Tensor) -> Packing:
        batch, width = mask.shape
        real = int(mask.sum())
        key_mask = None if real == batch * width else mask[:, None, None, :]
        if batch * width - real < TOKEN_BUCKET:  # hardly padded: packing would cost more
            return cls(batch, width, None, batch * width, key_mask)
        index = mask.reshape(-1).nonzero().squeeze(-1)
        rows = -(-real // TOKEN_BUCKET) * TOKEN_BUCKET
        return cls(batch, width, index, rows, key_mask)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, width, hidden) -> (rows, hidden): the real tokens, then zero rows."""
        flat = x.reshape(-1, x.shape[-1])
        if self.index is None:
            return flat
        real = flat.index_select(0, self.index)
        return functional.pad(real, (0, 0, 0, self.rows - len(self.index)))

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(rows, hidden) -> (batch, width, hidden), zeros where the batch is padded."""
        if self.index is None:
            return x.view(self.batch, self.width, -1)
        out = x.new_zeros(self.batch * self.width, x.shape[-1])
        out = out.index_copy(0, self.index, x[: len(self.index)])
        return out.view(self.batch, self.width, -1)
