"""The Figure 1 simulation: exact draws, the lasso solver, and who wins at which sample size."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.simulation.config import SimulationConfig
from harness.analysis.simulation.estimators import (
    analytic_flexible_crossover,
    analytic_ols_nmse,
    ols_loss_draws,
    simulate_size,
)
from harness.analysis.simulation.flops import lasso_flops, ols_flops
from harness.analysis.simulation.run import run
from harness.analysis.simulation.solvers import bartlett, lasso_fista
from harness.cli import main
from harness.errors import HarnessError

SMALL = SimulationConfig(true_features=3, candidate_features=40, sims=200, group_size=50)


def perf(points, model):
    return next(p.performance for p in points if p.model == model)


def test_ols_draws_match_explicit_fits():
    """The exact-law shortcut against OLS fitted to explicit random designs (second method)."""
    cfg = SimulationConfig(true_features=4, candidate_features=5, sims=4000, noise_sd=0.7)
    n, q = 12, 4
    draws = ols_loss_draws(cfg, n, q, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((cfg.sims, n, q))
    beta = rng.choice([-1.0, 1.0], size=(cfg.sims, q))
    y = np.einsum("snq,sq->sn", x, beta) + cfg.noise_sd * rng.standard_normal((cfg.sims, n))
    b_hat = np.linalg.solve(x.transpose(0, 2, 1) @ x, np.einsum("snq,sn->sq", x, y)[..., None])[
        ..., 0
    ]
    explicit = np.sum((b_hat - beta) ** 2, axis=1) / cfg.signal
    expected = analytic_ols_nmse(cfg, n, q)  # sd^2 q / (n - q - 1) / ||beta||^2
    for sample in (draws, explicit):
        se = sample.std() / np.sqrt(sample.size)
        assert abs(sample.mean() - expected) < 4 * se
    assert np.median(draws) == pytest.approx(np.median(explicit), rel=0.1)


def test_bartlett_factor_gives_wishart_moments():
    rng = np.random.default_rng(0)
    n, dim = 30, 6
    ws = np.array([(a := bartlett(rng, n, dim)) @ a.T for _ in range(3000)])
    assert ws.mean(axis=0) == pytest.approx(n * np.eye(dim), abs=0.6)
    assert ws[:, 0, 0].var() == pytest.approx(2 * n, rel=0.15)  # chi2(n) variance
    assert ws[:, 0, 1].var() == pytest.approx(n, rel=0.15)


def test_lasso_solution_meets_kkt_conditions():
    rng = np.random.default_rng(0)
    n, q, g, lam = 30, 50, 4, 0.2
    x = rng.standard_normal((n, q))
    y = x[:, :3] @ np.ones((3, g)) + rng.standard_normal((n, g))
    lip = np.linalg.eigvalsh(x @ x.T)[-1] / n
    b, iters = lasso_fista(
        lambda z, cols: x.T @ (x @ z - y[:, cols]) / n, lip, lam, (q, g), 1e-10, 20000
    )
    assert (iters < 20000).all()
    grad = x.T @ (y - x @ b) / n
    assert np.abs(grad).max() <= lam * (1 + 1e-5)
    nz = np.abs(b) > 1e-8
    assert nz.any()
    assert grad[nz] == pytest.approx(lam * np.sign(b[nz]), abs=1e-6)


def test_oracle_beats_flexible_and_regularised_sits_between():
    big_p = SMALL.candidate_features
    pts = simulate_size(SMALL, big_p + 5)
    assert perf(pts, "oracle") > perf(pts, "regularised") > perf(pts, "flexible")
    small = simulate_size(SMALL, 10)
    assert perf(small, "flexible") is None  # OLS on 40 features is undefined at n = 10
    assert perf(small, "oracle") > perf(small, "regularised")


def test_flexible_closes_the_gap_at_large_n():
    res = run(SMALL, sizes=[15, 41, 1600])
    target = res.target
    flex = {p.n: p.performance for p in res.curve("flexible")}
    assert flex[41] is None and flex[1600] > target
    cross = {c.model: c for c in res.crossovers}
    # OLS on P features matches OLS on p at n0 = 15 at P + 1 + P (n0 - p - 1) / p = 187.7
    assert analytic_flexible_crossover(SMALL) == pytest.approx(40 + 1 + 40 * 11 / 3)
    assert cross["flexible"].n == pytest.approx(analytic_flexible_crossover(SMALL), rel=0.1)
    assert cross["regularised"].n < cross["flexible"].n


def test_ridge_is_also_between():
    cfg = SimulationConfig(
        true_features=3, candidate_features=40, sims=200, group_size=50, penalty="ridge"
    )
    pts = simulate_size(cfg, 45)
    assert perf(pts, "oracle") > perf(pts, "regularised") > perf(pts, "flexible")


def test_deterministic_seeding():
    a = simulate_size(SMALL, 30)
    b = simulate_size(SMALL, 30)
    assert [p.nmse for p in a] == [p.nmse for p in b]
    c = simulate_size(SimulationConfig(**{**SMALL.__dict__, "seed": 1}), 30)
    assert [p.nmse for p in a] != [p.nmse for p in c]


def test_computation_measures():
    pts = {p.model: p for p in simulate_size(SMALL, 100)}
    assert pts["oracle"].param_data == 3 * 100 and pts["flexible"].param_data == 40 * 100
    assert pts["oracle"].solver_flops == pytest.approx(ols_flops(100, 3))
    assert ols_flops(100, 3) == pytest.approx(2 * 100 * 9 + 2 * 100 * 3 + 9 + 18)
    reg = pts["regularised"]
    assert reg.iterations > 0
    assert reg.solver_flops == pytest.approx(lasso_flops(100, 40, reg.iterations))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"penalty": "elastic"},
        {"true_features": 5, "candidate_features": 5},
        {"sims": 1},
        {"noise_sd": 0.0},
        {"true_features": 14},  # the oracle at n = 15 needs n > p + 1
    ],
)
def test_bad_configuration(kwargs):
    with pytest.raises(HarnessError):
        SimulationConfig(**kwargs)


def test_cli_simulate(capsys):
    args = ["simulate", "--sims", "40", "--true-features", "3", "--candidate-features", "30"]
    assert main([*args, "--sizes", "10,40,200"]) == 0
    out = capsys.readouterr().out
    assert "flexible (OLS)" in out and "regularised (lasso)" in out
    assert main([*args, "--sizes", "ten"]) == 2
    assert "--sizes" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_simulate_plot(tmp_path):
    args = ["simulate", "--sims", "20", "--true-features", "3", "--candidate-features", "30"]
    assert main([*args, "--sizes", "10,40,200", "--no-crossovers", "--plot", str(tmp_path)]) == 0
    assert (tmp_path / "simulation_lasso.png").stat().st_size > 0
    assert (tmp_path / "simulation_lasso.svg").exists()
