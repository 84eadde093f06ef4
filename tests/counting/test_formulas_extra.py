"""Formulas for bilinear forms, conv_tbc, cdist, FFT and kron against hand-computed counts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from harness.counting.counter import FlopCounter


def count(fn) -> FlopCounter:
    c = FlopCounter()
    with c:
        fn()
    return c


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_bilinear_forward_and_backward(device):
    n, i, j, o = 2, 3, 4, 5
    layer = nn.Bilinear(i, j, o, device=device)
    x1 = torch.randn(n, i, device=device, requires_grad=True)
    x2 = torch.randn(n, j, device=device)
    fwd = count(lambda: layer(x1, x2))
    # out[n, o] = sum_ij x1[n, i] W[o, i, j] x2[n, j]: (x1 . W) over i, then . x2 over j
    assert fwd.total_macs() == n * o * i * j + n * o * j
    assert fwd.uncounted == {}
    both = count(lambda: layer(x1, x2).sum().backward())
    # dx1[n, i] = sum_oj g[n, o] W[o, i, j] x2[n, j]: (g . W) over o, then . x2 over j
    # dW[o, i, j] = sum_n x1[n, i] g[n, o] x2[n, j]: x1 . g (nothing summed), then . x2 over n
    grad_x1 = n * o * i * j + n * i * j
    grad_w = n * o * i + n * o * i * j
    assert both.total_macs() == fwd.total_macs() + grad_x1 + grad_w
    assert both.uncounted == {}


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_conv_tbc_forward_and_backward(device):
    t, b, cin, k, cout, pad = 7, 2, 3, 3, 5, 1
    x = torch.randn(t, b, cin, device=device, requires_grad=True)
    w = torch.randn(k, cin, cout, device=device, requires_grad=True)
    bias = torch.randn(cout, device=device)
    t_out = t + 2 * pad - k + 1
    fwd = count(lambda: torch.conv_tbc(x, w, bias, pad))
    assert fwd.total_macs() == t_out * b * k * cin * cout
    assert fwd.total_other() == t_out * b * cout  # the bias
    both = count(lambda: torch.conv_tbc(x, w, bias, pad).sum().backward())
    # the backward runs one addmm_ per tap and gradient, over the rows the tap overlaps:
    # with pad 1 the outer taps miss one row each, so 6 + 7 + 6 rows
    rows = sum(min(t_out, t + pad - kk) - max(0, pad - kk) for kk in range(k))
    assert rows == 19
    assert both.total_macs() - fwd.total_macs() == 2 * rows * b * cin * cout
    assert both.uncounted == {}


def test_cdist_both_paths_and_p():
    bsz, p_rows, r_rows, m = 2, 3, 5, 4
    x1 = torch.randn(bsz, p_rows, m, device="meta")
    x2 = torch.randn(bsz, r_rows, m, device="meta")
    terms = bsz * p_rows * r_rows * m
    small = count(lambda: torch.cdist(x1, x2))  # p = 2, small: the direct kernel
    assert small.macs["inference"]["_cdist_forward"] == terms
    assert small.other["inference"]["_cdist_forward"] == terms
    l1 = count(lambda: torch.cdist(x1, x2, p=1.0))
    assert l1.total_macs() == 0 and l1.other["inference"]["_cdist_forward"] == 3 * terms
    big1 = torch.randn(bsz, 30, m, device="meta")
    big2 = torch.randn(bsz, 31, m, device="meta")
    mm_path = count(lambda: torch.cdist(big1, big2))  # p = 2, > 25 rows: the matmul path
    assert mm_path.total_macs() == bsz * 30 * 31 * (m + 2)
    assert mm_path.uncounted == {}
    x1g = torch.randn(bsz, p_rows, m, device="meta", requires_grad=True)
    grad = count(lambda: torch.cdist(x1g, x2).sum().backward())
    assert grad.macs["inference"]["_cdist_backward"] == terms


@pytest.mark.parametrize(
    ("fn", "shape", "expected"),
    [
        # real input, 16 points, batch 3: 2.5 N log2 N each
        (torch.fft.rfft, (3, 16), 3 * 2.5 * 16 * 4),
        # real output of 2 x (16 - 1) = 30 points from 16 complex bins
        (torch.fft.irfft, (3, 16), 3 * 2.5 * 30 * math.log2(30)),
        # a complex 2-d transform of 8 x 4 = 32 points, batch 2: 5 N log2 N each
        (torch.fft.fft2, (2, 8, 4), 2 * 5 * 32 * 5),
    ],
)
def test_fft_is_five_n_log_n(fn, shape, expected):
    x = torch.randn(*shape, device="meta")
    if fn is torch.fft.fft2:
        x = torch.complex(x, x)
    c = count(lambda: fn(x))
    assert c.total_macs() == 0 and c.uncounted == {}
    assert c.total_other() == round(expected)


def test_kron_is_one_multiply_per_output_element_not_a_mac():
    a, b = torch.randn(2, 3, device="meta"), torch.randn(4, 5, device="meta")
    c = count(lambda: torch.kron(a, b))
    # every output element is a[i, j] * b[k, l]: no accumulation, so no multiply-add
    assert c.total_macs() == 0 and c.total_other() == 2 * 3 * 4 * 5 and c.uncounted == {}


class _BiLstm(nn.Module):
    def __init__(self, embed: bool):
        super().__init__()
        self.embed = nn.Embedding(50, 10) if embed else None
        self.lstm = nn.LSTM(10, 16, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x):
        return self.lstm(self.embed(x) if self.embed is not None else x)[0]


@pytest.mark.parametrize("embed", [False, True])
def test_lstm_backward_is_the_same_on_every_tensor_kind(embed):
    from dataclasses import replace

    from harness.arch.loader import architecture_from_module_factory
    from harness.arch.spec import Batch
    from harness.counting.count import count_flops

    b, t, i, h = 3, 7, 10, 16
    arch = architecture_from_module_factory(
        lambda: _BiLstm(embed), name="bilstm", input_shape=(b, t, i)
    )
    if embed:

        def ids(batch_size, size, *, tiny, device, dtype, generator):
            x = torch.randint(0, 50, (batch_size, t), generator=generator).to(device)
            return Batch(args=(x,), kwargs={}, targets=None, size=batch_size)

        arch = replace(arch, batch_factory=ids)
    tokens, w = b * t, {"ih0": 4 * h * i, "hh": 4 * h * h, "ih1": 4 * h * 2 * h}
    weight_grads = 2 * tokens * (w["ih0"] + w["hh"] + w["ih1"] + w["hh"])  # 2 directions
    recurrent = 2 * 2 * (tokens - b) * w["hh"]  # 2 layers x 2 directions, all steps but one
    inputs = 2 * tokens * w["ih1"] + (2 * tokens * w["ih0"] if embed else 0)
    expected = 2 * (weight_grads + recurrent + inputs)  # FLOPs
    got = {
        m: count_flops(arch, batch_size=b, train=True, methods=(m,)).backward_flops
        for m in ("meta", "fake", "real")
    }
    assert got == {"meta": expected, "fake": expected, "real": expected}
