"""The paper's Figure 1 as the simulation draws it: performance against sample size and against
solver computation, for the oracle, the flexible and the regularised flexible model."""

from __future__ import annotations

from pathlib import Path

from harness.analysis.simulation.config import MODELS, SimulationResult
from harness.present.figure_files import save_figure


def simulation_footer(result: SimulationResult) -> str:
    """No device and no measured energy: the figure shows simulated data, from this process."""
    return f"simulated data, no device measured: {result.config.describe()}"


def plot_simulation(result: SimulationResult, path_stem: str) -> list[str]:
    """Figure 1: (a) performance against sample size, (b) performance against computation."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5))
    ax1, ax2 = fig.subplots(1, 2)
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
    paths = save_figure(fig, Path(path_stem), simulation_footer(result), wspace=0.3)
    return [str(p) for p in paths]
