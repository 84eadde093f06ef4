"""Each model's loss at one sample size, averaged over the simulations, and the exact
expectations the OLS models have (used as targets and checks)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from harness.analysis.simulation.config import MODELS, ModelPoint, SimulationConfig
from harness.analysis.simulation.flops import lasso_flops, ols_flops, ridge_flops
from harness.analysis.simulation.solvers import bartlett, lasso_fista, power_max_eig
from harness.errors import ConfigurationError


def ols_loss_draws(
    config: SimulationConfig, n: int, q: int, rng: np.random.Generator
) -> np.ndarray:
    """Normalised losses of OLS on q isotropic Gaussian features, one per simulation.

    Given X, b_hat - beta ~ N(0, sd^2 (X'X)^-1), so ||b_hat - beta||^2 = sd^2 xi' W^-1 xi with
    W = X'X ~ Wishart(n, I_q). W is rotation invariant, so this is sd^2 ||xi||^2 (W^-1)_11 and
    1 / (W^-1)_11 ~ chi2(n - q + 1), independent of ||xi||^2 ~ chi2(q): an exact draw of the
    loss of a fresh design and noise, at O(1) cost (tests check it against explicit fits).
    """
    num = rng.chisquare(q, config.sims)
    den = rng.chisquare(n - q + 1, config.sims)
    return config.noise_sd**2 * num / den / config.signal


def _solve_from_gram(
    config: SimulationConfig,
    n: int,
    beta: np.ndarray,
    rng_x: np.random.Generator,
    rng_noise: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The penalised fit for n >= P without forming X: X'X = A A' (Bartlett), X'noise = sd A xi;
    A[:p, p:] = 0 since A is triangular. Returns the coefficients and the FISTA iterations."""
    p, big_p, sd = config.true_features, config.candidate_features, config.noise_sd
    lasso = config.penalty == "lasso"
    dt = np.float32 if lasso else np.float64
    a = bartlett(rng_x, n, big_p)
    xi = rng_noise.standard_normal((big_p, beta.shape[1]))
    a_dt = a.astype(dt, copy=False)
    gram = (a_dt @ a_dt.T).astype(np.float64)
    xty = a[:, :p] @ (a[:p, :p].T @ beta) + sd * (a @ xi)
    if not lasso:
        gram[np.diag_indices(big_p)] += config.ridge_alpha
        return cho_solve(cho_factor(gram, lower=True), xty), None
    g_n, c_n = (gram / n).astype(dt), (xty / n).astype(dt)
    lip = 1.1 * power_max_eig(lambda v, m=g_n: m @ v, big_p, rng_x)
    return lasso_fista(
        lambda z, cols, m=g_n, c=c_n: m @ z - c[:, cols],
        lip,
        config.lasso_lambda(n),
        (big_p, beta.shape[1]),
        config.tol,
        config.max_iter,
        dt,
    )


def _solve_from_design(
    config: SimulationConfig,
    n: int,
    beta: np.ndarray,
    rng_x: np.random.Generator,
    rng_noise: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The penalised fit for n < P on an explicit design X (ridge in its dual form).
    Returns the coefficients and the FISTA iterations (None for ridge)."""
    p, big_p, sd, g = (
        config.true_features,
        config.candidate_features,
        config.noise_sd,
        beta.shape[1],
    )
    lasso = config.penalty == "lasso"
    dt = np.float32 if lasso else np.float64
    x = rng_x.standard_normal((n, big_p), dtype=dt)
    y = (x[:, :p] @ beta.astype(dt)) + dt(sd) * rng_noise.standard_normal((n, g), dtype=dt)
    if not lasso:
        k = x @ x.T
        k[np.diag_indices(n)] += config.ridge_alpha
        return x.T @ cho_solve(cho_factor(k, lower=True), y), None
    lip = 1.0001 * float(np.linalg.eigvalsh(x @ x.T)[-1]) / n
    xt = np.ascontiguousarray(x.T)
    return lasso_fista(
        lambda z, cols, x=x, xt=xt, y=y: xt @ ((x @ z - y[:, cols]) / dt(n)),
        lip,
        config.lasso_lambda(n),
        (big_p, g),
        config.tol,
        config.max_iter,
        dt,
    )


def _regularised_losses(config: SimulationConfig, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-group normalised losses of the penalised flexible model, and FISTA iterations.

    Streams are seeded by (seed, group, stream) and not by n, so for n < P the data at n are the
    first n rows of the data at any larger n (nested samples, as in a learning curve); the
    Bartlett path for n >= P shares the signs and noise directions. The lasso runs in float32
    (its tolerance is far above float32 rounding); ridge in float64.
    """
    p, big_p = config.true_features, config.candidate_features
    solve = _solve_from_gram if n >= big_p else _solve_from_design
    groups: list[np.ndarray] = []
    iters: list[np.ndarray] = []
    for gi, start in enumerate(range(0, config.sims, config.group_size)):
        g = min(config.group_size, config.sims - start)
        rng_sign, rng_x, rng_noise = (
            np.random.default_rng([config.seed, gi, stream]) for stream in range(3)
        )
        beta = config.coefficient * rng_sign.choice([-1.0, 1.0], size=(p, g))
        full = np.zeros((big_p, g))
        full[:p] = beta
        b, it = solve(config, n, beta, rng_x, rng_noise)
        if it is not None:
            iters.append(it)
        groups.append(np.sum((b.astype(np.float64) - full) ** 2, axis=0) / config.signal)
    return groups, np.concatenate(iters) if iters else np.array([])


def simulate_size(
    config: SimulationConfig, n: int, models: Iterable[str] = MODELS
) -> list[ModelPoint]:
    """Every requested model at sample size n, averaged over config.sims simulations."""
    p, big_p = config.true_features, config.candidate_features
    out = []
    for m in models:
        q = p if m == "oracle" else big_p
        if m in ("oracle", "flexible"):
            if n <= q + 1:  # OLS undefined (n < q) or of infinite expected loss
                out.append(ModelPoint(m, n, None, None, q, None))
                continue
            rng = np.random.default_rng([config.seed, n, 1_000_003 if m == "oracle" else 1_000_033])
            vals = ols_loss_draws(config, n, q, rng)
            se = float(vals.std(ddof=1) / math.sqrt(vals.size))
            out.append(ModelPoint(m, n, float(vals.mean()), se, q, ols_flops(n, q)))
        elif m == "regularised":
            groups, iters = _regularised_losses(config, n)
            means = np.array([v.mean() for v in groups])
            weights = np.array([v.size for v in groups], dtype=float)
            mean = float(np.average(means, weights=weights))
            # designs are shared within a group, so the groups are the independent units
            se = float(means.std(ddof=1) / math.sqrt(means.size)) if means.size > 1 else None
            lasso = config.penalty == "lasso"
            mean_iters = float(iters.mean()) if lasso else None
            flops = lasso_flops(n, q, mean_iters) if lasso else ridge_flops(n, q)
            out.append(ModelPoint(m, n, mean, se, q, flops, mean_iters))
        else:
            raise ConfigurationError(f"unknown model '{m}' (use one of: {', '.join(MODELS)})")
    return out


def analytic_ols_nmse(config: SimulationConfig, n: int, q: int) -> float:
    """E||b_hat - beta||^2 / ||beta||^2 for OLS on q isotropic Gaussian features: sd^2 q/(n-q-1)."""
    return config.noise_sd**2 * q / (n - q - 1) / config.signal


def analytic_flexible_crossover(config: SimulationConfig) -> float:
    """n at which OLS on P features matches OLS on p features at n0: P + 1 + P (n0-p-1)/p."""
    p, big_p, n0 = config.true_features, config.candidate_features, config.reference_n
    return big_p + 1 + big_p * (n0 - p - 1) / p
