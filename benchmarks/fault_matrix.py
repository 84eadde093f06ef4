"""The fault matrix: every hostile or careless case in `tests/faults/`, run against the harness,
with what held and what was lost.

Each case runs in its own empty temporary folder; the matrix prints one row per case (area,
case, held, rows lost, traceback) and the totals: cases tried, held, rows lost (must be 0) and
tracebacks (must be 0). It exits 1 when any case did not hold.

Usage: .venv/bin/python benchmarks/fault_matrix.py [--area AREA] [--skip-slow] [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

FAULTS = Path(__file__).resolve().parents[1] / "tests" / "faults"
sys.path.insert(0, str(FAULTS))
sys.path.insert(0, str(FAULTS.parent))  # shared test helpers (fake workers)

from framework import FaultCase, Outcome, run_case  # noqa: E402


def load_cases() -> list[FaultCase]:
    cases: list[FaultCase] = []
    for path in sorted(FAULTS.glob("test_faults_*.py")):
        cases.extend(importlib.import_module(path.stem).CASES)
    return cases


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--area", help="only the cases of this area")
    p.add_argument("-k", dest="contains", help="only cases whose name contains this")
    p.add_argument("--skip-slow", action="store_true", help="leave out cases marked slow")
    args = p.parse_args()
    cases = [
        c
        for c in load_cases()
        if (not args.area or c.area == args.area)
        and (not args.contains or args.contains in c.name)
        and not (args.skip_slow and c.slow)
    ]
    rows: list[tuple[FaultCase, Outcome, float]] = []
    t0 = time.perf_counter()
    for i, case in enumerate(cases, 1):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="harness-fault-") as tmp:
            outcome = run_case(case, Path(tmp))
        rows.append((case, outcome, time.perf_counter() - start))
        mark = "held" if outcome.held and not outcome.traceback else "FAILED"
        print(f"[{i}/{len(cases)}] {case.area}: {case.name}: {mark}", file=sys.stderr)
    width = max((len(c.name) for c, _, _ in rows), default=10)
    print(f"{'area':<14} {'case':<{width}} {'held':<5} {'lost':>4} {'traceback':<9} {'s':>6}")
    for case, o, s in rows:
        tb = "yes" if o.traceback else "no"
        print(f"{case.area:<14} {case.name:<{width}} {str(o.held):<5} {o.lost_rows:>4} {tb:<9} {s:6.1f}")
        if not o.held or o.traceback:
            print(f"{'':<14} {o.detail}")
    held = sum(o.held and not o.traceback for _, o, _ in rows)
    lost = sum(o.lost_rows for _, o, _ in rows)
    tracebacks = sum(o.traceback for _, o, _ in rows)
    areas = sorted({c.area for c, _, _ in rows})
    print(
        f"\ncases tried: {len(rows)} ({', '.join(areas)}); held: {held}; rows lost: {lost}; "
        f"tracebacks: {tracebacks}; {time.perf_counter() - t0:.0f} s"
    )
    return 0 if held == len(rows) and lost == 0 and tracebacks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
