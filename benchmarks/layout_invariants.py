"""Numbers a code restructuring must not change, printed as one JSON document.

Run it before and after moving code and diff the two outputs: they must be identical.

- counts: per architecture of the zoo, at full size and tiny, the per-pass forward MACs per
  example and the training-step FLOPs (forward + backward + optimizer) of a batch of 2;
- fits: the `harness fit --json` table on the published points (every benchmark and measure);
- record keys: the dotted key paths of the smoke suite's stored records, with the record keys
  (`--records`; runs the smoke suite on the CPU, about two minutes).

Usage: .venv/bin/python benchmarks/layout_invariants.py [--records] [--skip-full] > out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 2


def _counter():
    from harness.counting.count import count_flops

    return count_flops


def _names() -> list[str]:
    from harness.arch.registry import list_architectures

    return [a.name for a in list_architectures()]


def counts(full: bool) -> dict[str, dict[str, float | None]]:
    count_flops = _counter()
    out: dict[str, dict[str, float | None]] = {}
    names = _names()
    for i, name in enumerate(names):
        row: dict[str, float | None] = {}
        for tiny in (True, False) if full else (True,):
            tag = "tiny" if tiny else "full"
            t0 = time.perf_counter()
            try:
                c = count_flops(name, batch_size=BATCH, tiny=tiny, train=True)
                row[f"{tag}.forward_macs_per_example"] = c.forward_macs_per_example
                row[f"{tag}.train_step_flops"] = c.train_step_flops
                row[f"{tag}.params"] = c.params
            except Exception as exc:  # the error itself is an invariant too
                row[f"{tag}.error"] = type(exc).__name__
            print(
                f"[{i + 1}/{len(names)}] {name} {tag} {time.perf_counter() - t0:.1f}s",
                file=sys.stderr,
            )
        out[name] = row
    return out


def fits() -> object:
    cmd = [str(ROOT / ".venv/bin/harness"), "fit", "--json"]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def _paths(obj: object, prefix: str, out: set[str]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _paths(v, f"{prefix}.{k}" if prefix else k, out)
    else:
        out.add(prefix)


def record_keys() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "smoke.sqlite"
        env = dict(os.environ, HARNESS_REPORTS_DIR=tmp)
        cmd = [str(ROOT / ".venv/bin/harness"), "measure", "--suite", "smoke", "--db", str(db)]
        subprocess.run(cmd, check=False, env=env, capture_output=True)
        con = sqlite3.connect(db)
        cols = [r[1] for r in con.execute("PRAGMA table_info(measurements)")]
        rows = con.execute("SELECT key, status, record FROM measurements ORDER BY key").fetchall()
        paths: set[str] = set()
        statuses = {}
        for key, status, record in rows:
            statuses[key] = status
            _paths(json.loads(record), "", paths)
        # Values that vary run to run (times, energies) are not invariants; their paths are.
        return {"columns": cols, "status_by_key": statuses, "paths": sorted(paths)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", action="store_true", help="also run the smoke suite")
    p.add_argument("--skip-full", action="store_true", help="tiny variants only")
    args = p.parse_args()
    doc: dict[str, object] = {"fits": fits(), "counts": counts(full=not args.skip_full)}
    if args.records:
        doc["records"] = record_keys()
    json.dump(doc, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
