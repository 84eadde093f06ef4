"""FLOP counting: formulas against hand-computed values, fast paths, fallbacks, the CLI."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.arch.loader import architecture_from_module_factory
from harness.arch.registry import resolve
from harness.arch.spec import Batch, OptimizerSpec
from harness.counting.count import count_flops
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
from harness.counting.record import CountingError

aten = torch.ops.aten


def meta(*shape, grad=False):
    return torch.empty(*shape, device="meta", requires_grad=grad)


def count(fn, **kw) -> FlopCounter:
    c = FlopCounter(**kw)
    with c:
        fn()
    return c


def arch_of(factory, input_shape, **kw):
    return architecture_from_module_factory(factory, name="t", input_shape=input_shape, **kw)


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
    if "mkldnn_rnn_layer" in c.by_op("inference"):  # oneDNN: data + weight gradients
        assert c.total_macs("backward") == 2 * fwd
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


# --------------------------------------------------------------------------------------------
# Whole architectures
# --------------------------------------------------------------------------------------------


class _Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(20, 5)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_count_flops_mlp_train_step_and_modules():
    arch = arch_of(_Mlp, (4, 10))
    r = count_flops(arch, batch_size=4, train=True)
    assert r.method == "meta"
    assert r.params == 10 * 20 + 20 + 20 * 5 + 5
    assert r.forward_macs_per_example == 10 * 20 + 20 * 5
    assert r.forward_flops == 2 * 4 * 300
    # backward: fc2 input+weight grads (2 x 400), fc1 weight grad only (800; x needs no grad)
    assert r.backward_flops == 2 * (2 * 400 + 800)
    # SGD momentum=0.9: buf.mul_ (1) + buf.add_ (1) + param.add_(alpha=-lr) (2) per element
    assert r.optimizer_flops == 4 * r.params
    assert r.train_step_flops == r.forward_flops + r.backward_flops + r.optimizer_flops
    assert r.by_module["inference"] == {"": 4 * 300, "fc1": 4 * 200, "fc2": 4 * 100}
    assert r.by_module["backward"]["fc2"] == 2 * 400
    assert r.uncounted == {}
    json.dumps(r.to_dict())


def test_train_eval_and_grad_no_grad_give_identical_forward_counts():
    def build():
        layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.1)
        return nn.Sequential(
            nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), nn.Linear(32, 7)
        )

    for method in ("meta", "fake", "real"):
        r = count_flops(arch_of(build, (2, 9, 32)), batch_size=2, train=True, methods=(method,))
        assert r.forward_flops == 2 * r.forward_macs, method  # train + grad == eval + no_grad
    x = torch.randn(2, 9, 32)
    model = build().eval()
    with torch.no_grad():
        a = count(lambda: model(x)).total_macs()
    b = count(lambda: model(x)).total_macs()  # eval, grad enabled: the slow path
    assert a == b


def test_optimizer_flops_are_counted_not_assumed():
    arch = arch_of(_Mlp, (4, 10))
    sgd = count_flops(arch, batch_size=4, train=True).optimizer_flops
    adam_arch = architecture_from_module_factory(_Mlp, name="t", input_shape=(4, 10))
    from dataclasses import replace

    adam_arch = replace(adam_arch, optimizer=OptimizerSpec("adam", 1e-3))
    adam = count_flops(adam_arch, batch_size=4, train=True).optimizer_flops
    n = 10 * 20 + 20 + 20 * 5 + 5
    assert sgd == 4 * n
    assert 12 * n <= adam <= 15 * n  # lerp, mul, addcmul, sqrt, div, add, addcdiv


@pytest.mark.parametrize("cls", [torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW])
def test_foreach_optimizer_costs_the_same_as_the_loop(cls):
    """The CUDA default (_foreach_* ops) and the CPU loop give the same per-element cost."""
    totals = []
    for foreach in (False, True):
        params = [meta(10, 20, grad=True), meta(20, grad=True)]
        for p in params:
            p.grad = torch.empty_like(p)
        kw = {"momentum": 0.9} if cls is torch.optim.SGD else {}
        opt = cls(params, lr=0.1, foreach=foreach, **kw)
        opt.step()  # state initialisation
        c = count(opt.step)
        assert c.uncounted == {}
        totals.append(c.total_other())
    assert totals[0] == totals[1] > 0


def test_fvcore_cross_check_column():
    pytest.importorskip("fvcore")
    arch = arch_of(_Mlp, (4, 10))
    r = count_flops(arch, batch_size=4, fvcore=True)
    assert r.fvcore_forward_macs_per_example == 300  # fvcore counts MACs, batch 1
    r = count_flops(arch, fvcore=True, fvcore_max_params=100)
    assert r.fvcore_forward_macs_per_example is None and "skipped" in r.fvcore_note


def test_architecture_from_a_file_outside_the_repo(tmp_path):
    f = tmp_path / "mynet.py"
    f.write_text(
        textwrap.dedent(
            """
            from torch import nn

            def build():
                return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
            """
        )
    )
    arch = resolve(f"{f}:build", input_shape=(1, 3, 16, 16))
    r = count_flops(arch, train=True, batch_size=2)
    assert r.forward_macs_per_example == 16 * 16 * 8 * 27 + 8 * 4
    assert r.backward_flops > 0 and r.method == "meta"


def test_strict_mode_names_the_operator():
    class Spectral(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(torch.fft.rfft(x).abs()[..., :8].float().repeat(1, 2)[:, :8])

    arch = arch_of(Spectral, (2, 8))
    r = count_flops(arch, batch_size=2)
    assert any("fft" in op for op in r.uncounted), r.uncounted
    assert r.forward_macs == 2 * 64
    with pytest.raises(CountingError, match="fft"):
        count_flops(arch, batch_size=2, strict=True)


class _ItemNet(nn.Module):
    """Data-dependent control flow: cannot run on meta or fake tensors."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        scale = float(x.abs().max().item()) + 1.0
        return self.fc(x / scale)


def test_fallback_to_real_tensors_is_recorded():
    r = count_flops(arch_of(_ItemNet, (2, 6)), batch_size=2, train=True)
    assert r.method == "real"
    assert r.forward_macs == 2 * 18
    assert len(r.fallbacks) == 2 and r.fallbacks[0].startswith("meta")
    assert "_local_scalar_dense" in r.fallbacks[0] or "item" in r.fallbacks[0]


def test_fallback_to_fake_tensors_for_device_dependent_code():
    class CpuOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            if x.device.type != "cpu":
                raise RuntimeError("this model runs on CPU only")
            return self.fc(x)

    r = count_flops(arch_of(CpuOnly, (3, 4)), batch_size=3)
    assert r.method == "fake" and r.forward_macs == 48


def test_every_method_failing_names_architecture_and_operator():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(5, 5))

        def forward(self, x):
            return torch.mm(x, self.w)  # x is (2, 4): inner dimensions differ

    arch = architecture_from_module_factory(Broken, name="broken_net", input_shape=(2, 4))
    with pytest.raises(CountingError, match=r"broken_net.*aten\.mm"):
        count_flops(arch, batch_size=2)


def test_causal_record_and_transformer_decoder_halving():
    def build():
        return nn.TransformerDecoderLayer(16, 2, 32, batch_first=True, dropout=0.0)

    def batch(batch_size, size, *, tiny, device, dtype, generator):
        x = (
            torch.empty(batch_size, size, 16, device=device)
            if str(device) == "meta"
            else torch.randn(batch_size, size, 16)
        )
        mask = nn.Transformer.generate_square_subsequent_mask(size, device=device)
        return Batch(
            args=(x, x),
            kwargs={"tgt_mask": mask, "tgt_is_causal": True},
            targets=None,
            size=batch_size,
        )

    from dataclasses import replace

    arch = replace(arch_of(build, (1, 6, 16)), batch_factory=batch)
    full = count_flops(arch, batch_size=1, size=6)
    half = count_flops(arch, batch_size=1, size=6, causal_half=True)
    self_attn = 2 * 6 * 6 * 16
    assert full.causal == "full" and half.causal == "half"
    assert full.forward_macs - half.forward_macs == self_attn // 2
    assert half.causal_attention_calls == 1


@pytest.mark.slow
def test_two_stage_detector_budget_breakdown():
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
            self.out_channels = 8

        def forward(self, x):
            return self.conv(x)

    def build():
        return FasterRCNN(
            Backbone(),
            num_classes=3,
            min_size=64,
            max_size=64,
            rpn_anchor_generator=AnchorGenerator(((16,),), ((1.0,),)),
            box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2),
            rpn_pre_nms_top_n_test=30,
            rpn_post_nms_top_n_test=20,
            box_detections_per_img=10,
        )

    def batch(batch_size, size, *, tiny, device, dtype, generator):
        imgs = [torch.rand(3, size, size, generator=generator) for _ in range(batch_size)]
        return Batch(args=(imgs,), kwargs={}, targets=None, size=batch_size)

    from dataclasses import replace

    arch = replace(arch_of(build, (1, 3, 64, 64)), batch_factory=batch)
    r = count_flops(arch, batch_size=1, size=64)
    d = r.detection
    assert r.method == "real" and d is not None
    per_proposal = 8 * 7 * 7 * 1024 + 1024 * 1024 + 1024 * 3 + 1024 * 12  # TwoMLPHead + predictor
    assert d.per_proposal_macs == per_proposal
    assert d.proposal_budget == 20
    assert d.nominal_macs_per_example == d.data_independent_macs_per_example + 20 * per_proposal
    assert (
        r.forward_macs
        == d.data_independent_macs_per_example + d.proposals_per_example * per_proposal
    )


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------


def test_cli_file_reference_json_and_table(tmp_path, capsys):
    from harness.cli import main

    f = tmp_path / "net.py"
    f.write_text("from torch import nn\n\ndef build():\n    return nn.Linear(10, 20)\n")
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--json", "--train"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["forward_macs_per_example"] == 200 and data["method"] == "meta"
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--by", "op"]) == 0
    out = capsys.readouterr().out
    assert "addmm" in out and "uncounted operators" in out
    g = tmp_path / "lm.py"
    g.write_text(
        "from torch import nn\n\ndef lm():\n    return nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 50))\n"
    )
    assert main(["flops", f"{g}:lm", "--seq-len", "7", "--vocab", "50", "--train", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["forward_macs_per_example"] == 7 * 8 * 50 and data["size_kind"] == "seq_len"
    # the linear layer's input and weight gradients (the embedding's own gradient is a scatter)
    assert data["backward_flops"] == 2 * 2 * 7 * 8 * 50


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    from harness.cli import main

    f = tmp_path / "net.py"
    f.write_text("from torch import nn\n\ndef build():\n    return nn.Linear(10, 20)\n")
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--batch", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--seq-len", "5"]) == 2
    assert "--vocab" in capsys.readouterr().err
    assert main(["flops", "resnet18", "--seq-len", "5"]) == 2
    assert "takes --resolution" in capsys.readouterr().err
    assert main(["flops", "resnet_18"]) == 2
    assert "did you mean" in capsys.readouterr().err
    assert main(["flops", f"{f}:nothere", "--input-shape", "1,10"]) == 2


def test_module_attribution_survives_decomposed_ops():
    """Ops without a rule are decomposed inside the counter; the module hooks must stay put."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 4)
            self.fc2 = nn.Linear(8, 3)

        def forward(self, x):
            x = torch.kron(self.fc1(x), torch.ones(1, 2))  # composite: decomposed by the counter
            return self.fc2(x)

    net = Net()
    with torch.inference_mode():
        c = FlopCounter(net)
        with c:
            net(torch.randn(5, 4))
    assert c.by_module("inference") == {"": 5 * (16 + 24), "fc1": 5 * 16, "fc2": 5 * 24}
    assert c.uncounted == {}


# --------------------------------------------------------------------------------------------
# The zoo's tiny variants
# --------------------------------------------------------------------------------------------


def _zoo():
    from harness.arch.registry import list_architectures

    return list_architectures()


def _one_per_family():
    seen, out = set(), []
    for a in _zoo():
        key = a.family or a.name
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _check_tiny(arch, train: bool) -> None:
    r = count_flops(arch, batch_size=2, tiny=True, train=train)
    assert r.forward_macs > 0, arch.name
    assert r.uncounted_matmul_class == {}, (arch.name, r.uncounted)
    if train:
        assert r.backward_flops > 0 and r.optimizer_flops > 0, arch.name
        assert r.train_step_flops == r.forward_flops + r.backward_flops + r.optimizer_flops


@pytest.mark.parametrize(
    "arch",
    [
        pytest.param(a, marks=pytest.mark.slow) if a.task == "detection" else a
        for a in _one_per_family()
    ],
    ids=lambda a: a.name,
)
def test_tiny_variant_of_each_family_counts(arch):
    _check_tiny(arch, train=True)


@pytest.mark.slow
@pytest.mark.parametrize("arch", _zoo(), ids=lambda a: a.name)
def test_tiny_variant_of_every_architecture_counts(arch):
    _check_tiny(arch, train=True)
