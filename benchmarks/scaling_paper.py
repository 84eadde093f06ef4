"""Reproduce the paper's regression figures and Figure 1 crossovers from the published points.

Prints k (= 1/slope of performance on compute) with its 95% CI for every benchmark and compute
measure, the extrapolation table (Today / Target 1 / Target 2), and the sample sizes at which
the flexible models of the Figure 1 simulation match the oracle at n = 15.
Target: ImageNet per-pass polynomial k about 9 (the paper); the reference README computes
slope 0.103, k = 9.7, R^2 = 0.63 over the 34 ImageNet rows with compute. Runs in under a
minute on a CPU.

    .venv/bin/python benchmarks/scaling_paper.py [--sims N]
"""

from __future__ import annotations

import os

# The simulation's matrix products are small; BLAS threads only add contention on a shared CPU.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

from harness.analysis.extrapolate import extrapolate  # noqa: E402
from harness.analysis.fit import Fit, fit, fit_all  # noqa: E402
from harness.analysis.simulation.config import SimulationConfig  # noqa: E402
from harness.analysis.simulation.run import run as simulate  # noqa: E402
from harness.analysis.simulation.tables import crossover_rows  # noqa: E402
from harness.analysis.tables import (  # noqa: E402
    FIT_COLUMNS,
    FIT_HEADERS,
    PROJECTION_COLUMNS,
    PROJECTION_HEADERS,
    fit_rows,
    notes_for,
    projection_rows,
)
from harness.catalog.published import load_published  # noqa: E402
from harness.console import format_table  # noqa: E402
from harness.cost.conversions import PaperConversion  # noqa: E402
from harness.errors import HarnessError  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000, help="simulations per sample size")
    args = parser.parse_args()
    t0 = time.perf_counter()
    published = load_published()

    imagenet = fit(published, "imagenet", "per-pass", "polynomial")
    lo, hi = imagenet.k_ci
    print("ImageNet, per-pass compute, polynomial model (target: k about 9, paper's O(P^9))")
    print(
        f"  n = {imagenet.n}, slope = {imagenet.slope:.3f}, k = {imagenet.k:.2f} "
        f"[{lo:.2f}, {hi:.2f}], R^2 = {imagenet.r_squared:.2f}, p = {imagenet.p_value:.1e}; "
        "reference README: slope 0.103, k 9.7, R^2 0.63"
    )
    strict = fit(published, "imagenet", "per-pass", "polynomial", exclude_flagged=True)
    lo, hi = strict.k_ci
    print(
        f"  without flagged rows: n = {strict.n}, k = {strict.k:.2f} [{lo:.2f}, {hi:.2f}], "
        f"R^2 = {strict.r_squared:.2f}"
    )
    print()

    for exclude in (False, True):
        results = fit_all(published, exclude_flagged=exclude)
        title = "without flagged rows" if exclude else "all published rows (flagged counted)"
        print(f"k for every benchmark and measure, {title}")
        print(format_table(fit_rows(results), [*FIT_COLUMNS, "verdict"], FIT_HEADERS))
        print()
        if not exclude:
            for note in notes_for(results):
                print(f"- {note}")
            print()
            all_results = results

    conv = PaperConversion.strubell()
    projections, refused = [], []
    for r in all_results:
        if isinstance(r, Fit):
            try:
                projections.extend(extrapolate(r, conversion=conv))
            except HarnessError as exc:
                refused.append(str(exc))
    print("Extrapolation (all published rows; 95% band by Fieller's method)")
    print(format_table(projection_rows(projections), PROJECTION_COLUMNS, PROJECTION_HEADERS))
    print(f"- CO2/$: {conv.basis}")
    print("- per-pass compute is one forward pass, not a training cost: no CO2 or dollars")
    for msg in refused:
        print(f"- {msg}")
    print()

    t_sim = time.perf_counter()
    config = SimulationConfig(sims=args.sims)
    result = simulate(config, sizes=[])
    print("Figure 1 simulation")
    print(f"  {config.describe()}")
    print(format_table(crossover_rows(result)))
    print(
        f"  simulated oracle at n = {config.reference_n}: {result.reference.performance:.3f} "
        f"(exact expectation {result.target:.3f}); simulation took "
        f"{time.perf_counter() - t_sim:.1f} s"
    )
    print()
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
