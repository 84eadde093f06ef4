"""The zoo's tiny variants: every count against expectations that do not come from our counter.

Two independent checks: torch's own `torch.utils.flop_counter.FlopCounterMode`, run on the same
meta model, agrees op by op on the products both count the same way (mm, addmm, bmm, baddbmm and
convolution forward; convolution backward where no convolution is grouped, since torch's backward
formula ignores `groups`); and matmul-class work is affine in the batch (a per-example part, and
a per-call part such as Swin V2's position-bias MLP), so the counts at batch 2, 3 and 4 are
evenly spaced, and the optimizer step does not depend on the batch.
Detectors (data-dependent proposals, real-tensor fallback) get neither.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from harness.arch.registry import list_architectures
from harness.arch.spec import Architecture
from harness.counting.build import build_meta
from harness.counting.count import count_flops
from harness.counting.moe import nominal_routing

# Ops whose FLOP formula in torch.utils.flop_counter is 2 x our MACs by the same convention.
AGREED_OPS = frozenset({"mm", "addmm", "bmm", "baddbmm", "convolution", "_convolution"})


def _zoo():
    return list_architectures()


def _one_per_family():
    seen, out = set(), []
    for a in _zoo():
        key = a.family or a.name
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _by_op(mode: FlopCounterMode) -> dict[str, int]:
    return {str(k).split(".")[-1]: v for k, v in mode.get_flop_counts()["Global"].items()}


def _torch_flops(arch: Architecture, batch_size: int) -> tuple[dict[str, dict[str, int]], bool]:
    """torch's FLOPs per op of the inference pass and of one training forward and backward,
    and whether the model has a grouped convolution."""
    model = build_meta(arch, tiny=True)
    batch = arch.example_batch(batch_size, tiny=True, device="meta")
    with nominal_routing(model):  # MoE blocks at top-k routing, as our counter runs them
        return _torch_flops_of(arch, model, batch)


def _torch_flops_of(arch: Architecture, model: nn.Module, batch) -> tuple[dict, bool]:
    model.eval()
    with FlopCounterMode(display=False) as m, torch.no_grad():
        arch.forward(model, batch)
    flops = {"inference": _by_op(m)}
    model.train()
    with FlopCounterMode(display=False) as m:
        loss = arch.training_loss(model, batch)
    flops["forward"] = _by_op(m)
    with FlopCounterMode(display=False) as m:
        loss.backward()
    flops["backward"] = _by_op(m)
    grouped = any(isinstance(x, nn.modules.conv._ConvNd) and x.groups > 1 for x in model.modules())
    return flops, grouped


def _check_tiny(arch: Architecture, train: bool) -> None:
    r = count_flops(arch, batch_size=2, tiny=True, train=train)
    assert r.forward_macs > 0, arch.name
    assert r.uncounted_matmul_class == {}, (arch.name, r.uncounted)
    if train:
        assert r.backward_flops > 0 and r.optimizer_flops > 0, arch.name
    if arch.task == "detection":
        return
    r3, r4 = (count_flops(arch, batch_size=b, tiny=True, train=train) for b in (3, 4))
    assert r4.forward_macs - r3.forward_macs == r3.forward_macs - r.forward_macs, arch.name
    if train:
        for part in ("forward_flops", "backward_flops"):
            f2, f3, f4 = (getattr(x, part) for x in (r, r3, r4))
            assert f4 - f3 == f3 - f2 > 0, (arch.name, part)
        assert r4.optimizer_flops == r3.optimizer_flops == r.optimizer_flops, arch.name
    assert r.method == "meta", arch.name
    theirs, grouped = _torch_flops(arch, 2)
    for phase in ("inference", "forward", "backward") if train else ("inference",):
        ops = AGREED_OPS | (
            {"convolution_backward"} if phase == "backward" and not grouped else set()
        )
        ours = r.by_op.get(phase, {})
        for op in sorted(ops):
            assert 2 * ours.get(op, 0) == theirs[phase].get(op, 0), (arch.name, phase, op)


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
