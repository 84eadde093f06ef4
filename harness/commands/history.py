"""`harness history`: every attempt at measuring an architecture, newest first.

The results database keeps each record saved (a failed rerun included) beside the current row
that reports read; this lists them, so a failure that did not replace a good result is still
visible, with its error.
"""

from __future__ import annotations

import argparse

NAME = "history"
HELP = "list every attempt at measuring an architecture's configurations, newest first"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="architecture name, as `harness list` shows it")
    p.add_argument("--db", metavar="PATH", help="results database (default reports/results.sqlite)")


def run(args: argparse.Namespace) -> int:
    from harness.console import print_table
    from harness.errors import HarnessError
    from harness.sweep.store import ResultStore

    with ResultStore(args.db, readonly=True) as db:
        attempts = db.history(args.name)
        path = db.path
    if not attempts:
        raise HarnessError(
            f"no attempts at {args.name!r} in {path}; measure it with `harness measure "
            f"{args.name} --db {path}` (names as `harness list` shows them)"
        )
    rows = [
        {
            "time": a.saved_at[:19].replace("T", " "),
            "status": a.status + (" (current)" if a.current else ""),
            "key": a.key,
            "step": "" if a.step_s is None else f"{a.step_s * 1e3:.3g} ms",
            "spread (IQR)": a.spread,
            "error": a.error or "",
        }
        for a in attempts
    ]
    print_table(rows, columns=["time", "status", "key", "step", "spread (IQR)", "error"])
    return 0
