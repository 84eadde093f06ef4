"""Decoder language models: the shape facts the analytic FLOP formulas need, and the published
training run in tokens.

The zoo's `Architecture` describes a run in examples and epochs; a language model's run is
published in tokens (Brown et al. 2020 Table 2.1: 300B tokens, batch 3.2M tokens). A
`DecoderFacts` record, registered beside the architecture of the same name, keeps those facts
and the shape (layers L, heads H, head dimension Q, context T) used by the approximations
6N and 6N + 12LHQT (Chowdhery et al. 2022, "PaLM", arXiv:2204.02311, Appendix B).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UnknownArchitectureError


@dataclass(frozen=True)
class DecoderShape:
    """One decoder's shape: enough to derive its embedding and expert parameter counts."""

    layers: int
    d_model: int
    heads: int
    head_dim: int
    vocab: int
    learned_positions: int = 0  # rows of a learned position table (GPT-2, OPT); 0 for RoPE/ALiBi
    experts: int = 0  # experts per MoE layer; 0 for a dense model
    top_k: int = 0  # experts each token is routed to
    expert_params: int = 0  # parameters of one expert of one layer

    @property
    def embedding_params(self) -> int:
        """Token and position tables: lookups, no arithmetic (Kaplan et al. 2020, arXiv:2001.08361
        Sec. 2.1, exclude them from N)."""
        return self.vocab * self.d_model + self.learned_positions * self.d_model

    @property
    def idle_expert_params(self) -> int:
        """Parameters of the experts a token is not routed to (experts - top_k per layer)."""
        return self.layers * (self.experts - self.top_k) * self.expert_params if self.experts else 0

    def attention_term(self, seq_len: int) -> float:
        """PaLM's 12 L H Q T training FLOPs per token for attention scores and values."""
        return 12.0 * self.layers * self.heads * self.head_dim * seq_len


@dataclass(frozen=True)
class DecoderFacts:
    """The full-size and tiny shapes, and the published run in tokens (None: not published)."""

    name: str
    shape: DecoderShape
    tiny_shape: DecoderShape
    seq_len: int
    tokens: float | None
    batch_tokens: float | None
    citation: str
    counting_note: str = ""

    def shape_for(self, tiny: bool) -> DecoderShape:
        return self.tiny_shape if tiny else self.shape


_FACTS: dict[str, DecoderFacts] = {}


def register_decoder(facts: DecoderFacts) -> DecoderFacts:
    _FACTS[facts.name] = facts
    return facts


def decoder_facts(name: str) -> DecoderFacts | None:
    """The facts of a registered decoder, or None for any other architecture."""
    from harness.arch.registry import discover

    discover()
    return _FACTS.get(name)


def require_decoder(name: str) -> DecoderFacts:
    """The facts of `name`; an unknown name is a one-line error with close matches."""
    import difflib

    facts = decoder_facts(name)
    if facts is None:
        close = difflib.get_close_matches(name, list(_FACTS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownArchitectureError(f"{name!r} is not a decoder language model{hint}")
    return facts


def all_decoders() -> list[DecoderFacts]:
    from harness.arch.registry import discover

    discover()
    return list(_FACTS.values())
