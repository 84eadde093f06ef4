"""`harness fit`: the paper's scaling-law regressions and extrapolation table."""

from __future__ import annotations

import argparse

from harness.console import to_json
from harness.errors import HarnessError
from harness.vocab import BENCHMARKS

NAME = "fit"
HELP = "Fit the paper's scaling laws (performance on compute) and extrapolate to target errors."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", choices=BENCHMARKS, help="one benchmark (default: all)")
    parser.add_argument(
        "--measure",
        choices=("per-pass", "burden", "network-ops", "burden-consolidated"),
        help="compute measure (default: per-pass and burden; with --published-from all four). "
        "network-ops = total training compute (per-pass x examples x epochs, backward "
        "included); burden-consolidated = burden, imputed from network-ops where missing",
    )
    parser.add_argument(
        "--model", choices=("polynomial", "exponential"), help="regression model (default: both)"
    )
    parser.add_argument(
        "--with-measured",
        metavar="DB_OR_CSV",
        nargs="?",
        const="",
        help="measured points: the harness results database (default reports/results.sqlite), "
        "or CSV, Parquet or SQLite with columns benchmark, model, error, "
        "per_pass_flops, burden_flops): fitted alone and pooled with the published points",
    )
    parser.add_argument(
        "--exclude-flagged",
        action="store_true",
        help="leave out rows marked 'memory'/'flag' (values not confirmed in a primary source)",
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="ERROR",
        help="target error for the extrapolation, as a fraction or percentage (0.05 or 5%%); "
        "repeat for several (default: ImageNet 5%% and 1%%, others half and a tenth of today's)",
    )
    parser.add_argument(
        "--squad-metric",
        choices=("em", "f1"),
        default="em",
        help="SQuAD 1.1 score the error is from (default em, as the paper's code)",
    )
    parser.add_argument(
        "--paper-table",
        action="store_true",
        help="the extrapolation table in the paper's shape, the paper's figures beside ours",
    )
    add_published_from(parser)
    parser.add_argument(
        "--burden-conversion",
        metavar="A,B",
        help="with --published-from: impute missing burden as log10 HB = A + B log10 network ops "
        "(default: fitted on the benchmark's rows with both, else on ImageNet's)",
    )
    parser.add_argument(
        "--with-year",
        action="store_true",
        help="year (minus 2012) as a second regressor beside log10 compute; prints its "
        "coefficient and 95%% interval",
    )
    parser.add_argument(
        "--until",
        metavar="YYYY-MM",
        help="only points published up to that month (e.g. 2020-07, the paper's first version); "
        "points are dated by year, so that year's points are kept",
    )
    add_fit_kind(parser)
    parser.add_argument("--points", action="store_true", help="list the points of every fit")
    parser.add_argument("--plot", metavar="DIR", help="write PNG and SVG plots to DIR")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def add_fit_kind(parser: argparse.ArgumentParser) -> None:
    """`--dependent` and `--quantile`: the fits the authors' notebooks make besides the paper's."""
    parser.add_argument(
        "--dependent",
        choices=("inverse-error", "error", "score"),
        default="inverse-error",
        help="the quantity regressed on log10 compute (default inverse-error, the paper's "
        "performance 1/error; error and score = 1 - error as the authors' notebooks also fit "
        "them); --model polynomial takes its log10, exponential takes it as is. Fits of error or "
        "score give no k and are not extrapolated",
    )
    parser.add_argument(
        "--quantile",
        metavar="Q",
        help="quantile regression at quantile Q in (0, 1) instead of OLS (statsmodels QuantReg, "
        "as the authors' robustness check, e.g. 0.1): its coefficients, robust 95%% intervals "
        "and pseudo-R^2; not extrapolated, not with --with-year",
    )


def add_published_from(parser: argparse.ArgumentParser) -> None:
    """`--published-from DIR`, shared with `harness compare` and `harness report`."""
    parser.add_argument(
        "--published-from",
        metavar="DIR",
        help="the authors' data instead of the shipped points: a checkout of "
        "MIT-FutureTech/TheComputationalLimitsOfDeepLearning (GPL-3.0, read in place, "
        "never copied) or its data/ folder",
    )


def _parse_target(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError as exc:
        raise HarnessError(f"--target {text!r} is not a number (use 0.05 or 5%)") from exc
    if not 0 < value < 1:
        raise HarnessError(f"--target {text!r} is outside (0, 1) (use 0.05 or 5%)")
    return value


def _parse_quantile(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise HarnessError(f"--quantile {text!r} is not a number (use e.g. 0.1)") from None
    if not 0 < value < 1:
        raise HarnessError(f"--quantile {text!r} is outside (0, 1) (use e.g. 0.1 or 0.5)")
    return value


def _check_paper_shape(args: argparse.Namespace, quantile: float | None) -> None:
    """The paper table and the plots show the paper's OLS of 1/error, nothing else."""
    other = args.dependent != "inverse-error" or quantile is not None
    for flag, on in (("--paper-table", args.paper_table), ("--plot", args.plot)):
        if other and on:
            raise HarnessError(
                f"{flag} shows the paper's OLS of performance 1/error; "
                f"leave out --dependent/--quantile, or {flag}"
            )


def run(args: argparse.Namespace) -> int:
    from harness.analysis.fit_report import FitRequest, fit_report
    from harness.output_files import writable_folder
    from harness.present.fit_plot import write_fit_plots
    from harness.present.fit_text import fit_report_text

    quantile = _parse_quantile(args.quantile)
    _check_paper_shape(args, quantile)
    if args.paper_table:
        return _paper_table(args)
    targets = tuple(_parse_target(t) for t in args.target) if args.target else None
    if args.plot:
        writable_folder(args.plot, "--plot folder", "pass another --plot")
    request = FitRequest(
        benchmark=args.benchmark,
        measure=args.measure,
        model=args.model,
        with_measured=args.with_measured,
        exclude_flagged=args.exclude_flagged,
        targets=targets,
        list_points=args.points,
        squad_metric=args.squad_metric,
        published_from=args.published_from,
        with_year=args.with_year,
        until=args.until,
        burden_conversion=args.burden_conversion,
        dependent=args.dependent,
        quantile=quantile,
    )
    report = fit_report(request)
    plots = write_fit_plots(report, args.plot) if args.plot else []
    if args.json:
        print(to_json(report.to_json(plots)))
    else:
        print(fit_report_text(report, plots))
    return 0


def _paper_table(args: argparse.Namespace) -> int:
    from harness.analysis.paper_table import paper_table, paper_table_json, paper_table_text
    from harness.catalog.published import load_published

    published = load_published(squad_metric=args.squad_metric)
    benchmarks = (args.benchmark,) if args.benchmark else BENCHMARKS
    rows, skipped = paper_table(published, benchmarks, args.exclude_flagged)
    if args.json:
        print(to_json(paper_table_json(rows, skipped, args.squad_metric)))
    else:
        print(paper_table_text(rows, skipped, args.squad_metric))
    return 0
