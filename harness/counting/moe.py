"""Mixture-of-experts layers counted at their nominal routing: exactly k experts per token.

A top-k MoE layer sends each token to the k experts its router picks. With random weights (or
on meta tensors, which have no values at all) the router's picks say nothing about a trained
model, and transformers' expert loop needs `nonzero()`, which meta tensors cannot answer. While
counting, each MoE block therefore runs its router, then k expert computations on every token,
weighted by the top-k router probabilities: the work of a perfectly balanced top-k layer, as
the architecture defines it (Fedus et al. 2021, arXiv:2101.03961 Sec. 2; Jiang et al. 2024,
arXiv:2401.04088 Sec. 2.1: "each token ... two experts"). Expert capacity, dropped tokens and
load imbalance are not modelled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from harness.counting.record import CountingError

COUNTING_NOTE = (
    "MoE layers counted at nominal top-k routing: router + exactly k experts per token "
    "(not the random router's picks)"
)


def is_moe_block(module: nn.Module) -> bool:
    """A transformers-style sparse MoE block: a router `gate`, `experts`, and `top_k`."""
    return all(hasattr(module, a) for a in ("gate", "experts", "top_k")) and isinstance(
        getattr(module, "experts", None), nn.Module
    )


def _expert(experts: nn.Module, index: int, x: torch.Tensor) -> torch.Tensor:
    """One expert's output on every row of x, for either weight layout transformers uses."""
    if isinstance(experts, nn.ModuleList):  # one module per expert (transformers 4.x)
        return experts[index](x)
    if hasattr(experts, "gate_up_proj") and hasattr(experts, "down_proj"):  # fused 3-D weights
        gate, up = F.linear(x, experts.gate_up_proj[index]).chunk(2, dim=-1)
        return F.linear(experts.act_fn(gate) * up, experts.down_proj[index])
    raise CountingError(
        f"an MoE block's experts ({type(experts).__name__}) have a layout the nominal-routing "
        "counter does not know; count with a transformers version whose experts are a ModuleList "
        "or fused gate_up_proj/down_proj weights"
    )


def nominal_forward(block: nn.Module):
    """The block's forward with exactly `top_k` experts applied to every token."""
    k = int(block.top_k)
    experts = block.experts
    n = len(experts) if isinstance(experts, nn.ModuleList) else int(experts.num_experts)

    def forward(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1])
        routed = block.gate(x)
        logits = routed[0] if isinstance(routed, tuple) else routed
        top, _ = torch.topk(torch.softmax(logits.float(), dim=-1), k, dim=-1)
        weights = (top / top.sum(dim=-1, keepdim=True)).to(x.dtype)
        out = sum(_expert(experts, slot % n, x) * weights[:, slot, None] for slot in range(k))
        out = out.reshape(shape)
        # transformers 4.x blocks return (hidden, router logits); 5.x return the hidden states
        return out if isinstance(routed, tuple) else (out, logits)

    return forward


@contextlib.contextmanager
def nominal_routing(model: nn.Module) -> Iterator[int]:
    """Every MoE block of `model` runs at nominal top-k routing inside; yields how many."""
    patched = [m for m in model.modules() if is_moe_block(m)]
    for m in patched:
        m.forward = nominal_forward(m)  # instance attribute shadows the class's forward
    try:
        yield len(patched)
    finally:
        for m in patched:
            del m.forward
