"""Products with no matmul of their own: bilinear forms (`_trilinear`) and the in-place
matmul variants (`addmm_`, `baddbmm_`, ...), which some backward kernels call (conv_tbc)."""

from __future__ import annotations

from collections.abc import Sequence

from harness.counting.formulas.common import Cost, Formula, prod, shape_of
from harness.counting.formulas.matmul import MATMUL_FORMULAS


def _expanded(shape: Sequence[int], dims: Sequence[int]) -> list[int]:
    """`shape` with a size-1 dimension inserted at each of `dims` (ascending), as ATen does."""
    out = list(shape)
    for d in sorted(int(x) for x in dims):
        out.insert(d, 1)
    return out


def trilinear_macs(
    s1: Sequence[int],
    s2: Sequence[int],
    s3: Sequence[int],
    expand1: Sequence[int],
    expand2: Sequence[int],
    expand3: Sequence[int],
    sumdim: Sequence[int],
) -> int:
    """MACs of `aten._trilinear`, evaluated as ATen does: two pairwise products.

    The three operands are unsqueezed at their `expand` dimensions to one rank. First
    i1 * i2, one multiply-add per element of their broadcast shape, summing there every dimension
    of `sumdim` that i3 does not carry (size 1 in i3); then that result * i3, one multiply-add per
    element of their broadcast shape. For `nn.Bilinear` (x1: N x I, W: O x I x J, x2: N x J):
    N*O*I*J for x1 . W (I summed), then N*O*J for the product with x2 (J summed), so
    N*O*J*(I + 1) MACs.
    """
    a = _expanded(s1, expand1)
    b = _expanded(s2, expand2)
    c = _expanded(s3, expand3)
    first = [max(x, y) for x, y in zip(a, b, strict=True)]
    summed = {int(d) for d in sumdim}
    partial = [1 if (i in summed and c[i] == 1) else n for i, n in enumerate(first)]
    second = [max(x, y) for x, y in zip(partial, c, strict=True)]
    return prod(first) + prod(second)


def _trilinear(args, kwargs, out, opts) -> Cost:
    i1, i2, i3, e1, e2, e3, sumdim = args[:7]
    return Cost(trilinear_macs(shape_of(i1), shape_of(i2), shape_of(i3), e1, e2, e3, sumdim))


def _inplace(name: str) -> Formula:
    """The in-place variant costs what its out-of-place op costs (same arguments)."""
    return MATMUL_FORMULAS[name]


# ATen name -> formula (MACs)
PRODUCT_FORMULAS: dict[str, Formula] = {
    "_trilinear": _trilinear,
    "addmm_": _inplace("addmm"),
    "baddbmm_": _inplace("baddbmm"),
    "addbmm_": _inplace("addbmm"),
    "addmv_": _inplace("addmv"),
    "addr_": _inplace("addr"),
}
