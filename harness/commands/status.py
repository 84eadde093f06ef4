"""`harness status`: how far a sweep is, per shard of a cluster array or for one database."""

from __future__ import annotations

import argparse

NAME = "status"
HELP = "show a sweep's progress: rows done, failed and running, per shard of a cluster array"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "results",
        nargs="?",
        default=None,
        help="the sweep's results database (default reports/results.sqlite)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.console import print_table
    from harness.sweep.store import default_db_path
    from harness.sweep.sweep_status import sweep_progress

    results = Path(args.results).expanduser() if args.results else default_db_path()
    shards = sweep_progress(results)
    print_table([s.row() for s in shards])
    if len(shards) > 1:
        done = sum(s.ok for s in shards)
        total = sum(s.total or 0 for s in shards)
        running = sum(s.running for s in shards)
        print(f"{done} of {total} configurations measured, {running} running")
    return 0
