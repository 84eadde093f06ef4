"""PyTorch's and fvcore's FLOP-counter test expectations, run against our counter.

The cases (tests/counting/peer_cases.py) translate pytorch/pytorch test/test_flop_counter.py
and facebookresearch/fvcore tests/test_flop_count.py, each citing its source test. Prints one
line per case and the counts: matched, convention (the same work under a documented different
convention: both figures shown), upstream-bug (the peer's live figure is known wrong: both
shown) and mismatch. Target: 0 mismatches.

Run: .venv/bin/python benchmarks/counting_peers.py [--fast]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.counting.peer_cases import CASES, evaluate  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fast", action="store_true", help="skip the slow cases (resnet18)")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    totals: Counter[str] = Counter()
    for case in CASES:
        if args.fast and case.slow:
            continue
        try:
            verdict, peer, ours = evaluate(case)
        except Exception as exc:  # a case that cannot run is a mismatch, with its reason
            verdict, peer, ours = "mismatch", "-", f"{type(exc).__name__}: {exc}"
        totals[verdict] += 1
        note = f"  [{case.note}]" if case.note and verdict != "matched" else ""
        print(
            f"{verdict:12s} {case.unit:5s} peer {peer!s:>12} ours {ours!s:>12}  "
            f"{case.name}  ({case.source}){note}"
        )
    print()
    print(
        ", ".join(
            f"{k}: {totals[k]}" for k in ("matched", "convention", "upstream-bug", "mismatch")
        )
    )
    return 1 if totals["mismatch"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
