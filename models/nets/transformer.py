"""The Transformer for translation (Vaswani et al. 2017, arXiv:1706.03762), on torch.nn.Transformer.

As in the paper: a shared source/target vocabulary with one embedding matrix used for the encoder
input, the decoder input and the pre-softmax projection (Sec. 3.4), embeddings scaled by
sqrt(d_model), sinusoidal positions (Sec. 3.5), post-norm residual blocks, dropout on the sums of
embeddings and positions and on every sub-layer output (Sec. 5.4).

torch.nn.Transformer adds a final LayerNorm after its encoder and decoder stacks (2 x 2 x d_model
parameters that the paper's post-norm model does not have). The stacks run sequence-first
(`batch_first=False`), which keeps PyTorch's fused inference fast path (a single opaque kernel
that FLOP counters cannot see) switched off, so inference and training run the same operators.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class TransformerNMT(nn.Module):
    """Encoder-decoder Transformer with tied embeddings; returns target logits (B, L_tgt, V)."""

    def __init__(
        self,
        *,
        vocab_size: int,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, mean=0.0, std=d_model**-0.5)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=False, norm_first=False
        )
        # the encoder nn.Transformer would build, minus nested tensors (they need batch_first)
        encoder = nn.TransformerEncoder(
            layer, num_encoder_layers, nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        self.transformer = nn.Transformer(
            d_model=d_model,
            nhead=nhead,
            num_encoder_layers=num_encoder_layers,
            num_decoder_layers=num_decoder_layers,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            custom_encoder=encoder,
            batch_first=False,
            norm_first=False,
        )

    def positions(self, length: int, like: torch.Tensor) -> torch.Tensor:
        """Sinusoidal encodings (L, 1, d): sin on even, cos on odd channels."""
        pos = torch.arange(length, device=like.device, dtype=like.dtype).unsqueeze(1)
        i = torch.arange(0, self.d_model, 2, device=like.device, dtype=like.dtype)
        angle = pos * torch.exp(i * (-math.log(10000.0) / self.d_model))
        pe = torch.stack([torch.sin(angle), torch.cos(angle)], dim=2).reshape(length, -1)
        return pe.unsqueeze(1)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens.t()) * math.sqrt(self.d_model)  # (L, B, d)
        return self.dropout(x + self.positions(x.shape[0], x))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoding: `src` (B, L_src) and shifted target `tgt` (B, L_tgt) ids."""
        length = tgt.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(
            length, device=tgt.device, dtype=self.embedding.weight.dtype
        )
        out = self.transformer(
            self.embed(src), self.embed(tgt), tgt_mask=causal, tgt_is_causal=True
        )  # (L_tgt, B, d)
        return nn.functional.linear(out.transpose(0, 1), self.embedding.weight)
