"""Backward/forward ratios and robustness of counting over the whole zoo.

For every registered architecture: one training step (batch 2, default size) is counted; the
script prints backward/forward (matmul-class) per model, an independent expectation of it, the
method used, and any uncounted operator. The expectation comes from the training forward alone:
each matmul-class op (mm, addmm, bmm, baddbmm, convolution, ...) costs one forward's MACs per
operand that needs a gradient (input and weight), so layers whose input needs no gradient (the
first convolution, an LSTM's zero initial state) cost one forward, every other layer two.

Targets: backward/forward in [1.85, 2.05] for conv nets and transformers without
frozen parts (a ratio below 1.85 must be explained by the first layer: it matches the
expectation); counting succeeds on every architecture with no uncounted matmul-class operator.
Also printed: torch.utils.flop_counter.FlopCounterMode's ratio on the same models, whose
convolution backward ignores groups.

Run: .venv/bin/python benchmarks/counting_backward.py [--only GLOB] [--skip-detection]
"""

from __future__ import annotations

import argparse
import fnmatch
import statistics
import sys
import time
import warnings

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from harness.arch.registry import list_architectures
from harness.counting.count import count_flops
from harness.counting.formulas import FormulaOptions, rule_for

warnings.filterwarnings("ignore")
aten = torch.ops.aten

# ops whose MACs are a product of two gradient-carrying operands, with their positions
_OPERANDS = {
    aten.mm.default: (0, 1),
    aten.bmm.default: (0, 1),
    aten.addmm.default: (1, 2),
    aten.baddbmm.default: (1, 2),
    aten.convolution.default: (0, 1),
}


class _GradDemand(TorchDispatchMode):
    """Sums, over the training forward, MACs x (operands that require grad)."""

    def __init__(self) -> None:
        super().__init__()
        self.forward = 0
        self.expected_backward = 0
        self.other_ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = rule_for(func)
        if rule.kind == "mac":
            macs = rule.formula(args, kwargs, out, FormulaOptions()).macs
            self.forward += macs
            pos = _OPERANDS.get(func)
            if pos is None:
                self.other_ops.add(str(func))
                self.expected_backward += 2 * macs
            else:
                self.expected_backward += macs * sum(bool(args[i].requires_grad) for i in pos)
        return out


def expected_ratio(arch, batch_size: int, device: str) -> tuple[float | None, str]:
    """Backward/forward expected from which operands need gradients, on `device` tensors."""
    try:
        with torch.device(device):
            model = arch.build()
        batch = arch.example_batch(batch_size, device=device)
        model.train()
        mode = _GradDemand()
        with mode:
            arch.training_loss(model, batch)
    except Exception as exc:
        return None, type(exc).__name__
    note = f"fused ops assumed 2x: {sorted(mode.other_ops)}" if mode.other_ops else ""
    return (mode.expected_backward / mode.forward if mode.forward else None), note


def flop_counter_mode_ratio(arch) -> float | None:
    """torch's FlopCounterMode on the same training step (meta tensors)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with torch.device("meta"):
            model = arch.build()
        batch = arch.example_batch(2, device="meta")
        model.train()
        with FlopCounterMode(display=False) as fwd:
            loss = arch.training_loss(model, batch)
        with FlopCounterMode(display=False) as bwd:
            loss.backward()
        return bwd.get_total_flops() / fwd.get_total_flops()
    except Exception:
        return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="glob over architecture names")
    p.add_argument("--skip-detection", action="store_true", help="skip COCO (real CPU, slow)")
    p.add_argument("--benchmark", help="only this benchmark (imagenet, coco, squad11, ...)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument(
        "--torch-compare",
        default="mobilenet_v3_small,efficientnet_b0,convnext_tiny,resnet50,vit_b_16",
    )
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    compare = set(args.torch_compare.split(",")) if args.torch_compare else set()
    print(
        f"{'architecture':38s} {'method':6s} {'bwd/fwd':>8s} {'expected':>8s} {'torch':>8s}  notes"
    )
    failures, ratios, unexplained, uncounted_mm = [], [], [], []
    for arch in list_architectures(benchmark=args.benchmark):
        if args.only and not fnmatch.fnmatch(arch.name, args.only):
            continue
        if args.skip_detection and arch.task == "detection":
            continue
        try:
            torch.manual_seed(0)  # same random weights in both runs: R-CNN heads are data-dependent
            r = count_flops(arch, batch_size=args.batch, train=True)
        except Exception as exc:
            failures.append(arch.name)
            print(f"{arch.name:38s} FAILED: {exc}")
            continue
        ratio = r.backward_forward_ratio
        torch.manual_seed(0)
        exp, note = expected_ratio(arch, args.batch, "meta" if r.method == "meta" else "cpu")
        torch_ratio = flop_counter_mode_ratio(arch) if arch.name in compare else None
        notes = []
        if r.uncounted:
            notes.append("uncounted: " + ", ".join(f"{k} x{v}" for k, v in r.uncounted.items()))
        if r.uncounted_matmul_class:
            uncounted_mm.append(arch.name)
        in_range = 1.85 <= ratio <= 2.05
        explained = exp is not None and abs(ratio - exp) < 1e-4 * exp
        if not in_range:
            notes.append(
                "outside 1.85-2.05, "
                + (
                    "= expectation (inputs/frozen weights need no gradient)"
                    if explained
                    else "UNEXPLAINED"
                )
            )
            if not explained and arch.task != "detection":
                unexplained.append(arch.name)
        elif exp is not None and not explained:
            notes.append(f"differs from expectation {exp:.4f}")
        if note:
            notes.append(note)
        ratios.append((arch.name, ratio, in_range))
        print(
            f"{arch.name:38s} {r.method:6s} {ratio:8.4f} "
            f"{(f'{exp:.4f}' if exp is not None else '-'):>8s} "
            f"{(f'{torch_ratio:.2f}' if torch_ratio is not None else ''):>8s}  {'; '.join(notes)}",
            flush=True,
        )
    if ratios:
        vals = [x for _, x, _ in ratios]
        print(
            f"\n{len(ratios)} architectures counted, {len(failures)} failed {failures or ''}; "
            f"backward/forward median {statistics.median(vals):.4f}, min {min(vals):.4f} "
            f"({min(ratios, key=lambda t: t[1])[0]}), max {max(vals):.4f} "
            f"({max(ratios, key=lambda t: t[1])[0]}); in [1.85, 2.05]: "
            f"{sum(ok for *_, ok in ratios)}/{len(ratios)}; outside and unexplained: {unexplained or 'none'}; "
            f"uncounted matmul-class ops: {uncounted_mm or 'none'} ({time.perf_counter() - t0:.0f} s)"
        )
    return 1 if failures or uncounted_mm or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
