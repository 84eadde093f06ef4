"""`harness simulate`: the paper's Figure 1 (oracle vs flexible vs regularised flexible)."""

from __future__ import annotations

import argparse

from harness.console import to_json
from harness.errors import ConfigurationError

NAME = "simulate"
HELP = "Run the paper's Figure 1 simulation: how much more data flexible models need."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sims", type=int, default=1000, help="simulations per sample size")
    parser.add_argument("--penalty", choices=("lasso", "ridge"), default="lasso")
    parser.add_argument(
        "--penalty-scale", type=float, default=1.0, help="multiplies the default penalty"
    )
    parser.add_argument("--true-features", type=int, default=10)
    parser.add_argument("--candidate-features", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=1.0, help="noise standard deviation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sizes", help="comma-separated sample sizes for the curves (default: a log grid)"
    )
    parser.add_argument(
        "--no-crossovers", action="store_true", help="curves only, skip the crossover search"
    )
    parser.add_argument("--plot", metavar="DIR", help="write the Figure 1 curves (PNG, SVG)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _sizes(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError as exc:
        raise ConfigurationError(f"--sizes {text!r}: give integers such as 15,100,1500") from exc
    if not sizes:
        raise ConfigurationError("--sizes is empty")
    return sizes


def run(args: argparse.Namespace) -> int:
    from harness.analysis.simulation.config import SimulationConfig
    from harness.analysis.simulation.run import run as simulate
    from harness.analysis.simulation.tables import simulation_json
    from harness.console import progress
    from harness.output_files import writable_folder
    from harness.present.simulation_plot import plot_simulation
    from harness.present.simulation_text import simulation_text

    sizes = _sizes(args.sizes)
    # checked before the simulation, which can take minutes
    out = writable_folder(args.plot, "--plot folder", "pass another --plot") if args.plot else None
    config = SimulationConfig(
        true_features=args.true_features,
        candidate_features=args.candidate_features,
        noise_sd=args.noise,
        penalty=args.penalty,
        penalty_scale=args.penalty_scale,
        sims=args.sims,
        seed=args.seed,
    )
    result = simulate(
        config,
        sizes=sizes,
        with_crossovers=not args.no_crossovers,
        progress=lambda xs: progress(xs, desc="sample sizes", unit="n"),
    )
    plots: list[str] = []
    if out is not None:
        plots = plot_simulation(result, str(out / f"simulation_{config.penalty}"))
    if args.json:
        print(to_json(simulation_json(result, plots)))
    else:
        print(simulation_text(result, plots))
    return 0
