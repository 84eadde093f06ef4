"""Per-element costs: pointwise ops, reductions, `_foreach_*` lists and fused optimizers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.counting.formulas.common import Cost, Formula, numel_of, out_numel


def per_output(cost: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, cost * out_numel(out))

    return f


def per_input(cost: int, idx: int = 0) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, cost * numel_of(args[idx]))

    return f


def fused_optimizer(per_element: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, per_element * numel_of(args[0]))

    return f


# Per-element cost of pointwise ops that are more than one operation.
POINTWISE_COST: dict[str, int] = {
    "addcmul": 3,
    "addcdiv": 3,
    "lerp": 3,
    "hardswish": 4,
    "hardsigmoid": 3,
    "silu": 4,
    "mish": 6,
    "softplus": 3,
    "elu": 3,
    "gelu": 8,  # 0.5 x (1 + erf(x / sqrt 2)) x x
    "sigmoid": 4,
    "tanh": 5,
    "hardtanh": 2,
    "clamp": 2,
    "leaky_relu": 2,
}

# Fused optimizer kernels (per parameter element; the unfused code path counts its own ops).
FUSED_OPTIMIZER_COST = {
    "_fused_adam": 13,  # lerp 3, mul 1, addcmul 3, sqrt 1, div 1, add 1, addcdiv 3
    "_fused_adamw": 14,  # + decoupled weight decay 1
    "_fused_sgd": 5,  # momentum mul 1 + add 2, update 2
    "_fused_adagrad": 9,
}


def pointwise_cost(name: str, args: Sequence[Any], kwargs: dict) -> int:
    """Per-element FLOPs of a pointwise op (conventions in `harness.counting.formulas`)."""
    base = name.rstrip("_")
    if base in ("add", "sub", "rsub"):
        alpha = kwargs.get("alpha", args[2] if len(args) > 2 else 1)
        return 1 if alpha in (1, 1.0, None) else 2
    if base in ("addcmul", "addcdiv"):
        value = kwargs.get("value", args[3] if len(args) > 3 else 1)
        return 2 if value in (1, 1.0, None) else 3
    return POINTWISE_COST.get(base, 1)


def pointwise_formula(name: str) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, pointwise_cost(name, args, kwargs) * out_numel(out))

    return f


def foreach_formula(name: str) -> Formula:
    """`_foreach_<op>(list, ...)`: the pointwise cost of <op> over every tensor of the list."""
    base = name[len("_foreach_") :]
    reduction = base.rstrip("_") in ("norm", "max")

    def f(args, kwargs, out, opts) -> Cost:
        lst = args[0]
        n = numel_of(lst)
        if reduction:
            return Cost(0, (2 if base.startswith("norm") else 1) * n)
        # the per-element cost (alpha/value scalars) is read off the first call of the list
        return Cost(0, pointwise_cost(base, [None, *args[1:]], kwargs) * n)

    return f


# ATen name (and its in-place twin) -> formula
FUSED_OPTIMIZER_FORMULAS: dict[str, Formula] = {}
for _name, _per in FUSED_OPTIMIZER_COST.items():
    FUSED_OPTIMIZER_FORMULAS[_name] = fused_optimizer(_per)
    FUSED_OPTIMIZER_FORMULAS[_name + "_"] = fused_optimizer(_per)
