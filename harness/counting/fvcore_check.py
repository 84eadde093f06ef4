"""The fvcore cross-check: fvcore's forward count beside ours."""

from __future__ import annotations

import warnings
from dataclasses import replace

import torch
from torch import nn

from harness.arch.registry import resolve
from harness.arch.spec import Architecture, Batch
from harness.counting.build import build_meta, map_tensors, param_counts
from harness.counting.record import DEFAULT_FVCORE_MAX_PARAMS
from harness.counting.tracker import flatten

# --------------------------------------------------------------------------------------------
# fvcore cross-check
# --------------------------------------------------------------------------------------------


class _FvcoreAdapter(nn.Module):
    """Tensors in, tuple of tensors out: the shape fvcore's JIT tracer needs."""

    def __init__(self, model: nn.Module, arch: Architecture, batch: Batch) -> None:
        super().__init__()
        self.model = model
        self.arch = arch
        self.batch = batch
        self.leaves = [
            t for t in flatten((batch.args, dict(batch.kwargs))) if isinstance(t, torch.Tensor)
        ]

    def forward(self, *tensors: torch.Tensor):
        it = iter(tensors)
        inputs = replace(self.batch, targets=None)
        batch = map_tensors(inputs, lambda _t: next(it))
        out = self.arch.forward(self.model, batch)
        flat = tuple(t for t in flatten(out) if isinstance(t, torch.Tensor))
        return flat if len(flat) != 1 else flat[0]


def fvcore_forward_macs(
    arch: Architecture | str,
    *,
    size: int | None = None,
    tiny: bool = False,
    max_params: int | None = DEFAULT_FVCORE_MAX_PARAMS,
) -> tuple[float | None, str | None]:
    """fvcore's forward MACs per example (batch 1, eval, real CPU tensors), or (None, reason)."""
    arch = resolve(arch) if isinstance(arch, str) else arch
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        return None, "fvcore is not installed"
    n = param_counts(build_meta(arch, tiny))[0]
    if max_params is not None and n > max_params:
        return None, (
            f"skipped: {n / 1e6:,.0f}M parameters > {max_params / 1e6:,.0f}M "
            "(fvcore needs real weights; raise fvcore_max_params)"
        )
    try:
        with torch.device("cpu"):
            model = arch.build(tiny=tiny)
        model.eval()
        batch = arch.example_batch(1, size=size, tiny=tiny, device="cpu")
        adapter = _FvcoreAdapter(model, arch, batch).eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(adapter, tuple(adapter.leaves))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            total = analysis.total()
        return total / batch.size, None
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, f"fvcore failed: {type(exc).__name__}: {msg[:160]}"
