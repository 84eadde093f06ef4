"""Peer expectations, translated: PyTorch's and fvcore's FLOP-counter tests as data.

Each case names its source test and holds the peer's figure in the peer's unit: PyTorch's
`torch.utils.flop_counter` counts FLOPs (2 x MACs), fvcore counts MACs (one fused multiply-add
= one "flop"). Our figure is computed in the same unit. A case is one of:

- "match": the two must be equal;
- "convention": the tools count the same work by different documented conventions (norms,
  pooling and activations are `other` FLOPs here, per element as in harness.counting.formulas;
  fused attention backward is algorithmic unless `attention_recompute`); our figure must equal
  `ours_expected`, derived from our convention in the case;
- "upstream-bug": the peer's figure is known wrong (torch's group-blind convolution backward,
  its zero for CPU fused attention and for the nested TransformerEncoderLayer fast path); the
  peer figure is measured live with torch.utils.flop_counter, ours must equal `ours_expected`.

Sources: pytorch/pytorch test/test_flop_counter.py (class TestFlopCounter) and
facebookresearch/fvcore tests/test_flop_count.py (TestFlopCountAnalysis,
TestFlopCountHandles). `benchmarks/counting_peers.py` runs every case; the tests run the fast
ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from harness.counting import Cost, register_formula, unregister_formula
from harness.counting.counter import FlopCounter

TORCH = "pytorch test/test_flop_counter.py"
FVCORE = "fvcore tests/test_flop_count.py"


@dataclass(frozen=True)
class PeerCase:
    name: str
    source: str  # "file::test"
    unit: str  # "flops" (2 x MACs, torch) or "macs" (fvcore)
    peer: int | Callable[[], int]  # the peer's figure (a callable measures it live)
    ours: Callable[[], int]
    kind: str = "match"  # "match", "convention" or "upstream-bug"
    ours_expected: int | None = None  # convention / upstream-bug: our figure by our rules
    note: str = ""
    slow: bool = False


def T(*shape: int, grad: bool = False) -> torch.Tensor:
    return torch.randn(*shape, requires_grad=grad)


def counted(fn: Callable[[], object], **kw) -> FlopCounter:
    c = FlopCounter(**kw)
    with c:
        fn()
    return c


def macs(fn: Callable[[], object], **kw) -> int:
    return counted(fn, **kw).total_macs()


def flops(fn: Callable[[], object], **kw) -> int:
    return 2 * macs(fn, **kw)


def other(fn: Callable[[], object]) -> int:
    return counted(fn).total_other()


def torch_flops(fn: Callable[[], object]) -> int:
    """torch.utils.flop_counter's live figure (upstream-bug cases print it beside ours)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as mode:
        fn()
    return int(mode.get_total_flops())


# --------------------------------------------------------------------------------------------
# PyTorch test/test_flop_counter.py
# --------------------------------------------------------------------------------------------


def _variety() -> None:
    mod = nn.Linear(9, 10)
    torch.mm(T(4, 5), T(5, 6))
    torch.addmm(T(4, 6), T(4, 5), T(5, 6), beta=0.5, alpha=0.5)
    torch.matmul(T(5, 6), T(6, 7))
    torch.einsum("ab,bc->ac", T(6, 7), T(7, 8))
    mod(T(8, 9))


def _backward() -> None:
    a = T(4, 5, grad=True)
    a = torch.mm(a, T(5, 6))
    a = a.unsqueeze(0).expand(7, 4, 6)
    a = torch.bmm(a, T(7, 6, 7))
    a.sum().backward()


def _backward_reset() -> None:
    a = T(4, 5, grad=True)
    a.mm(a.t()).sum().backward()
    a.mm(a.t()).sum().backward()


class _MmTwice(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.mm(x, x)

    @staticmethod
    def backward(ctx, g):
        return torch.mm(g, g) + torch.mm(g, g)


def _conv_pair(f: Callable[[], torch.Tensor]) -> tuple[int, int]:
    """(forward FLOPs, backward FLOPs) of a convolution and its backward."""
    c = FlopCounter()
    with c:
        out = f()
        c.phase = "backward"
        out.sum().backward()
    return 2 * c.total_macs("inference"), 2 * c.total_macs("backward")


def _conv_equivalence(cin: int, cout: int, groups: int, transposed: bool) -> int:
    """torch's test_convs asserts backward == 2 x forward (input and weight gradients);
    returns backward - 2 x forward (0 when the assertion holds)."""
    x = T(1, cin, 4, 4, grad=True)
    if transposed:
        w = T(cin, cout // groups, 2, 2, grad=True)
        fwd, bwd = _conv_pair(lambda: F.conv_transpose2d(x, w, groups=groups))
    else:
        w = T(cout, cin // groups, 2, 2, grad=True)
        fwd, bwd = _conv_pair(lambda: F.conv2d(x, w, groups=groups))
    return bwd - 2 * fwd


def _resnet18(which: str) -> int:
    from torchvision.models import resnet18

    with torch.device("meta"):
        model = resnet18()
        x = torch.empty(1, 3, 224, 224, requires_grad=True)
    c = FlopCounter(model)
    with c:
        out = model(x)
        c.phase = "backward"
        c.tracker.reset()
        out.sum().backward()
    if which == "total":
        return 2 * c.total_macs()
    conv_fwd = c.macs["inference"]["convolution"]
    layer1 = 2 * c.by_module("inference").get("layer1", 0)
    assert layer1 <= 2 * conv_fwd
    if which == "layer1_forward":
        return layer1
    return 2 * c.by_module("backward").get("layer1", 0)


def _conv_transpose_loop() -> None:
    x = T(1, 4, 30, 2)
    model = nn.ConvTranspose2d(4, 8, (2, 2), stride=2)
    for _ in range(50):
        model(x).sum().backward()


def _custom_add(value: Callable[[torch.Tensor], int]) -> int:
    register_formula(torch.ops.aten.add)(lambda args, kwargs, out: Cost(0, value(out)))
    try:
        a = T(4, 5)
        return other(lambda: a + a)
    finally:
        unregister_formula(torch.ops.aten.add)


def _sdpa(lq: int, lk: int, backward: bool, **kw) -> int:
    b, h, d = 4, 8, 64
    q = torch.empty(b, h, lq, d, device="meta", requires_grad=True)
    k = torch.empty(b, h, lk, d, device="meta", requires_grad=True)
    v = torch.empty(b, h, lk, d, device="meta", requires_grad=True)

    def run():
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=True)
        if backward:
            out.sum().backward()

    return flops(run, **kw)


def _efficient(lq: int, lk: int, **kw) -> int:
    """The memory-efficient CUDA kernel (it has a meta implementation), forward + backward."""
    b, h, d = 4, 8, 64
    q = torch.empty(b, h, lq, d, device="meta", requires_grad=True)
    k = torch.empty(b, h, lk, d, device="meta", requires_grad=True)
    v = torch.empty(b, h, lk, d, device="meta", requires_grad=True)

    def run():
        out = torch.ops.aten._scaled_dot_product_efficient_attention(q, k, v, None, True)[0]
        out.sum().backward()

    return flops(run, **kw)


def _mm_out() -> None:
    y = torch.zeros(10, 10)
    torch.mm(T(10, 10), T(10, 10), out=y)


class _Foo(nn.Module):
    def forward(self, x):
        x = x["a"].relu_()
        return {"a": torch.mm(x, x)}


class _Mod(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = _Foo(), _Foo()

    def forward(self, x):
        return self.b(self.a(x))


def _pytrees() -> int:
    mod = _Mod()
    x = {"a": T(10, 10, grad=True).clone()}
    return flops(lambda: mod(x)["a"].sum().backward())


def _depthwise_backward() -> None:
    x = T(1, 8, 6, 6, grad=True)
    w = T(8, 1, 3, 3, grad=True)
    F.conv2d(x, w, groups=8).sum().backward()


def _cpu_fused_attention() -> None:
    q = k = v = T(1, 2, 8, 4)
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)


def _nested_encoder() -> None:
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0).eval()
    enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=True).eval()
    x = T(2, 5, 8)
    mask = torch.tensor([[False] * 5, [False, False, False, True, True]])
    with torch.no_grad():
        enc(x, src_key_padding_mask=mask)


def _nested_encoder_ours() -> int:
    # per sequence (lengths 5 and 3): q, k, v and output projections 4 x L x E x E, attention
    # 2 x L x L x E, feed-forward 2 x L x E x F
    e, f = 8, 16
    return 2 * sum(4 * n * e * e + 2 * n * n * e + 2 * n * e * f for n in (5, 3))


def _torch_cases() -> list[PeerCase]:
    conv_groups = [(1, 1, 1), (1, 3, 1), (3, 1, 1), (3, 7, 1), (2, 4, 2), (4, 2, 2)]
    cases = [
        PeerCase(
            "variety", f"{TORCH}::test_flop_counter_variety", "flops", 3012, lambda: flops(_variety)
        ),
        PeerCase(
            "mm",
            f"{TORCH}::test_op",
            "flops",
            240,
            lambda: flops(lambda: torch.mm(T(4, 5), T(5, 6))),
        ),
        PeerCase(
            "bmm",
            f"{TORCH}::test_op",
            "flops",
            720,
            lambda: flops(lambda: torch.bmm(T(3, 4, 5), T(3, 5, 6))),
        ),
        PeerCase(
            "addmm x3 (broadcast biases)",
            f"{TORCH}::test_op",
            "flops",
            720,
            lambda: flops(
                lambda: [torch.addmm(b, T(4, 5), T(5, 6)) for b in (T(4, 6), T(4, 1), T(6))]
            ),
        ),
        PeerCase(
            "baddbmm",
            f"{TORCH}::test_op",
            "flops",
            720,
            lambda: flops(lambda: torch.baddbmm(T(3, 4, 6), T(3, 4, 5), T(3, 5, 6))),
        ),
        PeerCase(
            "conv2d padding 1",
            f"{TORCH}::test_op",
            "flops",
            28800,
            lambda: flops(lambda: torch.conv2d(T(2, 3, 6, 6), T(6, 3, 4, 4), padding=1)),
        ),
        PeerCase(
            "conv1d padding 1",
            f"{TORCH}::test_op",
            "flops",
            1440,
            lambda: flops(lambda: torch.conv1d(T(2, 3, 6), T(6, 3, 4), padding=1)),
        ),
        PeerCase(
            "mm/bmm backward", f"{TORCH}::test_backward", "flops", 5184, lambda: flops(_backward)
        ),
        PeerCase(
            "backward twice",
            f"{TORCH}::test_backward_reset",
            "flops",
            960,
            lambda: flops(_backward_reset),
        ),
        PeerCase(
            "autograd.Function",
            f"{TORCH}::test_autograd_op",
            "flops",
            750,
            lambda: flops(lambda: _MmTwice.apply(T(5, 5, grad=True)).sum().backward()),
        ),
        PeerCase(
            "conv_transpose2d 2x2 forward",
            f"{TORCH}::test_convs",
            "flops",
            32,
            lambda: _conv_pair(
                lambda: F.conv_transpose2d(T(1, 1, 2, 2, grad=True), T(1, 1, 2, 2, grad=True))
            )[0],
        ),
        PeerCase(
            "conv2d 1x1 forward",
            f"{TORCH}::test_convs",
            "flops",
            8,
            lambda: _conv_pair(
                lambda: F.conv2d(T(1, 1, 2, 2, grad=True), T(1, 1, 1, 1, grad=True))
            )[0],
        ),
    ]
    for cin, cout, g in conv_groups:
        for tr in (False, True):
            what = "conv_transpose2d" if tr else "conv2d"
            cases.append(
                PeerCase(
                    f"{what} {cin}->{cout} groups {g}: backward - 2 x forward",
                    f"{TORCH}::test_convs",
                    "flops",
                    0,
                    lambda cin=cin, cout=cout, g=g, tr=tr: _conv_equivalence(cin, cout, g, tr),
                )
            )
    cases += [
        PeerCase(
            "resnet18 forward + backward",
            f"{TORCH}::test_module",
            "flops",
            10884440064,
            lambda: _resnet18("total"),
        ),
        PeerCase(
            "resnet18 layer1 forward",
            f"{TORCH}::test_module",
            "flops",
            924844032,
            lambda: _resnet18("layer1_forward"),
        ),
        PeerCase(
            "resnet18 layer1 backward",
            f"{TORCH}::test_module",
            "flops",
            1849688064,
            lambda: _resnet18("layer1_backward"),
        ),
        PeerCase(
            "conv_transpose2d x50 with backward",
            f"{TORCH}::test_conv_transpose_loop",
            "flops",
            1536000,
            lambda: flops(_conv_transpose_loop),
        ),
        PeerCase(
            "custom mapping: add = 5",
            f"{TORCH}::test_custom",
            "flops",
            5,
            lambda: _custom_add(lambda out: 5),
        ),
        PeerCase(
            "custom mapping: add = numel",
            f"{TORCH}::test_custom",
            "flops",
            20,
            lambda: _custom_add(lambda out: out.numel()),
        ),
        PeerCase(
            "sdpa causal forward (math)",
            f"{TORCH}::test_sdpa",
            "flops",
            134217728,
            lambda: _sdpa(128, 128, False),
            note="causal attention counted in full by both (ours: unless --causal-half)",
        ),
        PeerCase(
            "sdpa forward + backward (math) = 3 x forward",
            f"{TORCH}::test_sdpa",
            "flops",
            3 * 134217728,
            lambda: _sdpa(128, 128, True),
        ),
        PeerCase(
            "sdpa Lq 128, Lk 256 forward",
            f"{TORCH}::test_sdpa",
            "flops",
            268435456,
            lambda: _sdpa(128, 256, False),
        ),
        PeerCase(
            "sdpa Lq 128, Lk 256 forward + backward (math)",
            f"{TORCH}::test_sdpa",
            "flops",
            805306368,
            lambda: _sdpa(128, 256, True),
        ),
        PeerCase(
            "sdpa efficient kernel forward + backward",
            f"{TORCH}::test_sdpa",
            "flops",
            939524096,
            lambda: _efficient(128, 256),
            kind="convention",
            ours_expected=805306368,
            note="torch adds the QK^T recompute of fused backward kernels; ours is "
            "algorithmic (3 x forward) unless --attention-recompute",
        ),
        PeerCase(
            "sdpa efficient kernel with --attention-recompute",
            f"{TORCH}::test_sdpa",
            "flops",
            939524096,
            lambda: _efficient(128, 256, attention_recompute=True),
        ),
        PeerCase("mm with out=", f"{TORCH}::test_addmm_out", "flops", 2000, lambda: flops(_mm_out)),
        PeerCase(
            "nested modules, dict outputs", f"{TORCH}::test_pytrees", "flops", 12000, _pytrees
        ),
        PeerCase(
            "tuple output",
            f"{TORCH}::test_pytrees",
            "flops",
            6000,
            lambda: flops(lambda: (torch.mm(x := T(10, 10, grad=True), x),)[0].sum().backward()),
        ),
        PeerCase(
            "depthwise conv backward",
            f"{TORCH}::test_convs (groups)",
            "flops",
            lambda: torch_flops(_depthwise_backward),
            lambda: flops(_depthwise_backward),
            kind="upstream-bug",
            ours_expected=3 * 2 * (16 * 8 * 9),
            note="torch's convolution backward ignores groups",
        ),
        PeerCase(
            "CPU fused attention kernel",
            f"{TORCH}::test_sdpa (CPU kernel)",
            "flops",
            lambda: torch_flops(_cpu_fused_attention),
            lambda: flops(_cpu_fused_attention),
            kind="upstream-bug",
            ours_expected=2 * 2 * 8 * 8 * (4 + 4),
            note="torch registers no formula for _scaled_dot_product_flash_attention_for_cpu",
        ),
        PeerCase(
            "nested TransformerEncoderLayer fast path",
            f"{TORCH}::test_sdpa_nested_tensor (CPU fast path)",
            "flops",
            lambda: torch_flops(_nested_encoder),
            lambda: flops(_nested_encoder),
            kind="upstream-bug",
            ours_expected=_nested_encoder_ours(),
            note="torch counts 0 for _transformer_encoder_layer_fwd on nested input",
        ),
    ]
    slow = {"resnet18 forward + backward", "resnet18 layer1 forward", "resnet18 layer1 backward"}
    return [PeerCase(**{**c.__dict__, "slow": c.name in slow}) for c in cases]


# --------------------------------------------------------------------------------------------
# fvcore tests/test_flop_count.py
# --------------------------------------------------------------------------------------------


def _conv_net(
    dim: int,
    n: int,
    cin: int,
    cout: int,
    size: int,
    k: int,
    pad: int,
    stride: int,
    groups: int,
    transpose: bool = False,
    output_padding: int = 0,
) -> int:
    layers = (
        (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
        if transpose
        else (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    )
    extra = {"output_padding": output_padding} if transpose else {}
    conv = layers[dim - 1](cin, cout, k, stride, pad, groups=groups, **extra)
    x = T(n, cin, *([size] * dim))
    with torch.no_grad():
        return macs(lambda: conv(x))


def _fvcore_conv(dim, n, cin, cout, size, k, pad, stride, groups, transpose=False) -> int:
    """fvcore's expectation: N x C_in x C_out x k^d x positions^d / groups, positions of the
    input for a transposed convolution."""
    positions = size if transpose else (size + 2 * pad - k) // stride + 1
    return n * cin * cout * k**dim * positions**dim // groups


class _ThreeNet(nn.Module):
    def __init__(self, cin: int, conv_dim: int, linear_dim: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, conv_dim, 1, 1)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.linear1 = nn.Linear(conv_dim, linear_dim)
        self.linear2 = nn.Linear(linear_dim, 1)

    def forward(self, x):
        x = self.pool(self.conv(x)).flatten(1)
        return self.linear2(self.linear1(x))


def _three_net(which: str) -> int:
    net = _ThreeNet(2, 5, 3)
    x = T(4, 2, 10, 10)
    c = FlopCounter(net)
    with torch.no_grad(), c:
        net(x)
    if which == "macs":
        return c.total_macs()
    if which == "pool":
        return c.other["inference"]["_adaptive_avg_pool2d"] or c.other["inference"]["mean"]
    return c.by_module("inference").get(which, 0)


def _norm_other(fn: Callable[[], object]) -> int:
    with torch.no_grad():
        return other(fn)


def _custom_sigmoid() -> int:
    register_formula(torch.ops.aten.sigmoid)(lambda a, k, o: Cost(0, 10000))
    try:
        net = nn.Sequential(nn.Linear(5, 4), nn.Sigmoid())
        x = T(10, 5)
        c = counted(lambda: net(x))
        return c.other["inference"]["sigmoid"]
    finally:
        unregister_formula(torch.ops.aten.sigmoid)


def _custom_linear() -> int:
    register_formula(torch.ops.aten.addmm)(lambda a, k, o: 400000)
    register_formula(torch.ops.aten.linear)(lambda a, k, o: 400000)
    try:
        net = nn.Linear(5, 4)
        return macs(lambda: net(T(10, 5)))
    finally:
        unregister_formula(torch.ops.aten.addmm)
        unregister_formula(torch.ops.aten.linear)


def _fvcore_cases() -> list[PeerCase]:
    conv_configs = [
        ("2d", (2, 5, 10, 3, 15, 3, 1, 1, 1)),
        ("2d stride 2", (2, 2, 10, 6, 20, 3, 1, 2, 1)),
        ("2d groups 4", (2, 5, 16, 8, 15, 5, 2, 1, 4)),
        ("2d depthwise (groups = C_out)", (2, 5, 16, 8, 15, 3, 1, 1, 8)),
        ("1d", (1, 5, 10, 3, 15, 3, 1, 1, 1)),
        ("3d", (3, 5, 10, 3, 15, 3, 1, 1, 1)),
    ]
    transposed = [
        ("transposed 2d", (2, 5, 10, 3, 15, 3, 1, 1, 1), 0),
        ("transposed 2d stride 2", (2, 5, 10, 3, 15, 3, 1, 2, 1), 0),
        ("transposed 2d stride 3, output_padding 2", (2, 5, 10, 3, 15, 3, 1, 3, 1), 2),
    ]
    cases = [
        PeerCase(
            f"conv {name}",
            f"{FVCORE}::test_conv",
            "macs",
            _fvcore_conv(*cfg),
            lambda cfg=cfg: _conv_net(*cfg),
        )
        for name, cfg in conv_configs
    ]
    cases += [
        PeerCase(
            f"conv {name}",
            f"{FVCORE}::test_conv",
            "macs",
            _fvcore_conv(*cfg, transpose=True),
            lambda cfg=cfg, op=op: _conv_net(*cfg, transpose=True, output_padding=op),
        )
        for name, cfg, op in transposed
    ]
    lin = nn.Linear(10, 20)
    cases += [
        PeerCase(
            "nn.Linear 8 -> 4, batch 5",
            f"{FVCORE}::test_nn",
            "macs",
            5 * 8 * 4,
            lambda: macs(lambda: nn.Linear(8, 4)(T(5, 8))),
        ),
        PeerCase(
            "linear 10 -> 20, batch 5",
            f"{FVCORE}::test_linear",
            "macs",
            5 * 10 * 20,
            lambda: macs(lambda: lin(T(5, 10))),
        ),
        PeerCase(
            "linear on (5, 5, 10)",
            f"{FVCORE}::test_linear",
            "macs",
            5 * 10 * 5 * 20,
            lambda: macs(lambda: lin(T(5, 5, 10))),
        ),
        PeerCase(
            "matmul 20x10 @ 10x100",
            f"{FVCORE}::test_matmul",
            "macs",
            20 * 10 * 100,
            lambda: macs(lambda: torch.matmul(T(20, 10), T(10, 100))),
        ),
    ]
    for a, b, mult in [
        ((1, 20, 10), (1, 10, 100), 1),
        ((2, 2, 20, 10), (2, 2, 10, 100), 4),
        ((1, 20, 10), (10, 100), 1),
        ((2, 20, 10), (10, 100), 2),
    ]:
        cases.append(
            PeerCase(
                f"matmul broadcast {a} @ {b}",
                f"{FVCORE}::test_matmul_broadcast",
                "macs",
                mult * 20 * 10 * 100,
                lambda a=a, b=b: macs(lambda: torch.matmul(T(*a), T(*b))),
            )
        )
    cases += [
        PeerCase(
            "bmm nct,ntp->ncp",
            f"{FVCORE}::test_bmm",
            "macs",
            2 * 2 * 12 * 5,
            lambda: macs(lambda: torch.bmm(T(2, 5, 2), T(2, 2, 12))),
        ),
        PeerCase(
            "einsum nct,ncp->ntp",
            f"{FVCORE}::test_einsum",
            "macs",
            1 * 2 * 12 * 5,
            lambda: macs(lambda: torch.einsum("nct,ncp->ntp", T(1, 5, 2), T(1, 5, 12))),
        ),
        PeerCase(
            "einsum ntg,ncg->nct",
            f"{FVCORE}::test_einsum",
            "macs",
            1 * 2 * 6 * 5,
            lambda: macs(lambda: torch.einsum("ntg,ncg->nct", T(1, 2, 6), T(1, 5, 6))),
        ),
        PeerCase(
            "einsum nc,nchw->hw",
            f"{FVCORE}::test_complicated_einsum",
            "macs",
            72,
            lambda: macs(lambda: torch.einsum("nc,nchw->hw", T(3, 4), T(3, 4, 2, 3))),
        ),
        PeerCase(
            "mm 3x4 @ 4x5",
            f"{FVCORE}::test_torch_mm",
            "macs",
            60,
            lambda: macs(lambda: torch.mm(T(3, 4), T(4, 5))),
        ),
        PeerCase(
            "matmul 3x4 @ 4x5",
            f"{FVCORE}::test_torch_mm",
            "macs",
            60,
            lambda: macs(lambda: torch.matmul(T(3, 4), T(4, 5))),
        ),
        PeerCase(
            "three-layer net: conv + linears",
            f"{FVCORE}::test_threeNet",
            "macs",
            4 * 5 * 2 * 10 * 10 + 4 * 5 * 3 + 4 * 3 * 1,
            lambda: _three_net("macs"),
        ),
        PeerCase(
            "three-layer net: adaptive average pool",
            f"{FVCORE}::test_threeNet",
            "macs",
            2000,
            lambda: _three_net("pool"),
            note="one FLOP per input element on both sides",
        ),
        PeerCase(
            "by module: conv",
            f"{FVCORE}::test_flop_counter_class",
            "macs",
            4 * 5 * 2 * 10 * 10,
            lambda: _three_net("conv"),
        ),
        PeerCase(
            "by module: linear1",
            f"{FVCORE}::test_flop_counter_class",
            "macs",
            4 * 5 * 3,
            lambda: _three_net("linear1"),
        ),
        PeerCase(
            "by module: linear2",
            f"{FVCORE}::test_flop_counter_class",
            "macs",
            4 * 3 * 1,
            lambda: _three_net("linear2"),
        ),
        PeerCase(
            "custom handle for a new op (sigmoid)",
            f"{FVCORE}::test_customized_ops",
            "macs",
            10000,
            _custom_sigmoid,
            note="register_formula, in the other column",
        ),
        PeerCase(
            "custom handle overriding linear",
            f"{FVCORE}::test_customized_ops",
            "macs",
            400000,
            _custom_linear,
        ),
        PeerCase(
            "BatchNorm1d eval, no affine",
            f"{FVCORE}::test_batchnorm",
            "macs",
            10 * 10,
            lambda: _norm_other(lambda: nn.BatchNorm1d(10, affine=False).eval()(T(10, 10))),
            kind="convention",
            ours_expected=4 * 10 * 10,
            note="fvcore: 1 per element in eval; ours: 4 (subtract, scale, affine x 2)",
        ),
        PeerCase(
            "BatchNorm2d train, no affine",
            f"{FVCORE}::test_batchnorm",
            "macs",
            4 * 10 * 10 * 5 * 5,
            lambda: _norm_other(lambda: nn.BatchNorm2d(10, affine=False)(T(10, 10, 5, 5))),
            kind="convention",
            ours_expected=7 * 10 * 10 * 5 * 5 + 1,
            note="fvcore: 4 per element in training; ours: 7 (statistics included), and 1 for "
            "the num_batches_tracked increment",
        ),
        PeerCase(
            "BatchNorm3d train, no affine",
            f"{FVCORE}::test_batchnorm",
            "macs",
            4 * 10 * 10 * 125,
            lambda: _norm_other(lambda: nn.BatchNorm3d(10, affine=False)(T(10, 10, 5, 5, 5))),
            kind="convention",
            ours_expected=7 * 10 * 10 * 125 + 1,
        ),
        PeerCase(
            "group_norm, affine",
            f"{FVCORE}::test_group_norm",
            "macs",
            80,
            lambda: _norm_other(lambda: F.group_norm(T(2, 2, 2, 2), 2, T(2), T(2))),
            kind="convention",
            ours_expected=7 * 16,
            note="fvcore: 5 per element with affine, 4 without; ours: 7",
        ),
        PeerCase(
            "group_norm, no affine",
            f"{FVCORE}::test_group_norm",
            "macs",
            64,
            lambda: _norm_other(lambda: F.group_norm(T(2, 2, 2, 2), 2)),
            kind="convention",
            ours_expected=7 * 16,
        ),
        PeerCase(
            "upsample bilinear x2",
            f"{FVCORE}::test_upsample",
            "macs",
            2**4 * 4 * 4,
            lambda: _norm_other(
                lambda: F.interpolate(T(2, 2, 2, 2), scale_factor=2, mode="bilinear")
            ),
            kind="convention",
            ours_expected=(2 * 4 - 1) * 2 * 2 * 4 * 4,
            note="fvcore: 4 per output; ours: 4 multiplies + 3 adds = 7",
        ),
        PeerCase(
            "sigmoid is skipped by fvcore",
            f"{FVCORE}::test_skip_ops",
            "macs",
            0,
            lambda: counted(lambda: nn.Sigmoid()(T(10, 4))).total_other(),
            kind="convention",
            ours_expected=4 * 10 * 4,
            note="fvcore lists aten::sigmoid as unsupported; ours: 4 per element "
            "(negate, exp, add, divide)",
        ),
    ]
    return cases


CASES: list[PeerCase] = _torch_cases() + _fvcore_cases()


def evaluate(case: PeerCase) -> tuple[str, int, int]:
    """(verdict, peer figure, our figure); verdict is matched, convention, upstream-bug or
    mismatch."""
    peer = case.peer() if callable(case.peer) else case.peer
    ours = case.ours()
    if case.kind == "match":
        return ("matched" if ours == peer else "mismatch"), peer, ours
    ok = ours == case.ours_expected
    return (case.kind if ok else "mismatch"), peer, ours
