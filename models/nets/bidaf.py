"""BiDAF: Bi-Directional Attention Flow (Seo et al. 2017, arXiv:1611.01603, Sec. 2 and 4).

Layers, as in the paper: character embedding (8-dim characters, 100 convolution filters of width
5, max-pooled over the word), fixed word embedding (100-dim GloVe-sized, not trained), a two-layer
highway network over their concatenation, a contextual BiLSTM (d = 100 per direction), the
attention flow layer (similarity S_tj = w^T [h; u; h*u], context-to-query and query-to-context
attention, G = [h; u~; h*u~; h*h~]), a two-layer modelling BiLSTM, and the output layer
(p1 from [G; M], p2 from [G; M2] with M2 a further BiLSTM over M). Dropout 0.2.

The trilinear similarity is computed in its factored form (w1.h + w2.u + (h*w3).u), which is
exactly w^T [h; u; h*u] without materialising the (T, J, 6d) tensor.
"""

from __future__ import annotations

import torch
from torch import nn


class Highway(nn.Module):
    """Highway layers (Srivastava et al. 2015): y = g * relu(W x) + (1 - g) * x."""

    def __init__(self, dim: int, layers: int = 2) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.gates = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for transform, gate in zip(self.transforms, self.gates, strict=True):
            g = torch.sigmoid(gate(x))
            x = g * torch.relu(transform(x)) + (1 - g) * x
        return x


class CharCNN(nn.Module):
    """Character embedding of each word: 1D convolution over its characters, max-pooled."""

    def __init__(
        self, char_vocab: int, char_dim: int, filters: int, width: int, dropout: float
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(char_vocab, char_dim)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(char_dim, filters, width, padding=width // 2)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        batch, length, word = chars.shape
        x = self.embedding(chars.reshape(batch * length, word))
        x = self.dropout(x).transpose(1, 2)
        x = torch.relu(self.conv(x)).amax(dim=2)
        return x.reshape(batch, length, -1)


class BiDAF(nn.Module):
    """BiDAF for extractive QA: returns start and end logits over the context words."""

    def __init__(
        self,
        *,
        word_vocab: int = 400_000,
        char_vocab: int = 256,
        word_dim: int = 100,
        char_dim: int = 8,
        char_filters: int = 100,
        char_width: int = 5,
        hidden: int = 100,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        d = hidden
        self.word_embedding = nn.Embedding(word_vocab, word_dim)
        self.word_embedding.weight.requires_grad_(False)  # GloVe vectors stay fixed
        self.char_cnn = CharCNN(char_vocab, char_dim, char_filters, char_width, dropout)
        self.highway = Highway(word_dim + char_filters)
        self.dropout = nn.Dropout(dropout)
        self.contextual = nn.LSTM(word_dim + char_filters, d, batch_first=True, bidirectional=True)
        # w in R^{6d} of S_tj = w^T [h; u; h*u], split into its three 2d parts
        self.att_h = nn.Linear(2 * d, 1, bias=False)
        self.att_u = nn.Linear(2 * d, 1, bias=False)
        self.att_hu = nn.Parameter(torch.empty(2 * d))
        self.modeling = nn.LSTM(
            8 * d, d, num_layers=2, batch_first=True, bidirectional=True, dropout=dropout
        )
        self.end_lstm = nn.LSTM(2 * d, d, batch_first=True, bidirectional=True)
        self.start_out = nn.Linear(10 * d, 1)
        self.end_out = nn.Linear(10 * d, 1)
        nn.init.uniform_(self.att_hu, -((1 / (2 * d)) ** 0.5), (1 / (2 * d)) ** 0.5)

    def embed(self, words: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.word_embedding(words), self.char_cnn(chars)], dim=2)
        x = self.highway(x)
        out, _ = self.contextual(self.dropout(x))
        return out

    def forward(
        self,
        context_words: torch.Tensor,
        context_chars: torch.Tensor,
        query_words: torch.Tensor,
        query_chars: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.embed(context_words, context_chars)  # (B, T, 2d)
        u = self.embed(query_words, query_chars)  # (B, J, 2d)
        s = (
            self.att_h(h)
            + self.att_u(u).transpose(1, 2)
            + torch.bmm(h * self.att_hu, u.transpose(1, 2))
        )
        c2q = torch.bmm(torch.softmax(s, dim=2), u)  # (B, T, 2d)
        b = torch.softmax(s.amax(dim=2), dim=1)  # (B, T)
        q2c = torch.bmm(b.unsqueeze(1), h).expand_as(h)  # (B, T, 2d), tiled over T
        g = torch.cat([h, c2q, h * c2q, h * q2c], dim=2)  # (B, T, 8d)
        m, _ = self.modeling(self.dropout(g))  # (B, T, 2d)
        m2, _ = self.end_lstm(self.dropout(m))
        start = self.start_out(self.dropout(torch.cat([g, m], 2))).squeeze(2)
        end = self.end_out(self.dropout(torch.cat([g, m2], 2))).squeeze(2)
        return start, end
