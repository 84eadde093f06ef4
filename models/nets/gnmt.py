"""GNMT-style LSTM encoder-decoder with attention (Wu et al. 2016, arXiv:1609.08144, Sec. 3).

As in the paper: 8 encoder LSTM layers, the bottom one bidirectional; 8 decoder LSTM layers;
1024 units; residual connections from the third layer up in both stacks; an additive attention
network (one hidden layer of 1024 units) whose query is the bottom decoder layer's output and
whose context is fed to every decoder layer above it; a softmax over a shared wordpiece
vocabulary (32k).

As in the widely used reference implementations (MLPerf / NVIDIA GNMT v2), the bottom decoder
layer's output at step t (not t-1) queries the attention, so the whole target runs through each
layer as one cuDNN LSTM call under teacher forcing; the per-step cost is the same.
Source and target embeddings are separate matrices over the shared vocabulary.
"""

from __future__ import annotations

import torch
from torch import nn


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score(q, k) = v^T tanh(W_q q + W_k k)."""

    def __init__(self, query_dim: int, key_dim: int, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_dim, hidden, bias=False)
        self.key = nn.Linear(key_dim, hidden, bias=True)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Context vectors (B, Lq, key_dim) for queries (B, Lq, dq) over keys (B, Lk, dk)."""
        q = self.query(queries).unsqueeze(2)  # (B, Lq, 1, H)
        k = self.key(keys).unsqueeze(1)  # (B, 1, Lk, H)
        weights = torch.softmax(self.score(torch.tanh(q + k)).squeeze(3), dim=2)
        return torch.bmm(weights, keys)


class GNMT(nn.Module):
    """Returns target logits (B, L_tgt, V) for source ids and shifted target ids."""

    def __init__(
        self,
        *,
        vocab_size: int = 32_000,
        hidden: int = 1024,
        encoder_layers: int = 8,
        decoder_layers: int = 8,
        dropout: float = 0.2,
        residual_from: int = 3,
    ) -> None:
        super().__init__()
        if encoder_layers < 2 or decoder_layers < 2:
            raise ValueError("GNMT needs at least 2 encoder and 2 decoder layers")
        self.residual_from = residual_from
        self.dropout = nn.Dropout(dropout)
        self.source_embedding = nn.Embedding(vocab_size, hidden)
        self.target_embedding = nn.Embedding(vocab_size, hidden)
        # encoder: bidirectional bottom layer (2*hidden out), then unidirectional layers
        enc = [nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)]
        enc.append(nn.LSTM(2 * hidden, hidden, batch_first=True))
        enc += [nn.LSTM(hidden, hidden, batch_first=True) for _ in range(encoder_layers - 2)]
        self.encoder = nn.ModuleList(enc)
        # decoder: bottom layer on embeddings; the others read [previous output; context]
        dec = [nn.LSTM(hidden, hidden, batch_first=True)]
        dec += [nn.LSTM(2 * hidden, hidden, batch_first=True) for _ in range(decoder_layers - 1)]
        self.decoder = nn.ModuleList(dec)
        self.attention = AdditiveAttention(hidden, hidden, hidden)
        self.classifier = nn.Linear(hidden, vocab_size)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        x = self.source_embedding(src)
        for i, lstm in enumerate(self.encoder, start=1):
            out, _ = lstm(self.dropout(x))
            x = out + x if i >= self.residual_from else out
        return x

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        memory = self.encode(src)
        x, _ = self.decoder[0](self.dropout(self.target_embedding(tgt)))
        context = self.attention(x, memory)
        for i, lstm in enumerate(self.decoder[1:], start=2):
            out, _ = lstm(self.dropout(torch.cat([x, context], dim=2)))
            x = out + x if i >= self.residual_from else out
        return self.classifier(self.dropout(x))
