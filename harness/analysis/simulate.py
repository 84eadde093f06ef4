"""The paper's Figure 1: why flexible models need far more data (and computation).

Data-generating process (harness choice; the paper gives only the outline):
  y = X beta + noise, X with i.i.d. N(0, 1) entries over `candidate_features` P columns, of
  which the first `true_features` p carry coefficients of +-`coefficient` (random signs) and
  the rest are zero; noise ~ N(0, noise_sd^2).
Models:
  oracle       OLS on the p true features only;
  flexible     OLS on all P candidate features (defined for n > P + 1);
  regularised  the flexible model with a penalty: lasso, objective
               (1/2n)||y - Xb||^2 + lam ||b||_1, lam = penalty_scale * noise_sd * sqrt(2 ln P / n)
               (the universal threshold with the noise level known), solved by batched FISTA
               with adaptive restart to a tolerance of `tol` on the coefficients; or ridge,
               (X'X + alpha I) b = X'y with alpha = penalty_scale * noise_sd^2 P / ||beta||^2
               (the Bayes choice for coefficients spread evenly over P features), closed form.
Performance = -log10 of the mean over simulations of the normalised MSE against the optimal
predictor, E_x[(x'b_hat - x'beta)^2] / E_x[(x'beta)^2] = ||b_hat - beta||^2 / ||beta||^2
(exact for this isotropic design, no test set needed).
Computation = parameters x data points, and solver FLOPs by formula for the algorithm used
(normal equations + Cholesky; FISTA with the measured mean iteration count; ridge primal or
dual), i.e. what fitting real data of that size would cost, not what this simulation spends.

Vectorisation:
* OLS (oracle, flexible): each simulation's loss is drawn from its exact distribution,
  sd^2 chi2(q) / chi2(n - q + 1) / ||beta||^2 (see ols_loss_draws), so every simulation has its
  own design and noise at O(1) cost.
* Penalised model: simulations run in groups of `group_size` that share one design matrix X
  (independent signs and noise per simulation), so every solve is a matrix-matrix product; the
  standard error treats the groups as the independent units. For n >= P the design is never
  formed: X'X is drawn from its Wishart law by Bartlett's decomposition, X'X = A A' with A
  lower triangular, and X'noise ~ N(0, sd^2 X'X) as sd * A xi, exact in distribution.
Random numbers come from numpy's default_rng seeded with (seed, n, stream): deterministic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from harness.errors import ConfigurationError

MODELS = ("oracle", "flexible", "regularised")
PENALTIES = ("lasso", "ridge")
PAPER_CROSSOVERS = {"flexible": 1500, "regularised": 175}  # Thompson et al. 2020, Figure 1


@dataclass(frozen=True)
class SimulationConfig:
    """The data-generating process, the penalty, and how many simulations to average."""

    true_features: int = 10
    candidate_features: int = 1000
    coefficient: float = 1.0
    noise_sd: float = 1.0
    penalty: str = "lasso"
    penalty_scale: float = 1.0
    sims: int = 1000
    group_size: int = 50
    seed: int = 0
    reference_n: int = 15
    tol: float = 1e-4
    max_iter: int = 5000

    def __post_init__(self) -> None:
        p, big_p = self.true_features, self.candidate_features
        if p < 1 or big_p <= p:
            raise ConfigurationError(
                f"need 1 <= true features < candidate features (got {p} and {big_p})"
            )
        if self.penalty not in PENALTIES:
            raise ConfigurationError(
                f"unknown penalty '{self.penalty}' (use one of: {', '.join(PENALTIES)})"
            )
        if self.sims < 2 or self.group_size < 1:
            raise ConfigurationError("need at least 2 simulations and a group size of 1 or more")
        if not (self.noise_sd > 0 and self.coefficient > 0 and self.penalty_scale > 0):
            raise ConfigurationError("noise, coefficient and penalty scale must be positive")
        if self.reference_n <= p + 1:
            raise ConfigurationError(
                f"the oracle's reference size must exceed true features + 1 = {p + 1}"
            )

    @property
    def signal(self) -> float:
        """||beta||^2, the variance of the optimal predictor."""
        return self.true_features * self.coefficient**2

    def lasso_lambda(self, n: int) -> float:
        return (
            self.penalty_scale
            * self.noise_sd
            * math.sqrt(2 * math.log(self.candidate_features) / n)
        )

    @property
    def ridge_alpha(self) -> float:
        return self.penalty_scale * self.noise_sd**2 * self.candidate_features / self.signal

    def describe(self) -> str:
        pen = (
            f"lasso, lambda = {self.penalty_scale:g} x sd x sqrt(2 ln P / n)"
            if self.penalty == "lasso"
            else f"ridge, alpha = {self.penalty_scale:g} x sd^2 x P / ||beta||^2 = {self.ridge_alpha:g}"
        )
        return (
            f"y = X beta + N(0, {self.noise_sd:g}^2); X ~ N(0, 1) over P = {self.candidate_features} "
            f"candidate features, p = {self.true_features} true ones with coefficients "
            f"+-{self.coefficient:g}; {pen}; {self.sims} simulations per size "
            f"(groups of {self.group_size} share a design), seed {self.seed}"
        )


@dataclass(frozen=True)
class ModelPoint:
    """One model at one sample size, averaged over the simulations."""

    model: str
    n: int
    nmse: float | None  # mean normalised MSE; None where the model is undefined
    nmse_se: float | None
    parameters: int
    solver_flops: float | None
    iterations: float | None = None  # mean FISTA iterations (lasso only)

    @property
    def performance(self) -> float | None:
        return -math.log10(self.nmse) if self.nmse else None

    @property
    def param_data(self) -> int:
        """The paper's computation measure: parameters x data points."""
        return self.parameters * self.n


@dataclass(frozen=True)
class Crossover:
    """The sample size at which a flexible model first matches the oracle at reference_n."""

    model: str
    target_performance: float
    n: int | None  # None: not reached by n_max
    n_max: int
    analytic_n: float | None = None  # flexible OLS: P + 1 + P (n0 - p - 1) / p
    paper_n: int | None = None


@dataclass(frozen=True)
class SimulationResult:
    config: SimulationConfig
    points: tuple[ModelPoint, ...]
    reference: ModelPoint  # the oracle at reference_n, simulated
    target: float  # the oracle's expected performance at reference_n (exact for OLS)
    crossovers: tuple[Crossover, ...]
    seconds: float
    seconds_per_size: dict[int, float] = field(default_factory=dict)

    def curve(self, model: str) -> list[ModelPoint]:
        return [p for p in self.points if p.model == model]


# --- FLOP formulas ----------------------------------------------------------------------------


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


# --- solvers ----------------------------------------------------------------------------------


def _power_max_eig(apply, dim: int, rng: np.random.Generator, iters: int = 60) -> float:
    v = rng.standard_normal(dim)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        w = apply(v)
        lam = float(np.linalg.norm(w))
        v = w / lam
    return lam


def lasso_fista(
    grad,
    lipschitz: float,
    lam: float,
    shape: tuple[int, int],
    tol: float,
    max_iter: int,
    dtype=np.float64,
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


def _bartlett(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Lower-triangular A with A A' ~ Wishart(n, I_dim) (Bartlett decomposition)."""
    a = np.tril(rng.standard_normal((dim, dim)), -1)
    a[np.diag_indices(dim)] = np.sqrt(rng.chisquare(n - np.arange(dim)))
    return a


# --- one sample size --------------------------------------------------------------------------


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


def _regularised_losses(config: SimulationConfig, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-group normalised losses of the penalised flexible model, and FISTA iterations.

    Streams are seeded by (seed, group, stream) and not by n, so for n < P the data at n are the
    first n rows of the data at any larger n (nested samples, as in a learning curve); the
    Bartlett path for n >= P shares the signs and noise directions. The lasso runs in float32
    (its tolerance is far above float32 rounding); ridge in float64.
    """
    p, big_p, sd = config.true_features, config.candidate_features, config.noise_sd
    lam, alpha = config.lasso_lambda(n), config.ridge_alpha
    lasso = config.penalty == "lasso"
    dt = np.float32 if lasso else np.float64
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
        if n >= big_p:
            # X'X = A A' (Bartlett); X'noise = sd A xi; A[:p, p:] = 0 since A is triangular.
            a = _bartlett(rng_x, n, big_p)
            xi = rng_noise.standard_normal((big_p, g))
            a_dt = a.astype(dt, copy=False)
            gram = (a_dt @ a_dt.T).astype(np.float64)
            xty = a[:, :p] @ (a[:p, :p].T @ beta) + sd * (a @ xi)
            if not lasso:
                gram[np.diag_indices(big_p)] += alpha
                b = cho_solve(cho_factor(gram, lower=True), xty)
            else:
                g_n, c_n = (gram / n).astype(dt), (xty / n).astype(dt)
                lip = 1.1 * _power_max_eig(lambda v, m=g_n: m @ v, big_p, rng_x)
                b, it = lasso_fista(
                    lambda z, cols, m=g_n, c=c_n: m @ z - c[:, cols],
                    lip,
                    lam,
                    (big_p, g),
                    config.tol,
                    config.max_iter,
                    dt,
                )
                iters.append(it)
        else:
            x = rng_x.standard_normal((n, big_p), dtype=dt)
            y = (x[:, :p] @ beta.astype(dt)) + dt(sd) * rng_noise.standard_normal((n, g), dtype=dt)
            if not lasso:
                k = x @ x.T
                k[np.diag_indices(n)] += alpha
                b = x.T @ cho_solve(cho_factor(k, lower=True), y)
            else:
                lip = 1.0001 * float(np.linalg.eigvalsh(x @ x.T)[-1]) / n
                xt = np.ascontiguousarray(x.T)
                b, it = lasso_fista(
                    lambda z, cols, x=x, xt=xt, y=y: xt @ ((x @ z - y[:, cols]) / dt(n)),
                    lip,
                    lam,
                    (big_p, g),
                    config.tol,
                    config.max_iter,
                    dt,
                )
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


# --- crossovers and the whole experiment ------------------------------------------------------


def analytic_ols_nmse(config: SimulationConfig, n: int, q: int) -> float:
    """E||b_hat - beta||^2 / ||beta||^2 for OLS on q isotropic Gaussian features: sd^2 q/(n-q-1)."""
    return config.noise_sd**2 * q / (n - q - 1) / config.signal


def analytic_flexible_crossover(config: SimulationConfig) -> float:
    """n at which OLS on P features matches OLS on p features at n0: P + 1 + P (n0-p-1)/p."""
    p, big_p, n0 = config.true_features, config.candidate_features, config.reference_n
    return big_p + 1 + big_p * (n0 - p - 1) / p


def crossover(
    config: SimulationConfig,
    model: str,
    target: float,
    n_min: int,
    n_max: int,
    n_first: int | None = None,
    rel_tol: float = 0.0,
) -> Crossover:
    """Smallest n in [n_min, n_max] at which `model` reaches performance `target`.

    Brackets from `n_first` (halving down on success, doubling up on failure), then bisects
    until the bracket is within rel_tol of n (0: to the integer). Assumes performance rises
    with n; Monte Carlo noise makes the answer good to about its own standard error.
    """
    cache: dict[int, float] = {}

    def ok(n: int) -> bool:
        if n not in cache:
            pt = simulate_size(config, n, (model,))[0]
            cache[n] = pt.performance if pt.performance is not None else -math.inf
        return cache[n] >= target

    n = max(n_min, min(n_first or n_min, n_max))
    if ok(n):
        lo, hi = None, n
        while hi > n_min:
            cand = max(n_min, hi // 2)
            if not ok(cand):
                lo = cand
                break
            hi = cand
        if lo is None:
            return Crossover(model, target, n_min, n_max)
    else:
        lo, hi = n, None
        while hi is None:
            cand = min(lo * 2, n_max)
            if ok(cand):
                hi = cand
            elif cand >= n_max:
                return Crossover(model, target, None, n_max)
            else:
                lo = cand
    while hi - lo > max(1, rel_tol * lo):
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return Crossover(model, target, hi, n_max)


def default_sizes(config: SimulationConfig, count: int = 22) -> list[int]:
    p, big_p = config.true_features, config.candidate_features
    grid = np.geomspace(p + 2, 5 * big_p, count).round().astype(int)
    return sorted({*grid.tolist(), config.reference_n, big_p + 2})


def run(
    config: SimulationConfig,
    sizes: Sequence[int] | None = None,
    with_crossovers: bool = True,
    rel_tol: float = 0.01,
    progress=None,
) -> SimulationResult:
    """The curves over `sizes` (default_sizes when None) and the crossover sample sizes.

    The crossover target is the oracle's expected performance at reference_n,
    -log10(sd^2 p / (n0 - p - 1) / ||beta||^2), exact for OLS, so Monte Carlo noise in the
    reference does not move it (the simulated reference is reported beside it). The flexible
    OLS crossover is found to the integer; the penalised one to rel_tol (each evaluation there
    is a full set of simulations).
    """
    t0 = time.perf_counter()
    sizes = list(default_sizes(config) if sizes is None else sizes)
    if any(n < 2 for n in sizes):
        raise ConfigurationError("sample sizes must be at least 2")
    points: list[ModelPoint] = []
    per_size: dict[int, float] = {}
    for n in progress(sizes) if progress else sizes:
        ts = time.perf_counter()
        points.extend(simulate_size(config, n))
        per_size[n] = time.perf_counter() - ts
    p, big_p, n0 = config.true_features, config.candidate_features, config.reference_n
    reference = next((q for q in points if q.model == "oracle" and q.n == n0), None)
    if reference is None:
        reference = simulate_size(config, n0, ("oracle",))[0]
    target = -math.log10(analytic_ols_nmse(config, n0, p))
    crossovers: list[Crossover] = []
    if with_crossovers:
        n_max = 64 * big_p
        flex = crossover(config, "flexible", target, big_p + 2, n_max)
        crossovers.append(
            replace(
                flex,
                analytic_n=analytic_flexible_crossover(config),
                paper_n=PAPER_CROSSOVERS["flexible"],
            )
        )
        reg = crossover(config, "regularised", target, n0, n_max, 4 * n0, rel_tol)
        crossovers.append(replace(reg, paper_n=PAPER_CROSSOVERS["regularised"]))
    return SimulationResult(
        config=config,
        points=tuple(points),
        reference=reference,
        target=target,
        crossovers=tuple(crossovers),
        seconds=time.perf_counter() - t0,
        seconds_per_size=per_size,
    )


# --- presentation -----------------------------------------------------------------------------


def curve_rows(result: SimulationResult) -> list[dict]:
    """One row per sample size: each model's performance, parameters x n and solver FLOPs."""
    by_n: dict[int, dict] = {}
    for pt in result.points:
        row = by_n.setdefault(pt.n, {"n": pt.n})
        row[f"{pt.model}_perf"] = pt.performance
        row[f"{pt.model}_pxn"] = pt.param_data
        row[f"{pt.model}_flops"] = pt.solver_flops
    return [by_n[n] for n in sorted(by_n)]


CURVE_COLUMNS = (
    "n",
    "oracle_perf",
    "flexible_perf",
    "regularised_perf",
    "oracle_flops",
    "flexible_flops",
    "regularised_flops",
    "flexible_pxn",
)
CURVE_HEADERS = {
    "oracle_perf": "oracle -log10 NMSE",
    "flexible_perf": "flexible",
    "regularised_perf": "regularised",
    "oracle_flops": "oracle solver FLOP",
    "flexible_flops": "flexible FLOP",
    "regularised_flops": "regularised FLOP",
    "flexible_pxn": "flexible params x n",
}


def crossover_rows(result: SimulationResult) -> list[dict]:
    rows = []
    for c in result.crossovers:
        rows.append(
            {
                "model": c.model
                + (f" ({result.config.penalty})" if c.model == "regularised" else " (OLS)"),
                "n": c.n if c.n is not None else f"not reached by {c.n_max}",
                "analytic n": round(c.analytic_n) if c.analytic_n else None,
                "paper n": c.paper_n,
                "target -log10 NMSE": round(c.target_performance, 3),
            }
        )
    return rows


def plot(result: SimulationResult, path_stem: str) -> list[str]:
    """Figure 1: (a) performance against sample size, (b) performance against computation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    labels = {
        "oracle": f"oracle (OLS, {result.config.true_features} true features)",
        "flexible": f"flexible (OLS, {result.config.candidate_features} features)",
        "regularised": f"regularised flexible ({result.config.penalty})",
    }
    for i, m in enumerate(MODELS):
        pts = [q for q in result.curve(m) if q.performance is not None]
        if not pts:
            continue
        ns = [q.n for q in pts]
        perf = [q.performance for q in pts]
        ax1.plot(ns, perf, marker="o", ms=3, color=f"C{i}", label=labels[m])
        ax2.plot(
            [q.solver_flops for q in pts], perf, marker="o", ms=3, color=f"C{i}", label=labels[m]
        )
    ref = result.target
    for ax in (ax1, ax2):
        ax.axhline(
            ref, color="grey", ls="--", lw=0.8, label=f"oracle at n = {result.config.reference_n}"
        )
        ax.set_xscale("log")
        ax.set_ylabel("performance = -log10 normalised MSE")
        ax.grid(True, which="both", alpha=0.3)
    for c in result.crossovers:
        if c.n:
            ax1.axvline(c.n, color="C1" if c.model == "flexible" else "C2", ls=":", lw=0.8)
    ax1.set_xlabel("sample size n")
    ax2.set_xlabel("solver FLOPs per fit")
    ax1.set_title("(a) performance vs data")
    ax2.set_title("(b) performance vs computation")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    out = []
    for ext in ("png", "svg"):
        path = f"{path_stem}.{ext}"
        fig.savefig(path, dpi=120)
        out.append(path)
    plt.close(fig)
    return out
