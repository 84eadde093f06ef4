"""MFU of a decoder language model by both definitions in use.

- `mfu_counted`: the counted forward + backward matmul-class FLOPs of the timed step (the
  optimizer and non-matmul work left out, as the formulas leave them out) over the step time
  and the devices' dense peak;
- `mfu_palm`: the same with the step's tokens x (6N + 12LHQT), PaLM's definition (Chowdhery et
  al. 2022, arXiv:2204.02311, Appendix B), which leaves out activation recomputation by design.

With activation checkpointing, the counted figure includes the recomputed forward (work the
hardware did), the PaLM figure does not (work the model needs): their ratio shows the cost.
"""

from __future__ import annotations

from typing import Any

from harness.arch.decoders import decoder_facts
from harness.counting.per_token import per_token_training


def decoder_mfu(
    counts: Any, median_s: float, peak_flop_per_s: float | None, devices: int = 1
) -> dict[str, Any]:
    """{"mfu_counted", "mfu_palm", "palm_step_flops", "counted_step_flops"} for a decoder's
    training count; {} for any other architecture or when a figure is missing."""
    if counts is None or not getattr(counts, "train", False) or not median_s:
        return {}
    facts = decoder_facts(counts.architecture)
    if facts is None:
        return {}
    per_token = per_token_training(counts, facts)
    counted = per_token.counted * per_token.tokens_in_step
    palm = per_token.palm * per_token.tokens_in_step
    capacity = peak_flop_per_s * devices * median_s if peak_flop_per_s else None
    return {
        "counted_step_flops": counted,
        "palm_step_flops": palm,
        "mfu_counted": counted / capacity if capacity else None,
        "mfu_palm": palm / capacity if capacity else None,
    }
