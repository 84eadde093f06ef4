"""The numerical kernels: batched FISTA for the lasso, the power method for its step size, and a
Bartlett factor for drawing X'X from its Wishart law without forming X."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def power_max_eig(
    apply: Callable[[np.ndarray], np.ndarray], dim: int, rng: np.random.Generator, iters: int = 60
) -> float:
    """The largest eigenvalue of a symmetric operator by power iteration (FISTA's step size)."""
    v = rng.standard_normal(dim)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        w = apply(v)
        lam = float(np.linalg.norm(w))
        v = w / lam
    return lam


def lasso_fista(
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray],
    lipschitz: float,
    lam: float,
    shape: tuple[int, int],
    tol: float,
    max_iter: int,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched FISTA with adaptive restart for min f(b) + lam ||b||_1, one column per problem.

    `grad(Z, cols)` returns the gradient of the smooth part at Z for the problems `cols`.
    A column stops when no coefficient moves by `tol` or more in an iteration; converged
    columns leave the batch. Returns the solutions and the iterations each column took.
    """
    q, g = shape
    out = np.zeros((q, g), dtype=dtype)
    iters = np.full(g, max_iter, dtype=float)
    active = np.arange(g)
    b = np.zeros((q, g), dtype=dtype)
    z = np.zeros((q, g), dtype=dtype)
    t = np.ones(g)
    step, thr = 1.0 / lipschitz, lam / lipschitz
    for it in range(1, max_iter + 1):
        u = grad(z, active)
        u *= -step
        u += z  # u = z - step * grad
        b_new = np.clip(u, -thr, thr)
        np.subtract(u, b_new, out=b_new)  # soft threshold: u - clip(u, -thr, thr)
        diff = np.subtract(b_new, b, out=b)  # b is not needed after this
        # adaptive restart (O'Donoghue & Candes 2015): no momentum where it points uphill
        np.subtract(z, b_new, out=u)
        restart = np.einsum("ij,ij->j", u, diff) > 0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        mom = np.where(restart, 0.0, (t - 1.0) / t_new)
        t_new = np.where(restart, 1.0, t_new)
        done = np.abs(diff).max(axis=0) < tol
        if done.any():
            out[:, active[done]] = b_new[:, done]
            iters[active[done]] = it
            keep = ~done
            active, b_new, diff = active[keep], b_new[:, keep], diff[:, keep]
            mom, t_new = mom[keep], t_new[keep]
            if active.size == 0:
                return out, iters
        z = diff
        z *= mom
        z += b_new  # z = b_new + mom * (b_new - b)
        b, t = b_new, t_new
    out[:, active] = b
    return out, iters


def bartlett(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Lower-triangular A with A A' ~ Wishart(n, I_dim) (Bartlett decomposition)."""
    a = np.tril(rng.standard_normal((dim, dim)), -1)
    a[np.diag_indices(dim)] = np.sqrt(rng.chisquare(n - np.arange(dim)))
    return a
