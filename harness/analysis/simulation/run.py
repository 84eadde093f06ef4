"""The whole experiment: the curves over a grid of sample sizes and the sample sizes at which
each flexible model reaches the oracle's performance at the reference size."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from harness.analysis.simulation.config import (
    PAPER_CROSSOVERS,
    Crossover,
    ModelPoint,
    SimulationConfig,
    SimulationResult,
)
from harness.analysis.simulation.estimators import (
    analytic_flexible_crossover,
    analytic_ols_nmse,
    simulate_size,
)
from harness.errors import ConfigurationError


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
    """A log grid from p + 2 to 5 P, with the reference size and P + 2 (where OLS starts)."""
    p, big_p = config.true_features, config.candidate_features
    grid = np.geomspace(p + 2, 5 * big_p, count).round().astype(int)
    return sorted({*grid.tolist(), config.reference_n, big_p + 2})


def run(
    config: SimulationConfig,
    sizes: Sequence[int] | None = None,
    with_crossovers: bool = True,
    rel_tol: float = 0.01,
    progress: Callable[[list[int]], Iterable[int]] | None = None,
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
