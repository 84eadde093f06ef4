"""BiLSTM-CRF tagger of Lample et al. (2016), "Neural Architectures for Named Entity Recognition".

arXiv:1603.01360, Sec. 2-4: each word is the concatenation of a word embedding (100) and a
character representation (the final states of a character BiLSTM, 25 per direction, over
25-dimensional character embeddings); dropout 0.5; a word BiLSTM (100 per direction); a hidden
tanh layer before the CRF ("adding a hidden layer between c_i and the CRF layer marginally
improved our results", as in the authors' glample/tagger); a linear-chain CRF trained by
maximum likelihood (forward algorithm) and decoded with Viterbi.

Every operation works on meta tensors (no data-dependent Python control flow), so the model can be
counted without memory.
"""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    """Linear-chain CRF with start and end transition scores.

    Scores of a tag sequence y for emissions P (one row per position):
    start[y_0] + sum_t P[t, y_t] + sum_t A[y_{t-1}, y_t] + end[y_last].
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(p, -0.1, 0.1)

    @staticmethod
    def _mask(emissions: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None:
            return torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        return mask.to(torch.bool)

    def score(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Unnormalised score of `tags` (B, L) under `emissions` (B, L, T); first position valid."""
        mask = self._mask(emissions, mask)
        maskf = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, L)
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, L-1)
        total = self.start_transitions[tags[:, 0]] + (emit * maskf).sum(1)
        total = total + (trans * maskf[:, 1:]).sum(1)
        last = mask.long().sum(1) - 1  # index of the last valid position
        last_tags = tags.gather(1, last.unsqueeze(1)).squeeze(1)
        return total + self.end_transitions[last_tags]

    def log_partition(
        self, emissions: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log Z by the forward algorithm: logsumexp of the score over all tag sequences."""
        mask = self._mask(emissions, mask)
        alpha = self.start_transitions + emissions[:, 0]  # (B, T)
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + self.end_transitions, dim=1)

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-sequence negative log-likelihood, shape (B,)."""
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Viterbi: the highest-scoring tag sequence (B, L); padded positions repeat the last tag."""
        mask = self._mask(emissions, mask)
        batch, length, num_tags = emissions.shape
        score = self.start_transitions + emissions[:, 0]
        identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)
        backpointers = []
        for t in range(1, length):
            best, idx = (score.unsqueeze(2) + self.transitions).max(dim=1)
            valid = mask[:, t].unsqueeze(1)
            score = torch.where(valid, best + emissions[:, t], score)
            backpointers.append(torch.where(valid, idx, identity))
        tag = (score + self.end_transitions).argmax(dim=1)  # (B,)
        path = [tag]
        for bp in reversed(backpointers):
            tag = bp.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        path.reverse()
        return torch.stack(path, dim=1)


class BiLSTMCRF(nn.Module):
    """Word + character BiLSTM encoder with a CRF output layer (Lample et al. 2016)."""

    def __init__(
        self,
        *,
        word_vocab: int,
        char_vocab: int,
        num_tags: int = 9,
        word_dim: int = 100,
        char_dim: int = 25,
        char_hidden: int = 25,
        hidden: int = 100,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.word_embedding = nn.Embedding(word_vocab, word_dim)
        self.char_embedding = nn.Embedding(char_vocab, char_dim)
        self.char_lstm = nn.LSTM(char_dim, char_hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.word_lstm = nn.LSTM(
            word_dim + 2 * char_hidden, hidden, batch_first=True, bidirectional=True
        )
        self.hidden_layer = nn.Linear(2 * hidden, hidden)
        self.output_layer = nn.Linear(hidden, num_tags)
        self.crf = CRF(num_tags)

    def emissions(self, words: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
        """Tag scores (B, L, T) for words (B, L) and their characters (B, L, W)."""
        batch, length, width = chars.shape
        c = self.char_embedding(chars.reshape(batch * length, width))
        _, (h_n, _) = self.char_lstm(c)  # h_n: (2, B*L, char_hidden)
        char_repr = torch.cat([h_n[0], h_n[1]], dim=1).reshape(batch, length, -1)
        x = torch.cat([self.word_embedding(words), char_repr], dim=2)
        h, _ = self.word_lstm(self.dropout(x))
        return self.output_layer(torch.tanh(self.hidden_layer(self.dropout(h))))

    def forward(
        self, words: torch.Tensor, chars: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Inference: the Viterbi tag sequence (B, L)."""
        return self.crf.decode(self.emissions(words, chars), mask)

    def loss(
        self,
        words: torch.Tensor,
        chars: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean CRF negative log-likelihood over the batch."""
        return self.crf.neg_log_likelihood(self.emissions(words, chars), tags, mask).mean()
