"""`harness export`: the results database as CSV or Parquet (one row per measurement)."""

from __future__ import annotations

import argparse

NAME = "export"
HELP = "export the results database to CSV or Parquet (one row per measurement, tidy columns)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help="results database (default reports/results.sqlite)")
    p.add_argument(
        "--format",
        choices=["csv", "parquet"],
        help="file format (default: from --out's suffix, else csv)",
    )
    p.add_argument("--out", metavar="FILE", help="output file (default reports/results.<format>)")
    p.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help="only rows with this status (ok, error, timeout, crashed, interrupted); repeatable",
    )
    p.add_argument(
        "--layout",
        choices=["tidy", "dotted"],
        default="tidy",
        help="tidy: named, typed columns, lists as Parquet lists (default); "
        "dotted: every field of every record as a column (config.batch_size, ...)",
    )


def run(args: argparse.Namespace) -> int:
    from harness.sweep.store import ResultStore
    from harness.sweep.tidy import export_tidy

    with ResultStore(args.db, readonly=True) as db:
        if args.layout == "dotted":
            path, n = db.export(args.out, args.format, status=args.status)
        else:
            path, n = export_tidy(db, args.out, args.format, status=args.status)
    print(f"wrote {n} measurement{'s' if n != 1 else ''} to {path}")
    return 0
