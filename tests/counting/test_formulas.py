"""Per-operator formulas against hand-computed values: products, convolutions, attention, RNNs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.counting.counter import FlopCounter
from harness.counting.formulas import (
    Cost,
    FormulaOptions,
    attention_macs,
    conv_macs,
    einsum_macs,
    rnn_macs_per_token,
    rule_for,
)

aten = torch.ops.aten


def meta(*shape, grad=False):
    return torch.empty(*shape, device="meta", requires_grad=grad)


def count(fn, **kw) -> FlopCounter:
    c = FlopCounter(**kw)
    with c:
        fn()
    return c


# --------------------------------------------------------------------------------------------
# Matrix products
# --------------------------------------------------------------------------------------------


def test_mm_3x4_by_4x5_is_60_macs():
    assert count(lambda: torch.mm(meta(3, 4), meta(4, 5))).total_macs() == 60
    assert count(lambda: torch.mm(torch.randn(3, 4), torch.randn(4, 5))).total_macs() == 60


def test_addmm_bias_is_not_a_mac():
    c = count(lambda: torch.addmm(meta(5), meta(3, 4), meta(4, 5)))
    assert c.total_macs() == 60
    assert c.total_other() == 15  # one add per output element


def test_batched_products_and_linear():
    assert count(lambda: torch.bmm(meta(2, 3, 4), meta(2, 4, 5))).total_macs() == 120
    assert (
        count(lambda: torch.baddbmm(meta(2, 3, 5), meta(2, 3, 4), meta(2, 4, 5))).total_macs()
        == 120
    )
    # matmul with broadcasting: (7, 3, 4) @ (4, 5) -> 7 * 3 * 4 * 5
    assert count(lambda: torch.matmul(meta(7, 3, 4), meta(4, 5))).total_macs() == 420
    # linear on a 3-D input: 2 * 6 rows x (10 -> 20)
    assert count(lambda: F.linear(meta(2, 6, 10), meta(20, 10))).total_macs() == 2 * 6 * 10 * 20


def test_einsum_formula_and_dispatch():
    assert einsum_macs("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]) == 120
    assert einsum_macs("...ij,...jk", [(2, 3, 4), (2, 4, 5)]) == 120
    # three operands, left to right: (ij,jk) costs i*j*k, then (ik,kl) costs i*k*l
    assert einsum_macs("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]) == 2 * 3 * 4 + 2 * 4 * 5
    c = count(lambda: torch.einsum("bhld,bhmd->bhlm", meta(2, 3, 4, 8), meta(2, 3, 5, 8)))
    assert c.total_macs() == 2 * 3 * 4 * 5 * 8


def test_matmul_class_formulas_under_inference_mode():
    """Under inference_mode composite ops (linear, conv2d) reach the counter undecomposed."""
    lin = nn.Linear(4, 5)
    conv = nn.Conv2d(2, 4, 3, groups=2)
    with torch.inference_mode():
        c = count(lambda: (lin(torch.randn(3, 4)), conv(torch.randn(1, 2, 5, 5))))
    assert c.total_macs() == 60 + 1 * 9 * 4 * 1 * 9


# --------------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------------


def test_grouped_and_transposed_convolution():
    # 8 -> 16 channels, 4 groups, 3x3, 10x10 output: 16 * 100 * (8 / 4) * 9
    c = count(lambda: F.conv2d(meta(1, 8, 10, 10), meta(16, 2, 3, 3), padding=1, groups=4))
    assert c.total_macs() == 28_800
    # transposed, 2 groups: every input position multiplies the whole (4, 3, 3, 3) weight
    c = count(lambda: F.conv_transpose2d(meta(1, 4, 5, 5), meta(4, 3, 3, 3), stride=2, groups=2))
    assert c.total_macs() == 25 * 4 * 3 * 9
    assert count(lambda: F.conv1d(meta(2, 3, 20), meta(6, 3, 5))).total_macs() == 2 * 16 * 6 * 3 * 5
    assert count(lambda: F.conv3d(meta(1, 2, 4, 4, 4), meta(3, 2, 1, 1, 1))).total_macs() == 64 * 6
    assert conv_macs((3, 8, 8), (4, 3, 3, 3), (4, 6, 6), transposed=False) == 36 * 4 * 27


def test_depthwise_conv_backward_counts_groups():
    """64-channel depthwise 3x3: backward = one forward per gradient, not 64x more."""
    x, w = meta(2, 64, 16, 16, grad=True), meta(64, 1, 3, 3, grad=True)
    fwd = 2 * 16 * 16 * 64 * 9
    c = FlopCounter()
    with c:
        y = F.conv2d(x, w, padding=1, groups=64)
        c.phase = "backward"
        y.sum().backward()
    assert c.total_macs("inference") == fwd
    assert c.total_macs("backward") == 2 * fwd  # grad input + grad weight
    x2 = meta(2, 64, 16, 16)  # input needs no gradient: weight gradient only
    c = FlopCounter()
    with c:
        y = F.conv2d(x2, w, padding=1, groups=64)
        c.phase = "backward"
        y.sum().backward()
    assert c.total_macs("backward") == fwd


# --------------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_sdpa_full_and_causal(device):
    b, h, lq, d = 2, 4, 16, 8
    q = torch.randn(b, h, lq, d) if device == "cpu" else meta(b, h, lq, d)
    full = 2 * b * h * lq * lq * d  # QK^T + PV
    assert attention_macs((b, h, lq, d), (b, h, lq, d), (b, h, lq, d)) == full

    def sdpa(*args, **kwargs):  # looked up at call time, as nn.MultiheadAttention does
        return F.scaled_dot_product_attention(*args, **kwargs)

    assert count(lambda: sdpa(q, q, q)).total_macs() == full
    assert count(lambda: sdpa(q, q, q, is_causal=True)).total_macs() == full  # default: full
    c = count(lambda: sdpa(q, q, q, is_causal=True), causal_half=True)
    assert c.total_macs() == full // 2
    assert c.causal_calls["inference"] == 1


def test_sdpa_backward_is_twice_forward():
    q = meta(2, 4, 16, 8, grad=True)
    full = 2 * 2 * 4 * 16 * 16 * 8
    c = FlopCounter()
    with c:
        out = aten._scaled_dot_product_flash_attention_for_cpu(q, q, q)[0]
        c.phase = "backward"
        out.sum().backward()
    assert c.by_op("backward") == {"_scaled_dot_product_flash_attention_for_cpu_backward": 2 * full}
    c = FlopCounter(attention_recompute=True)
    with c:
        out = aten._scaled_dot_product_flash_attention_for_cpu(q, q, q)[0]
        c.phase = "backward"
        out.sum().backward()
    assert c.total_macs("backward") == 2 * full + full // 2  # + QK^T recomputed


@pytest.mark.parametrize(
    "call",
    [
        lambda q, k, v: aten._scaled_dot_product_flash_attention(q, k, v, 0.0, True),
        lambda q, k, v: aten._scaled_dot_product_efficient_attention(
            q, k, v, None, True, 0.0, True
        ),
        lambda q, k, v: aten._scaled_dot_product_cudnn_attention(q, k, v, None, True, 0.0, True),
        lambda q, k, v: aten._flash_attention_forward(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            None,
            None,
            16,
            12,
            0.0,
            True,
            False,
        ),
        lambda q, k, v: aten._efficient_attention_forward(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            None,
            None,
            None,
            16,
            12,
            0.0,
            1,
        ),
    ],
    ids=["flash", "efficient", "cudnn", "flash-lowlevel", "efficient-lowlevel"],
)
def test_cuda_attention_kernels_on_meta(call):
    q, k, v = meta(2, 4, 16, 8), meta(2, 4, 12, 8), meta(2, 4, 12, 8)
    full = 2 * 4 * 16 * 12 * (8 + 8)
    assert count(lambda: call(q, k, v)).total_macs() == full
    assert count(lambda: call(q, k, v), causal_half=True).total_macs() == full // 2


def test_cuda_attention_backward_kernels_on_meta():
    q, k, v = (
        meta(2, 4, 16, 8, grad=True),
        meta(2, 4, 12, 8, grad=True),
        meta(2, 4, 12, 8, grad=True),
    )
    fwd = 2 * 4 * 16 * 12 * 16
    for f in (
        lambda: aten._scaled_dot_product_flash_attention(q, k, v)[0],
        lambda: aten._scaled_dot_product_efficient_attention(q, k, v, None, True)[0],
        lambda: aten._scaled_dot_product_cudnn_attention(q, k, v, None, True)[0],
    ):
        c = FlopCounter()
        with c:
            out = f()
            c.phase = "backward"
            out.sum().backward()
        assert c.total_macs("inference") == fwd
        assert c.total_macs("backward") == 2 * fwd


def test_multihead_attention_fast_path_matches_slow_path():
    """eval + no_grad runs `_native_multi_head_attention`; train runs matmuls + SDPA."""
    b, n, e = 3, 5, 16
    x = torch.randn(b, n, e)
    mha = nn.MultiheadAttention(e, 4, batch_first=True)
    mha.eval()
    with torch.no_grad():
        fast = count(lambda: mha(x, x, x, need_weights=False))
    mha.train()
    slow = count(lambda: mha(x, x, x, need_weights=False))
    expected = b * n * 4 * e * e + 2 * b * n * n * e
    assert "_native_multi_head_attention" in fast.by_op("inference")
    assert fast.total_macs() == slow.total_macs() == expected


def test_transformer_encoder_fast_path_matches_slow_path():
    b, n, e, f = 3, 5, 16, 32
    layer = nn.TransformerEncoderLayer(e, 2, f, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    x = torch.randn(b, n, e)
    enc.eval()
    with torch.no_grad():
        fast = count(lambda: enc(x))
    enc.train()
    slow = count(lambda: enc(x))
    expected = 2 * b * n * (4 * e * e + 2 * n * e + 2 * e * f)
    assert set(fast.by_op("inference")) == {"_transformer_encoder_layer_fwd"}
    assert fast.total_macs() == slow.total_macs() == expected


# --------------------------------------------------------------------------------------------
# Recurrent networks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "gates"), [(nn.LSTM, 4), (nn.GRU, 3), (nn.RNN, 1)])
def test_two_layer_bidirectional_rnn(cls, gates):
    t, b, i, h = 6, 3, 4, 8
    # per token, per direction: layer 1 gates*H*(I + H), layer 2 gates*H*(2H + H)
    expected = t * b * 2 * (gates * h * (i + h) + gates * h * (2 * h + h))
    mode = {4: 2, 3: 3, 1: 1}[gates]
    assert t * b * rnn_macs_per_token(mode, i, h, 2, True) == expected
    real = cls(i, h, num_layers=2, bidirectional=True)
    assert count(lambda: real(torch.randn(t, b, i))).total_macs() == expected
    with torch.device("meta"):
        m = cls(i, h, num_layers=2, bidirectional=True)
        x = torch.empty(t, b, i)
    assert count(lambda: m(x)).total_macs() == expected


def test_lstm_kernels_fused_cpu_and_cudnn():
    t, b, i, h = 5, 3, 4, 8
    lstm = nn.LSTM(i, h)
    x = torch.randn(t, b, i)
    c = FlopCounter()
    with c:
        out = lstm(x)[0].sum()
        c.phase = "backward"
        out.backward()
    fwd = t * b * 4 * h * (i + h)
    assert c.total_macs("inference") == fwd
    if "mkldnn_rnn_layer" in c.by_op("inference"):  # oneDNN: the gradients autograd needs
        # weight gradients (one forward) + the recurrent gradient at every step but the first;
        # x needs no gradient (the earlier 2 x forward charged its input gradient too)
        assert c.total_macs("backward") == fwd + (t - 1) * b * 4 * h * h
    # the cuDNN kernel (CUDA) has a meta implementation: count its signature directly
    w = [meta(4 * h, i), meta(4 * h, h), meta(4 * h), meta(4 * h)]
    call = lambda: aten._cudnn_rnn(  # noqa: E731
        meta(t, b, i),
        w,
        4,
        None,
        meta(1, b, h),
        meta(1, b, h),
        2,
        h,
        0,
        1,
        False,
        0.0,
        True,
        False,
        [],
        None,
    )
    assert count(call).total_macs() == fwd
    bwd = rule_for(aten._cudnn_rnn_backward.default).formula
    args = [
        meta(t, b, i),
        w,
        4,
        meta(1),
        meta(1, b, h),
        meta(1, b, h),
        meta(t, b, h),
        None,
        None,
        None,
        2,
        h,
        0,
        1,
        False,
        0.0,
        True,
        False,
        [],
        None,
        meta(1),
        [True, True, True, True],
    ]
    assert bwd(args, {}, None, FormulaOptions()) == Cost(2 * fwd)
    args[-1] = [True, False, False, False]
    assert bwd(args, {}, None, FormulaOptions()) == Cost(fwd)
