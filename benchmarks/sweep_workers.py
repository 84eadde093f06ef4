"""Wall time of the smoke suite with one and with two CPU workers, and the pool's cost per
configuration.

Two figures:

- the smoke suite (tiny variants on CPU) measured from scratch into a fresh database with
  `--workers 1` and then `--workers 2`; the ratio is wall(1) / wall(2). On a 2-core machine
  the ideal is 2; each worker gets cores // workers threads, and a tiny model's step does not
  use two threads fully, so a ratio near 1.6-1.9 is expected where nothing else runs;
- the pool's overhead per configuration: a sweep of no-op configurations (a worker that
  returns a record at once) through the pool with one slot, divided by their number. It is
  what every configuration costs besides its measurement: a fresh worker process, the claim,
  the save and the claim's release.

    .venv/bin/python benchmarks/sweep_workers.py [--suite smoke] [--noop 20] [--overhead-only]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def noop(config, phase=None):
    """A worker target that measures nothing: the pool's own cost."""
    from harness.pipeline.record import Measurement

    return Measurement.create(config, environment={"pid": os.getpid()})


def timed_sweep(jobs, db: Path, slots, target: str | None = None) -> tuple[float, int]:
    """(wall seconds, ok rows) of one sweep into a fresh database."""
    from harness.sweep.loop import run_sweep

    kw = {"target": target} if target else {}
    t0 = time.perf_counter()
    result = run_sweep(jobs, db, slots=slots, progress=False, echo=lambda m: None, **kw)
    return time.perf_counter() - t0, result.count("ok")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="smoke")
    p.add_argument("--noop", type=int, default=20, help="no-op configurations for the overhead")
    p.add_argument("--overhead-only", action="store_true", help="skip the suite")
    args = p.parse_args(argv)

    from harness.pipeline.config import MeasurementConfig
    from harness.sweep.slots import cpu_slots
    from harness.sweep.suites import load_suite

    jobs = load_suite(args.suite).jobs()
    cores = os.cpu_count() or 1
    print(f"{args.suite} suite: {len(jobs)} configurations on {cores} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        walls = {}
        for workers in () if args.overhead_only else (1, 2):
            wall, ok = timed_sweep(jobs, Path(tmp) / f"w{workers}.sqlite", cpu_slots(workers))
            walls[workers] = wall
            threads = cpu_slots(workers)[0].threads
            print(
                f"--workers {workers} ({threads} threads each): {wall:.1f} s wall, "
                f"{ok}/{len(jobs)} ok",
                flush=True,
            )
        if walls:
            print(f"speed-up wall(1) / wall(2): {walls[1] / walls[2]:.2f}")
        configs = [MeasurementConfig("noop", batch_size=b) for b in range(1, args.noop + 1)]
        target = f"{Path(__file__).resolve()}:noop"
        for name, slots in (("one at a time (no pool)", None), ("pool, 1 slot", cpu_slots(1))):
            wall, ok = timed_sweep(configs, Path(tmp) / f"noop-{bool(slots)}.sqlite", slots, target)
            print(
                f"overhead, {name}: {wall / len(configs) * 1e3:.0f} ms per configuration "
                f"({ok} no-op configurations in {wall:.1f} s: worker start, claim, save, release)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
