"""The simulation's result as table rows and as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.analysis.simulation.config import SimulationResult


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
    """One row per flexible model: the sample size it needs, beside the analytic and paper ones."""
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


def simulation_json(result: SimulationResult, plots: Sequence[str] = ()) -> dict[str, Any]:
    """The settings, the process in words, the curves and the crossovers as plain JSON values."""
    config = result.config
    return {
        "config": config.__dict__,
        "process": config.describe(),
        "curves": curve_rows(result),
        "reference_simulated": result.reference.performance,
        "target": result.target,
        "crossovers": [c.__dict__ for c in result.crossovers],
        "seconds": result.seconds,
        "plots": list(plots),
    }
