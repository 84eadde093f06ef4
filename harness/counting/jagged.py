"""Jagged nested tensors (`torch.nested`, layout=torch.jagged): costed by their real lengths.

A jagged tensor's shape carries a symbolic ragged dimension, which no formula can multiply.
The call is costed once per example instead: every jagged argument and result becomes a meta
tensor of that example's shape (batch 1, the ragged dimension at its real length), a dense
argument with the same leading batch becomes its one-example slice, and the costs add up. The
lengths come from the offsets, so they must be real (CPU or CUDA) tensors.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._pytree import tree_flatten, tree_map

from harness.counting.formulas import Cost, Formula, FormulaOptions


def is_jagged(t: Any) -> bool:
    """A nested tensor: jagged (a ragged dimension) or strided (`NestedTensorImpl`)."""
    return isinstance(t, torch.Tensor) and (
        getattr(t, "_ragged_idx", None) is not None or bool(getattr(t, "is_nested", False))
    )


def has_jagged(args: Any, kwargs: dict, out: Any) -> bool:
    """Whether a call touches a nested tensor (arguments one list deep, keywords, results);
    cheap, as it runs for every counted call."""

    def any_jagged(xs: Any) -> bool:
        for x in xs:
            if isinstance(x, torch.Tensor):
                if x.is_nested:
                    return True
            elif isinstance(x, (list, tuple)) and any_jagged(x):
                return True
        return False

    outs = out if isinstance(out, (list, tuple)) else (out,)
    return any_jagged(args) or any_jagged(kwargs.values()) or any_jagged(outs)


def component_shapes(t: Any) -> list[tuple[int, ...]]:
    """Each example's shape, batch dimension 1 kept: from a jagged tensor's offsets, or from a
    strided nested tensor's per-component sizes."""
    if getattr(t, "_ragged_idx", None) is not None:
        offsets = t.offsets()
        if offsets.device.type == "meta":
            raise ValueError("a jagged tensor on the meta device has no lengths to count")
        lengths = t.lengths()
        lens = (lengths if lengths is not None else offsets.diff()).tolist()
        dims = [int(s) if i != t._ragged_idx else None for i, s in enumerate(t.shape) if i]
        return [(1, *(int(n) if d is None else d for d in dims)) for n in lens]
    sizes = t._nested_tensor_size()
    if sizes.device.type == "meta":
        raise ValueError("a nested tensor on the meta device has no sizes to count")
    return [(1, *(int(x) for x in row)) for row in sizes.tolist()]


def jagged_cost(formula: Formula, args: Any, kwargs: dict, out: Any, opts: FormulaOptions) -> Cost:
    """The call's cost summed over its examples (see the module docstring)."""
    shapes: dict[int, list[tuple[int, ...]]] = {}
    for x in tree_flatten((args, kwargs, out))[0]:
        if is_jagged(x):
            shapes[id(x)] = component_shapes(x)
    batch = len(next(iter(shapes.values())))

    def example(t: Any, i: int) -> Any:
        if id(t) in shapes and isinstance(t, torch.Tensor):
            return torch.empty(shapes[id(t)][i], dtype=t.dtype, device="meta")
        if isinstance(t, torch.Tensor) and t.dim() >= 1 and t.shape[0] == batch and batch > 1:
            return torch.empty((1, *t.shape[1:]), dtype=t.dtype, device="meta")
        return t

    macs = other = 0
    tag = None
    for i in range(batch):
        a, k, o = tree_map(lambda t, i=i: example(t, i), (args, kwargs, out))
        c = formula(a, k, o, opts)
        macs, other, tag = macs + c.macs, other + c.other, c.tag or tag
    return Cost(macs, other, tag)
