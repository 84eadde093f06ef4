"""Whole architectures: training-step parts, optimizers, fallbacks, strict mode, detectors."""

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
from harness.counting.record import CountingError


def meta(*shape, grad=False):
    return torch.empty(*shape, device="meta", requires_grad=grad)


def count(fn, **kw) -> FlopCounter:
    c = FlopCounter(**kw)
    with c:
        fn()
    return c


def arch_of(factory, input_shape, **kw):
    return architecture_from_module_factory(factory, name="t", input_shape=input_shape, **kw)


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
    # the step by hand: forward 2 x 4 x 300, backward 2 x (2 x 400 + 800), SGD 4 per parameter
    assert r.train_step_flops == 2 * 4 * 300 + 2 * (2 * 400 + 800) + 4 * (10 * 20 + 20 + 20 * 5 + 5)
    assert r.train_step_flops == 6_900
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


@torch.library.custom_op("harness_test::opaque_mix", mutates_args=())
def _opaque_mix(x: torch.Tensor) -> torch.Tensor:
    """An operator with no formula (FFTs, the earlier example here, now have one)."""
    return x.flip(-1)


@_opaque_mix.register_fake
def _(x):
    return torch.empty_like(x)


def test_strict_mode_names_the_operator():
    class Opaque(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(torch.ops.harness_test.opaque_mix(x))

    arch = arch_of(Opaque, (2, 8))
    r = count_flops(arch, batch_size=2)
    assert any("opaque_mix" in op for op in r.uncounted), r.uncounted
    assert r.forward_macs == 2 * 64
    with pytest.raises(CountingError, match="opaque_mix"):
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


class _MaskedAttention(nn.Module):
    """Self-attention with an explicit causal mask (is_causal=False), as many models pass it,
    in a model that cannot run on meta tensors (counted on fake tensors)."""

    def __init__(self, causal_flag: bool):
        super().__init__()
        self.qkv = nn.Linear(8, 24)
        self.causal_flag = causal_flag

    def forward(self, x):
        if x.device.type == "meta":
            raise RuntimeError("this model needs a real device")
        q, k, v = self.qkv(x).unflatten(-1, (3, 2, 4)).permute(2, 0, 3, 1, 4)
        if self.causal_flag:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        L = x.shape[1]
        mask = torch.ones(L, L, dtype=torch.bool, device=x.device).tril()
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize("causal_flag", [False, True])
def test_causal_half_is_reported_only_when_applied(causal_flag):
    arch = arch_of(lambda: _MaskedAttention(causal_flag), (1, 5, 8))
    r = count_flops(arch, causal_half=True, methods=("meta", "fake"))
    assert r.method == "fake"
    qkv = 5 * 8 * 24
    attn = 2 * 5 * 5 * (4 + 4)  # heads x Lq x Lk x (d_qk + d_v)
    if causal_flag:
        assert r.causal == "half" and r.forward_macs == qkv + attn // 2
        assert not any("nothing to apply" in n for n in r.notes)
    else:
        assert r.causal == "full" and r.forward_macs == qkv + attn
        assert any("--causal-half had nothing to apply to" in n for n in r.notes)
    plain = count_flops(arch_of(_Mlp, (1, 10)), causal_half=True)
    assert plain.causal == "full" and any("nothing to apply" in n for n in plain.notes)


class _MaskNet(nn.Module):
    """A boolean-mask selection (nonzero inside): an output shape that depends on values."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        y = self.fc(x)
        return y[y > 0].sum() + y.sum()


def test_data_dependent_shape_skips_fake_tensors_and_counts_the_same():
    arch = arch_of(_MaskNet, (2, 6))
    r = count_flops(arch, batch_size=2, train=True)
    assert r.method == "real" and r.forward_macs == 2 * 18
    assert r.fallbacks[0].startswith("meta") and "nonzero" in r.fallbacks[0]
    assert r.fallbacks[1].startswith("fake") and "MethodNotTried: not tried" in r.fallbacks[1]
    direct = count_flops(arch, batch_size=2, train=True, methods=("real",))
    assert (r.forward_macs, r.train_step_flops, r.other_flops) == (
        direct.forward_macs,
        direct.train_step_flops,
        direct.other_flops,
    )
