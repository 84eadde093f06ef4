"""MoE blocks counted at nominal top-k routing: exactly k experts' work per token."""

from __future__ import annotations

import dataclasses

import pytest

from harness.arch.registry import get
from harness.counting.count import count_flops
from harness.counting.moe import COUNTING_NOTE
from models import _lm


def _mixtral(top_k: int, experts: int = 4):
    arch = get("mixtral_8x7b")
    cfg = {**_lm.tiny_config("mixtral"), "num_experts_per_tok": top_k, "num_local_experts": experts}
    build = _lm._nlp.hf_builder("MixtralConfig", "MixtralForCausalLM", **cfg)
    return dataclasses.replace(arch, name=f"mixtral_k{top_k}_e{experts}", tiny_builder=build)


def test_each_extra_routed_expert_adds_one_expert_per_token():
    """k=2 minus k=1: tokens x layers x 3 x d x d_ff (SwiGLU w1, w3, w2), forward MACs."""
    batch, seq, layers, d, ff = 2, 16, 2, 32, 64
    one = count_flops(_mixtral(1), tiny=True, batch_size=batch, methods=("meta",))
    two = count_flops(_mixtral(2), tiny=True, batch_size=batch, methods=("meta",))
    assert two.forward_macs - one.forward_macs == batch * seq * layers * 3 * d * ff
    assert COUNTING_NOTE in two.notes


def test_the_number_of_experts_changes_only_the_router():
    """4 vs 8 experts at k=2: only the router's d x E matmul grows (tokens x layers x d x 4)."""
    four = count_flops(_mixtral(2, 4), tiny=True, batch_size=1, methods=("meta",))
    eight = count_flops(_mixtral(2, 8), tiny=True, batch_size=1, methods=("meta",))
    assert eight.forward_macs - four.forward_macs == 16 * 2 * 32 * 4


def test_training_step_counts_the_routed_experts_backward_too():
    r = count_flops(_mixtral(2), tiny=True, train=True, methods=("meta",))
    assert r.backward_flops == pytest.approx(2 * r.forward_flops, rel=0.1)
    assert not r.uncounted_matmul_class
