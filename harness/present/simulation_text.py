"""`harness simulate` as console text: the process, the curves, the crossovers and the time."""

from __future__ import annotations

from collections.abc import Sequence

from harness.analysis.simulation.config import SimulationResult
from harness.analysis.simulation.tables import (
    CURVE_COLUMNS,
    CURVE_HEADERS,
    crossover_rows,
    curve_rows,
)
from harness.console import format_table

MEASURES_NOTE = (
    "Performance = -log10 of the mean normalised MSE against the optimal predictor; "
    "solver FLOPs by formula for fitting real data of that size (lasso: measured FISTA "
    "iterations); '-' = OLS undefined (n <= features + 1)."
)


def simulation_text(result: SimulationResult, plots: Sequence[str] = ()) -> str:
    """The whole console output of one simulation run."""
    config = result.config
    lines = [f"Process: {config.describe()}.", MEASURES_NOTE, ""]
    lines.append(format_table(curve_rows(result), CURVE_COLUMNS, CURVE_HEADERS))
    if result.crossovers:
        lines += [
            "",
            f"Sample size at which each flexible model reaches the oracle's performance at "
            f"n = {config.reference_n} (target {result.target:.3f}, exact; simulated oracle "
            f"{result.reference.performance:.3f}):",
            format_table(crossover_rows(result)),
        ]
    per = result.seconds_per_size
    if per:
        lines.append(
            f"\n{config.sims} simulations per size: {sum(per.values()) / len(per):.2f} s per "
            f"size on average; {result.seconds:.1f} s in all."
        )
    lines += [f"wrote {p}" for p in plots]
    return "\n".join(lines)
