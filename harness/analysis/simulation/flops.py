"""Solver FLOPs by formula: what fitting real data of a given size with each algorithm costs,
not what the simulation spends."""

from __future__ import annotations


def ols_flops(n: int, q: int) -> float:
    """Normal equations (X'X, X'y), Cholesky, two triangular solves."""
    return 2.0 * n * q * q + 2.0 * n * q + q**3 / 3.0 + 2.0 * q * q


def lasso_flops(n: int, q: int, iterations: float) -> float:
    """FISTA, the cheaper of its two forms: on X directly (4nq per iteration) or on the Gram
    matrix (2nq^2 to form it, then 2q^2 per iteration); plus the soft-threshold/momentum."""
    direct = iterations * (4.0 * n * q + 2.0 * n + 6.0 * q)
    gram = 2.0 * n * q * q + 2.0 * n * q + iterations * (2.0 * q * q + 6.0 * q)
    return min(direct, gram)


def ridge_flops(n: int, q: int) -> float:
    """Primal (n >= q: q x q system) or dual (n < q: n x n system) closed form."""
    if n >= q:
        return ols_flops(n, q) + q
    return 2.0 * n * n * q + n**3 / 3.0 + 2.0 * n * n + 2.0 * n * q + n
