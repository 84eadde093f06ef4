"""The fvcore cross-check: same code path, like-with-like headline, unsupported ops listed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.arch.loader import architecture_from_module_factory
from harness.counting.count import count_flops
from harness.counting.families import family_of
from harness.counting.fvcore_check import FvcoreRun, compare
from harness.counting.summary import fvcore_family_rows, summary_rows

E, L, HEADS, CLASSES = 16, 5, 2, 3


class _Block(nn.Module):
    """Attention (fast-path eligible: batch_first, eval, no_grad on CPU), a norm, a head."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(E, HEADS, batch_first=True)
        self.norm = nn.LayerNorm(E)
        self.head = nn.Linear(E, CLASSES)

    def forward(self, x):
        return self.head(self.norm(self.attn(x, x, x, need_weights=False)[0]))


def test_fvcore_comparison_is_like_with_like():
    pytest.importorskip("fvcore")
    arch = architecture_from_module_factory(_Block, name="block", input_shape=(2, L, E))
    r = count_flops(arch, batch_size=2, fvcore=True)
    fv = r.fvcore
    assert fv is not None
    projections = L * E * 3 * E + L * E * E  # in_proj (q, k, v) and out_proj
    head = L * E * CLASSES
    attention = HEADS * L * L * (E // HEADS) * 2  # QK^T and PV
    assert r.forward_macs_per_example == projections + head + attention
    # ours, split by family: the attention's own products are attention, not matmul
    assert fv.ours["matmul"] == projections + head and fv.ours["attention"] == attention
    # fvcore ran the standard path (grad enabled): it saw the projections, not the fused kernel
    assert fv.fvcore["matmul"] == projections + head
    assert "aten::_native_multi_head_attention" not in fv.unsupported
    assert "aten::scaled_dot_product_attention" in fv.unsupported
    # fvcore cannot cost attention: left out of the headline on both sides
    assert fv.compared == ("conv", "matmul")
    assert fv.ours_macs_per_example == fv.fvcore_macs_per_example == projections + head
    assert fv.difference == 0
    rows = {row["item"]: row["value"] for row in summary_rows(r)}
    assert "+0.00%; conv + matmul" in rows["fvcore GMACs / example"]
    assert "aten::scaled_dot_product_attention x1" in rows["fvcore unsupported operators"]
    fam = {row["family"]: row["compared"] for row in fvcore_family_rows(r)}
    assert fam == {"conv": "yes", "matmul": "yes", "attention": "no", "norm": "no", "other": "no"}


def test_compare_groups_by_family_per_example():
    fv = FvcoreRun({"conv": 40.0, "linear": 10.0, "batch_norm": 7.0}, {"aten::max_pool2d": 1}, 1)
    ours_macs = {"convolution": 80, "addmm": 20, "bmm": 6}
    c = compare(ours_macs, {"native_batch_norm": 28, "relu": 4}, 2, fv, {"bmm": 6})
    assert c.ours == {"conv": 40, "matmul": 10, "attention": 3, "norm": 14, "other": 2}
    assert c.fvcore == {"conv": 40, "matmul": 10, "attention": 0, "norm": 7, "other": 0}
    assert c.compared == ("conv", "matmul", "attention")  # max_pool2d is not matmul-class
    assert (c.ours_macs_per_example, c.fvcore_macs_per_example) == (53, 50)
    assert c.difference == pytest.approx(50 / 53 - 1)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("aten::scaled_dot_product_attention", "attention"),
        ("_scaled_dot_product_flash_attention_for_cpu", "attention"),
        ("convolution", "conv"),
        ("conv", "conv"),
        ("addmm", "matmul"),
        ("linear", "matmul"),
        ("aten::einsum", "matmul"),
        ("_native_batch_norm_legit_no_training", "norm"),
        ("layer_norm", "norm"),
        ("adaptive_avg_pool2d", "other"),
        ("aten::add_", "other"),
    ],
)
def test_family_of(name, family):
    assert family_of(name) == family


def test_fvcore_under_no_grad_would_miss_the_fast_path():
    """Why grad is enabled: under no_grad the CPU fast path is one opaque kernel to fvcore."""
    pytest.importorskip("fvcore")
    from fvcore.nn import FlopCountAnalysis

    model = _Block().eval()
    x = torch.randn(1, L, E)
    with torch.no_grad():
        a = FlopCountAnalysis(model, (x,))
        a.unsupported_ops_warnings(False)
        a.total()
        assert "aten::_native_multi_head_attention" in a.unsupported_ops()
        assert a.by_operator().get("linear", 0) == L * E * CLASSES  # the head only
