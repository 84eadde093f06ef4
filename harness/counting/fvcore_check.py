"""The fvcore cross-check: fvcore's per-operator count beside ours, family by family.

A fair comparison needs three things. The same code path: under `no_grad` on real tensors,
`nn.MultiheadAttention` and `nn.TransformerEncoderLayer` take their fused fast path, an opaque
kernel fvcore's JIT trace cannot cost, while our meta-tensor count runs the standard path; so
fvcore runs with grad enabled (eval mode), where neither takes the fast path. The same
quantities: fvcore's total includes norms, pooling and upsampling in its own per-element
convention, our MACs do not; so the headline compares matmul-class MACs (conv, matmul,
attention) only. And nothing hidden: fvcore's unsupported operators are listed, and a
matmul-class family in which fvcore met an unsupported operator (for example
`aten::scaled_dot_product_attention`) is left out of the headline on both sides.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import torch
from torch import nn

from harness.arch.registry import resolve
from harness.arch.spec import Architecture, Batch
from harness.counting.build import build_meta, map_tensors, param_counts
from harness.counting.families import FAMILIES, MATMUL_CLASS, by_family, family_of
from harness.counting.record import DEFAULT_FVCORE_MAX_PARAMS, FvcoreComparison
from harness.counting.tracker import flatten
from harness.errors import ConfigurationError

INSTALL_FVCORE = "pip install 'dl-cost-harness[fvcore]'"
FVCORE_MISSING = f"fvcore is not installed ({INSTALL_FVCORE})"


def fvcore_installed() -> bool:
    """fvcore is an optional extra; import it only where it is used (sys.modules may hold None)."""
    try:
        import fvcore  # noqa: F401
    except ImportError:
        return False
    return True


def require_fvcore() -> None:
    """`--fvcore` without fvcore: one line saying what to install, before anything is counted."""
    if not fvcore_installed():
        raise ConfigurationError(f"--fvcore needs fvcore, which is not installed: {INSTALL_FVCORE}")


@dataclass(frozen=True)
class FvcoreRun:
    """fvcore's forward count of one example: per operator, and what it could not cost."""

    by_operator: dict[str, float]  # fvcore's names ("conv", "linear", "batch_norm", ...)
    unsupported: dict[str, int]  # "aten::name" -> calls
    examples: int

    @property
    def matmul_class_macs_per_example(self) -> float:
        fam = by_family(self.by_operator)
        return sum(fam[f] for f in MATMUL_CLASS) / self.examples


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


def run_fvcore(
    arch: Architecture | str,
    *,
    size: int | None = None,
    tiny: bool = False,
    max_params: int | None = DEFAULT_FVCORE_MAX_PARAMS,
) -> FvcoreRun | str:
    """fvcore on one example (eval mode, grad enabled, real CPU tensors), or why not."""
    arch = resolve(arch) if isinstance(arch, str) else arch
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        return FVCORE_MISSING
    n = param_counts(build_meta(arch, tiny))[0]
    if max_params is not None and n > max_params:
        return (
            f"skipped: {n / 1e6:,.0f}M parameters > {max_params / 1e6:,.0f}M "
            "(fvcore needs real weights; raise fvcore_max_params)"
        )
    try:
        with torch.device("cpu"):
            model = arch.build(tiny=tiny)
        model.eval()
        batch = arch.example_batch(1, size=size, tiny=tiny, device="cpu")
        adapter = _FvcoreAdapter(model, arch, batch).eval()
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(adapter, tuple(adapter.leaves))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            per_op = {k: float(v) for k, v in analysis.by_operator().items()}
            unsupported = dict(analysis.unsupported_ops().most_common())
        return FvcoreRun(per_op, unsupported, batch.size)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"fvcore failed: {type(exc).__name__}: {msg[:160]}"


def fvcore_forward_macs(
    arch: Architecture | str,
    *,
    size: int | None = None,
    tiny: bool = False,
    max_params: int | None = DEFAULT_FVCORE_MAX_PARAMS,
) -> tuple[float | None, str | None]:
    """fvcore's matmul-class forward MACs per example (conv, matmul, attention), or
    (None, reason)."""
    run = run_fvcore(arch, size=size, tiny=tiny, max_params=max_params)
    if isinstance(run, str):
        return None, run
    return run.matmul_class_macs_per_example, None


def compare(
    ours_macs: dict[str, int],
    ours_other: dict[str, int],
    batch_size: int,
    fv: FvcoreRun,
    inside_attention: dict[str, int] | None = None,
) -> FvcoreComparison:
    """Our inference count (per op, whole batch) and fvcore's, per example and family.

    `inside_attention` holds the MACs of ops that ran inside `F.scaled_dot_product_attention`
    (its math path's bmm/matmul on meta tensors): attention, whatever the op's name.
    """
    inside = inside_attention or {}
    ours = dict.fromkeys(FAMILIES, 0.0)
    for name, macs in ours_macs.items():
        within = min(inside.get(name, 0), macs)
        ours["attention"] += within / batch_size
        fam = family_of(name)
        ours[fam if fam in MATMUL_CLASS else "matmul"] += (macs - within) / batch_size
    for name, flops in ours_other.items():
        fam = family_of(name)
        ours[fam if fam not in MATMUL_CLASS else "other"] += flops / batch_size
    theirs = {k: v / fv.examples for k, v in by_family(fv.by_operator).items()}
    blind = {family_of(op) for op in fv.unsupported} & set(MATMUL_CLASS)
    compared = tuple(f for f in MATMUL_CLASS if f not in blind)
    return FvcoreComparison(
        ours=ours,
        fvcore=theirs,
        unsupported=dict(fv.unsupported),
        compared=compared,
        ours_macs_per_example=sum(ours[f] for f in compared),
        fvcore_macs_per_example=sum(theirs[f] for f in compared),
    )
