"""`harness audit NAME`: a published training run against the harness's count of its work."""

from __future__ import annotations

import argparse
import json

NAME = "audit"
HELP = "set a published training run (GPU-hours, energy, CO2) beside the counted compute"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "name",
        nargs="?",
        help="a run of harness/data/reference/published_runs.csv, or its zoo architecture",
    )
    p.add_argument("--all", action="store_true", help="every published run, one row each")
    p.add_argument("--json", action="store_true", help="print the audit(s) as JSON")
    p.add_argument(
        "--db",
        metavar="PATH",
        help="results database for a measured step (default reports/results.sqlite)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.analysis.audit_inputs import audit, audit_all
    from harness.errors import ConfigurationError
    from harness.sweep.store import default_db_path

    if bool(args.name) == bool(args.all):
        raise ConfigurationError("give one run name or --all (`harness audit --all` lists them)")
    db = Path(args.db) if args.db else default_db_path()
    audits = audit_all(db=db) if args.all else [audit(args.name, db=db)]
    if args.json:
        out = [a.to_dict() for a in audits]
        print(json.dumps(out if args.all else out[0], indent=2, default=str))
        return 0
    _print(audits, args.all)
    return 0


def _print(audits, every: bool) -> None:
    from harness.console import print_table
    from harness.present.audit_text import (
        FIGURE_COLUMNS,
        LEGEND,
        SUMMARY_COLUMNS,
        figure_rows,
        summary_row,
    )

    if every:
        print_table([summary_row(a) for a in audits], list(SUMMARY_COLUMNS))
    else:
        a = audits[0]
        print(f"{a.run.run}: {a.run.model} ({a.run.source})")
        print_table(figure_rows(a), list(FIGURE_COLUMNS))
        for note in a.notes:
            print(f"note: {note}")
    print(LEGEND)
