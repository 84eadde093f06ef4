"""Matrix products: mm, addmm, bmm, matmul, linear, einsum, ... (MACs; bias adds are `other`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from harness.counting.formulas.common import Cost, Formula, arg, numel_of, out_numel, prod, shape_of


def mm_macs(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """(m, k) @ (k, n): m*k*n."""
    m, k = a_shape
    k2, n = b_shape
    if k != k2:
        raise ValueError(f"mm: inner dimensions differ ({k} vs {k2})")
    return m * k * n


def bmm_macs(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """(b, m, k) @ (b, k, n): b*m*k*n."""
    b, m, k = a_shape
    _, _, n = b_shape
    return b * m * k * n


def matmul_macs(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """torch.matmul with broadcasting: output elements x the contracted size."""
    if len(a_shape) == 1 and len(b_shape) == 1:
        return a_shape[0]
    k = a_shape[-1]
    a_batch = a_shape[:-2] if len(a_shape) >= 2 else ()
    b_batch = b_shape[:-2] if len(b_shape) >= 2 else ()
    batch = torch.broadcast_shapes(tuple(a_batch), tuple(b_batch))
    m = a_shape[-2] if len(a_shape) >= 2 else 1
    n = b_shape[-1] if len(b_shape) >= 2 else 1
    return prod(batch) * m * n * k


def _mm(args, kwargs, out, opts) -> Cost:
    a, b = args[0], args[1]
    return Cost(mm_macs(shape_of(a), shape_of(b)))


def _addmm(args, kwargs, out, opts) -> Cost:
    a, b = args[1], args[2]
    m, k = shape_of(a)
    n = shape_of(b)[1]
    return Cost(mm_macs((m, k), shape_of(b)), m * n)


def _bmm(args, kwargs, out, opts) -> Cost:
    return Cost(bmm_macs(shape_of(args[0]), shape_of(args[1])))


def _baddbmm(args, kwargs, out, opts) -> Cost:
    macs = bmm_macs(shape_of(args[1]), shape_of(args[2]))
    return Cost(macs, out_numel(out))


def _addbmm(args, kwargs, out, opts) -> Cost:
    macs = bmm_macs(shape_of(args[1]), shape_of(args[2]))
    return Cost(macs, out_numel(out))


def _matmul(args, kwargs, out, opts) -> Cost:
    return Cost(matmul_macs(shape_of(args[0]), shape_of(args[1])))


def _mv(args, kwargs, out, opts) -> Cost:
    return Cost(numel_of(args[0]))


def _addmv(args, kwargs, out, opts) -> Cost:
    return Cost(numel_of(args[1]), out_numel(out))


def _dot(args, kwargs, out, opts) -> Cost:
    return Cost(numel_of(args[0]))


def _outer(args, kwargs, out, opts) -> Cost:
    return Cost(out_numel(out))


def _linear(args, kwargs, out, opts) -> Cost:
    """linear(x, W[out, in], b): every output element is an `in`-long dot product."""
    w = args[1]
    in_features = shape_of(w)[-1]
    bias = arg(args, kwargs, 2, "bias")
    return Cost(out_numel(out) * in_features, out_numel(out) if bias is not None else 0)


def _linear_backward(args, kwargs, out, opts) -> Cost:
    """linear_backward(input, grad_output, weight, output_mask[input, weight, bias])."""
    grad_out, weight, mask = args[1], args[2], args[3]
    one = numel_of(grad_out) * shape_of(weight)[-1]
    macs = one * (int(bool(mask[0])) + int(bool(mask[1])))
    return Cost(macs, numel_of(grad_out) if mask[2] else 0)


def _weight_int8pack_mm(args, kwargs, out, opts) -> Cost:
    return Cost(out_numel(out) * shape_of(args[0])[-1])


def _scaled_mm(args, kwargs, out, opts) -> Cost:
    return Cost(mm_macs(shape_of(args[0]), shape_of(args[1])))


def einsum_macs(equation: str, shapes: Sequence[Sequence[int]]) -> int:
    """Pairwise left-to-right contraction (torch's order without opt_einsum): each step costs
    the product of the sizes of every index of the two operands."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} operands in {equation!r}, {len(shapes)} given")
    used = set(re.sub(r"[^A-Za-z]", "", eq))
    spare = (c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used)
    ell_len = max(
        (
            len(s) - len(t.replace("...", ""))
            for t, s in zip(terms, shapes, strict=True)
            if "..." in t
        ),
        default=0,
    )
    ell = "".join(next(spare) for _ in range(ell_len))
    subs: list[str] = []
    sizes: dict[str, int] = {}
    for t, shape in zip(terms, shapes, strict=True):
        if "..." in t:
            n = len(shape) - len(t.replace("...", ""))
            t = t.replace("...", ell[ell_len - n :] if n else "")
        for c, s in zip(t, shape, strict=True):
            sizes[c] = max(sizes.get(c, 1), int(s))
        subs.append(t)
    if arrow:
        out_subs = rhs.replace("...", ell)
    else:  # implicit output: the ellipsis, then indices seen once, sorted
        joined = "".join(subs)
        out_subs = ell + "".join(
            sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell)
        )
    if len(subs) == 1:
        return 0
    macs = 0
    cur = set(subs[0])
    for i in range(1, len(subs)):
        both = cur | set(subs[i])
        keep = set(out_subs).union(*(set(s) for s in subs[i + 1 :]))
        macs += prod([sizes[c] for c in both])
        cur = {c for c in both if c in keep}
    return macs


def _einsum(args, kwargs, out, opts) -> Cost:
    equation, operands = args[0], args[1]
    return Cost(einsum_macs(equation, [shape_of(t) for t in operands]))


# ATen name -> formula
MATMUL_FORMULAS: dict[str, Formula] = {
    "mm": _mm,
    "addmm": _addmm,
    "_addmm_activation": _addmm,
    "bmm": _bmm,
    "baddbmm": _baddbmm,
    "addbmm": _addbmm,
    "matmul": _matmul,
    "linear": _linear,
    "mkldnn_linear": _linear,
    "linear_backward": _linear_backward,
    "mkldnn_linear_backward": _linear_backward,
    "einsum": _einsum,
    "mv": _mv,
    "addmv": _addmv,
    "dot": _dot,
    "vdot": _dot,
    "outer": _outer,
    "ger": _outer,
    "addr": _outer,
    "_scaled_mm": _scaled_mm,
    "_int_mm": _mm,
    "_weight_int8pack_mm": _weight_int8pack_mm,
}
