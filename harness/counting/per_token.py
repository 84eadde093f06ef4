"""Per-token training FLOPs of a decoder: counted, beside the analytic approximations.

Two approximations are in common use for a decoder's training compute per token:

- 6N (Kaplan et al. 2020, arXiv:2001.08361 Sec. 2.1): N non-embedding parameters, each a
  multiply-add forward (2 FLOPs) and two backward (4 FLOPs); attention scores are left out.
- 6N + 12LHQT (Chowdhery et al. 2022, "PaLM", arXiv:2204.02311, Appendix B): the attention
  scores and values added, L layers, H heads, head dimension Q, sequence length T (full, not
  causal-halved, attention).

The counted figure is the training step's forward and backward matmul-class FLOPs (2 x MACs)
over the tokens of the step; non-matmul work (norms, activations, softmax) is beside it, and
the optimizer step, which does not scale with tokens, is left out (all as the formulas do).
For a mixture of experts N counts the k routed experts, not all of them (active parameters).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.arch.decoders import DecoderFacts
from harness.console import fmt_si
from harness.counting.record import CountingError, FlopCount


@dataclass(frozen=True)
class PerTokenFlops:
    """Training FLOPs per token: counted, 6N and 6N + 12LHQT, and the differences."""

    architecture: str
    seq_len: int
    tokens_in_step: int
    params: int
    non_embedding_params: int
    active_params: int  # N of the formulas: non-embedding, routed experts only
    counted: float  # forward + backward matmul-class FLOPs per token
    counted_other: float  # non-matmul forward + backward FLOPs per token
    six_n: float
    attention_term: float  # 12 L H Q T (halved when causal attention is counted half)
    palm: float
    causal: str
    counting_note: str = ""

    @property
    def vs_six_n(self) -> float:
        """counted / 6N - 1."""
        return self.counted / self.six_n - 1

    @property
    def vs_palm(self) -> float:
        """counted / (6N + 12LHQT) - 1."""
        return self.counted / self.palm - 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["vs_six_n"] = self.vs_six_n
        d["vs_palm"] = self.vs_palm
        d["formulas"] = "6N: Kaplan et al. 2020 Sec. 2.1; 6N + 12LHQT: PaLM App. B"
        return d


def per_token_training(count: FlopCount, facts: DecoderFacts) -> PerTokenFlops:
    """The per-token record of a training count of the decoder `facts` describes."""
    if not count.train or count.backward_flops is None:
        raise CountingError(f"{count.architecture}: per-token training FLOPs need --train")
    shape = facts.shape_for(count.tiny)
    seq_len = int(count.size or facts.seq_len)
    tokens = count.batch_size * seq_len
    non_embedding = count.params - shape.embedding_params
    active = non_embedding - shape.idle_expert_params
    attention = shape.attention_term(seq_len) * (0.5 if count.causal == "half" else 1.0)
    other = count.other_flops.get("forward", 0) + count.other_flops.get("backward", 0)
    return PerTokenFlops(
        architecture=count.architecture,
        seq_len=seq_len,
        tokens_in_step=tokens,
        params=count.params,
        non_embedding_params=non_embedding,
        active_params=active,
        counted=(count.forward_flops + count.backward_flops) / tokens,
        counted_other=other / tokens,
        six_n=6.0 * active,
        attention_term=attention,
        palm=6.0 * active + attention,
        causal=count.causal,
        counting_note=facts.counting_note,
    )


PER_TOKEN_COLUMNS: tuple[str, ...] = ("training FLOPs per token", "value", "counted vs it")


def per_token_rows(p: PerTokenFlops) -> list[dict[str, str]]:
    """The section `harness flops` prints for a decoder: counted, then each approximation and
    how far the count is from it."""
    lh = "6N + 6LHQT (causal half)" if p.causal == "half" else "6N + 12LHQT (PaLM App. B)"
    items = [
        ("counted (matmul-class, forward + backward)", fmt_si(p.counted, "FLOP"), ""),
        ("6N (N below)", fmt_si(p.six_n, "FLOP"), f"{p.vs_six_n:+.2%}"),
        (lh, fmt_si(p.palm, "FLOP"), f"{p.vs_palm:+.2%}"),
        ("counted non-matmul (norms, softmax, ...)", fmt_si(p.counted_other, "FLOP"), ""),
        (
            "N: non-embedding parameters" + (", routed experts" if p.counting_note else ""),
            f"{p.active_params:,} of {p.params:,}",
            "",
        ),
        ("tokens in the counted step", f"{p.tokens_in_step:,} (sequence {p.seq_len})", ""),
    ]
    if p.counting_note:
        items.append(("note", p.counting_note, ""))
    return [dict(zip(PER_TOKEN_COLUMNS, item, strict=True)) for item in items]
