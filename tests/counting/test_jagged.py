"""Nested (jagged) tensors: attention and matmul counted by the real lengths, no recursion."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harness.counting.counter import FlopCounter

LENS = [3, 5, 2]


def jagged(*inner: int) -> torch.Tensor:
    return torch.nested.nested_tensor([torch.randn(n, *inner) for n in LENS], layout=torch.jagged)


def test_sdpa_on_jagged_tensors_counts_each_sequence_at_its_length():
    h, d = 2, 4
    q, k, v = (jagged(h, d).transpose(1, 2) for _ in range(3))  # (B, H, j, D)
    c = FlopCounter()
    with c:
        F.scaled_dot_product_attention(q, k, v)
    # QK^T and PV per sequence: H x L x L x D each
    assert c.total_macs() == sum(2 * h * n * n * d for n in LENS)
    assert c.uncounted == {} and c.formula_errors == {}


@pytest.mark.parametrize("how", ["matmul", "linear"])
def test_matmul_on_a_jagged_tensor_counts_the_real_rows(how):
    a, w = jagged(6), torch.randn(6, 7)
    c = FlopCounter()
    with c:
        torch.matmul(a, w) if how == "matmul" else F.linear(a, w.T)
    assert c.total_macs() == sum(LENS) * 6 * 7
    assert c.uncounted == {} and c.formula_errors == {}


def test_an_op_that_decomposes_into_itself_does_not_recurse():
    # is_contiguous on a jagged tensor reaches sym_is_contiguous, whose decomposition calls
    # itself: once costed as metadata (zero), and never decomposed twice
    c = FlopCounter()
    t = jagged(4).transpose(1, 2)
    with c:
        t.is_contiguous()
        torch.ops.aten.sym_is_contiguous(t)
    assert c.uncounted == {}


def test_the_decomposition_guard_alone_stops_the_recursion(monkeypatch):
    from harness.counting.formulas import rules

    op = torch.ops.aten.sym_is_contiguous.default
    monkeypatch.setitem(rules._RULES, op, rules.OpRule("unknown"))  # as before it was listed
    c = FlopCounter()
    t = jagged(4).transpose(1, 2)
    with c:
        t.is_contiguous()
    assert c.uncounted == {"sym_is_contiguous": 1}  # listed, not a RecursionError
