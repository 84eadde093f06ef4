"""`harness fit`: the paper's scaling-law regressions and extrapolation table."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

from harness.errors import HarnessError
from harness.vocab import BENCHMARKS

NAME = "fit"
HELP = "Fit the paper's scaling laws (performance on compute) and extrapolate to target errors."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", choices=BENCHMARKS, help="one benchmark (default: all)")
    parser.add_argument(
        "--measure", choices=("per-pass", "burden"), help="compute measure (default: both)"
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
    parser.add_argument("--points", action="store_true", help="list the points of every fit")
    parser.add_argument("--plot", metavar="DIR", help="write PNG and SVG plots to DIR")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _parse_target(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError as exc:
        raise HarnessError(f"--target {text!r} is not a number (use 0.05 or 5%)") from exc
    if not 0 < value < 1:
        raise HarnessError(f"--target {text!r} is outside (0, 1) (use 0.05 or 5%)")
    return value


def load_measured(path: str):
    """Measured rows from a CSV, Parquet, or SQLite file (a table or view with the columns)."""
    import pandas as pd

    from harness.analysis.scaling import MEASURED_COLUMNS, measured_frame

    p = Path(path)
    if not p.exists():
        raise HarnessError(f"--with-measured: no such file: {path}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(p)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            records = _store_records(p)
            if records is None:
                df = _read_sqlite(p, MEASURED_COLUMNS)
            else:
                from harness.pipeline.summary import measured_points

                points = measured_points(records)
                if not points:
                    raise HarnessError(
                        f"--with-measured: {path} has no full-size measurement of a paper "
                        f"benchmark ({len(records)} ok rows; tiny variants are not points)"
                    )
                df = pd.DataFrame(points)
    except (OSError, ValueError, sqlite3.DatabaseError, pd.errors.ParserError) as exc:
        raise HarnessError(f"--with-measured: cannot read {path}: {exc}") from exc
    return measured_frame(df)


def _store_records(path: Path):
    """The ok records of a harness results database, or None for any other SQLite file."""
    from harness.sweep.store import ResultStore

    try:
        with ResultStore(path, readonly=True) as store:
            return store.load(status="ok")
    except HarnessError:
        return None


def _read_sqlite(path: Path, columns: tuple[str, ...]):
    import pandas as pd

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            )
        ]
        fitting = []
        for name in names:
            cols = {r[1] for r in con.execute(f'PRAGMA table_info("{name}")')}
            if set(columns) <= cols:
                fitting.append(name)
        if not fitting:
            raise HarnessError(
                f"--with-measured: no table or view in {path} has the columns "
                f"{', '.join(columns)} (tables: {', '.join(names) or 'none'}); "
                "export the measurements to CSV with those columns"
            )
        if len(fitting) > 1:
            raise HarnessError(
                f"--with-measured: several tables in {path} have the measured columns "
                f"({', '.join(fitting)}); export the one you mean to CSV"
            )
        return pd.read_sql_query(f'SELECT * FROM "{fitting[0]}"', con)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from harness.analysis.scaling import (
        FIT_COLUMNS,
        FIT_HEADERS,
        MEASURES,
        MODELS,
        PER_PASS_NOT_COST,
        PROJECTION_COLUMNS,
        PROJECTION_HEADERS,
        Fit,
        FitSkipped,
        extrapolate,
        fit,
        fit_rows,
        notes_for,
        plot_fit,
        projection_rows,
        select_points,
        to_jsonable,
    )
    from harness.catalog.published import load_published
    from harness.console import format_table
    from harness.cost.conversions import PaperConversion

    targets = [_parse_target(t) for t in args.target] if args.target else None
    published = load_published()
    if args.with_measured == "":  # the flag alone: the harness's own results database
        from harness.sweep.store import default_db_path

        args.with_measured = str(default_db_path())
    measured = load_measured(args.with_measured) if args.with_measured else None
    benchmarks = [args.benchmark] if args.benchmark else list(BENCHMARKS)
    if measured is not None and not args.benchmark:
        benchmarks = [b for b in BENCHMARKS if b in set(measured["benchmark"])]
        if not benchmarks:
            raise HarnessError(
                "--with-measured: none of the measured rows is on a paper benchmark "
                f"({', '.join(BENCHMARKS)})"
            )
    measures = [args.measure] if args.measure else list(MEASURES)
    models = [args.model] if args.model else list(MODELS)

    point_sets = [("published", published)]
    if measured is not None:
        pooled = pd.concat([published, measured], ignore_index=True)
        point_sets += [("measured", measured), ("pooled", pooled)]

    results: list[Fit | FitSkipped] = []
    for b in benchmarks:
        for m in measures:
            for label, frame in point_sets:
                for mod in models:
                    try:
                        results.append(fit(frame, b, m, mod, args.exclude_flagged, label))
                    except HarnessError as exc:
                        if args.benchmark and args.measure and measured is None:
                            raise  # the one fit asked for cannot be made: say so and fail
                        results.append(FitSkipped(b, m, mod, label, str(exc)))

    conv = PaperConversion.strubell()
    projections, not_extrapolated = [], []
    for r in results:
        if isinstance(r, Fit):
            try:
                projections.extend(extrapolate(r, targets, conv))
            except HarnessError as exc:
                not_extrapolated.append(str(exc))

    frames = dict(point_sets)
    point_tables = []
    if args.points or args.benchmark or args.json:
        for b in benchmarks:
            for m in measures:
                for label, frame in point_sets:
                    try:
                        pts = select_points(frame, b, m, args.exclude_flagged)
                    except HarnessError:
                        continue
                    point_tables.append((b, m, label, pts))

    plots: list[str] = []
    if args.plot:
        out_dir = Path(args.plot)
        out_dir.mkdir(parents=True, exist_ok=True)
        plot_label = "pooled" if measured is not None else "published"
        for b in benchmarks:
            for m in measures:
                fits = [
                    r
                    for r in results
                    if isinstance(r, Fit)
                    and (r.benchmark, r.measure, r.points) == (b, m, plot_label)
                ]
                if not fits:
                    continue
                pts = select_points(frames[plot_label], b, m, args.exclude_flagged)
                stem = out_dir / f"fit_{b}_{m}"
                plots.extend(plot_fit(pts, fits, str(stem)))

    if args.json:
        payload = {
            "fits": to_jsonable(results),
            "projections": to_jsonable(projections),
            "not_extrapolated": not_extrapolated,
            "conversion": conv.basis,
            "per_pass_note": PER_PASS_NOT_COST,
            "points": [
                {
                    "benchmark": b,
                    "measure": m,
                    "points": label,
                    "rows": json.loads(
                        pts[
                            [
                                "model",
                                "year",
                                "error",
                                "compute_flops",
                                "source",
                                "flagged",
                                "flag_reason",
                                "citation",
                            ]
                        ].to_json(orient="records")
                    ),
                }
                for b, m, label, pts in point_tables
            ],
            "plots": plots,
        }
        print(json.dumps(payload, indent=2))
        return 0

    print(
        "Scaling-law fits (OLS, 95% CIs). Direction: performance regressed on compute, as in "
        "Thompson et al. (2020); k = 1/slope; k_reverse = R^2 x k is what regressing compute on "
        "performance would give."
    )
    print()
    print(format_table(fit_rows(results), [*FIT_COLUMNS, "verdict"], FIT_HEADERS))
    print()
    for note in notes_for(results)[1:]:
        print(f"- {note}")
    if args.exclude_flagged:
        print("- Flagged rows ('memory'/'flag': unconfirmed values) were excluded.")
    else:
        print(
            "- Counts in brackets are flagged rows ('memory'/'flag': unconfirmed values); "
            "--exclude-flagged leaves them out."
        )
    print()
    print("Extrapolation (compute implied by each target error; 95% band by Fieller's method)")
    proj_cols = list(PROJECTION_COLUMNS)
    if measured is not None:
        proj_cols.insert(3, "points")
    print(format_table(projection_rows(projections), proj_cols, PROJECTION_HEADERS))
    print(f"- CO2 and dollars: hardware-burden fits only, {conv.basis}.")
    print(f"- Per-pass fits: {PER_PASS_NOT_COST}.")
    for msg in not_extrapolated:
        print(f"- {msg}")
    for b, m, label, pts in point_tables:
        print()
        print(f"Points: {b}, {m} compute, {label} ({len(pts)})")
        rows = [
            {
                "model": r["model"],
                "year": str(r["year"]) if r["year"] is not None and r["year"] == r["year"] else "",
                "error": f"{100 * r['error']:.3g}%",
                "compute FLOP": f"{r['compute_flops']:.3g}",
                "source": r["source"],
                "flag": r["flag_reason"] if r["flagged"] else "",
            }
            for r in pts.to_dict("records")
        ]
        print(format_table(rows))
    for path in plots:
        print(f"wrote {path}")
    return 0
