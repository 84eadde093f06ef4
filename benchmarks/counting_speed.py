"""Counting speed and memory against fvcore, in one run, on the same models.

The harness counts one training step (forward + backward + optimizer; batch 2 so that every
model trains, default resolution) for every ImageNet architecture of the zoo on meta tensors;
fvcore counts the forward pass only (batch 1), which needs real weights and real arithmetic.
Each side runs in its own subprocess, which reports its wall time and its peak resident memory
(resource.getrusage, ru_maxrss); vit_h_14 at 518 and regnet_y_128gf are included.

The GMACs columns compare forward counts per example (the harness at batch 2: a Swin V2's
relative-position MLP runs once per batch, so its per-example share halves).

Targets: the harness's forward+backward for the whole zoo takes less wall time than
fvcore's forward-only counts, and its peak RSS stays under 2 GB.

Run: .venv/bin/python benchmarks/counting_speed.py [--only GLOB] [--skip-fvcore]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings


def _names(pattern: str | None) -> list[str]:
    from harness.arch.registry import list_architectures

    names = [a.name for a in list_architectures(benchmark="imagenet")]
    return [n for n in names if not pattern or fnmatch.fnmatch(n, pattern)]


def _peak_rss_bytes() -> int:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return kb * 1024 if sys.platform != "darwin" else kb


def worker(side: str, names: list[str]) -> None:
    """Count every model on one side; print one JSON line."""
    warnings.filterwarnings("ignore")
    from harness.arch.registry import get
    from harness.counting.count import count_flops
    from harness.counting.fvcore_check import fvcore_forward_macs

    archs = [get(n) for n in names]
    rss_before = _peak_rss_bytes()
    rows = {}
    t0 = time.perf_counter()
    for arch in archs:
        t = time.perf_counter()
        if side == "ours":
            r = count_flops(arch, batch_size=2, train=True)
            rows[arch.name] = {
                "seconds": time.perf_counter() - t,
                "forward_macs": r.forward_macs_per_example,
                "method": r.method,
            }
        else:
            macs, note = fvcore_forward_macs(arch, max_params=None)
            rows[arch.name] = {
                "seconds": time.perf_counter() - t,
                "forward_macs": macs,
                "note": note,
            }
        print(f"{side} {arch.name} {rows[arch.name]['seconds']:.1f}s", file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "total_s": total,
                "peak_rss": _peak_rss_bytes(),
                "rss_after_imports": rss_before,
                "rows": rows,
            }
        )
    )


def _run(side: str, names: list[str], timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", side, "--names", ",".join(names)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{side} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="glob over ImageNet architecture names")
    p.add_argument("--skip-fvcore", action="store_true")
    p.add_argument("--timeout", type=float, default=7200)
    p.add_argument("--worker", choices=("ours", "fvcore"), help=argparse.SUPPRESS)
    p.add_argument("--names", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.names.split(","))
        return 0

    names = _names(args.only)
    print(
        f"{len(names)} ImageNet architectures; harness: training step (fwd+bwd+opt) on meta; "
        "fvcore: forward on real CPU tensors"
    )
    ours = _run("ours", names, args.timeout)
    fv = None if args.skip_fvcore else _run("fvcore", names, args.timeout)

    print(
        f"\n{'model':22s} {'ours s':>7s} {'fvcore s':>8s} {'ours GMACs':>11s} {'fvcore GMACs':>12s} {'fvcore diff':>11s}"
    )
    diffs = []
    for n in names:
        o = ours["rows"][n]
        f = fv["rows"][n] if fv else None
        fm = f["forward_macs"] if f else None
        diff = (fm - o["forward_macs"]) / o["forward_macs"] if fm else None
        if diff is not None:
            diffs.append((n, diff))
        fs = f"{f['seconds']:.2f}" if f else "-"
        fg = f"{fm / 1e9:.4f}" if fm else (f["note"] if f else "-")
        fd = f"{diff:+.2%}" if diff is not None else ""
        print(
            f"{n:22s} {o['seconds']:7.2f} {fs:>8s} {o['forward_macs'] / 1e9:11.4f} {fg:>12s} {fd:>11s}"
        )
    gb = 1024**3
    print(
        f"\nharness: {ours['total_s']:.1f} s for forward+backward+optimizer of {len(names)} models "
        f"(process {ours['process_wall_s']:.1f} s incl. imports), peak RSS {ours['peak_rss'] / gb:.2f} GB "
        f"({ours['rss_after_imports'] / gb:.2f} GB after imports); target < 2 GB: "
        f"{'met' if ours['peak_rss'] < 2 * gb else 'MISSED'}"
    )
    ok = ours["peak_rss"] < 2 * gb
    if fv:
        ratio = fv["total_s"] / ours["total_s"]
        print(
            f"fvcore:  {fv['total_s']:.1f} s for the forward pass only (process {fv['process_wall_s']:.1f} s), "
            f"peak RSS {fv['peak_rss'] / gb:.2f} GB"
        )
        print(
            f"fvcore forward-only time / harness training-step time: {ratio:.2f}x "
            f"({'harness faster: target met' if ratio > 1 else 'TARGET MISSED'})"
        )
        if diffs:
            absd = [abs(d) for _, d in diffs]
            worst = max(diffs, key=lambda t: abs(t[1]))
            print(
                f"fvcore vs harness forward MACs: median |diff| {statistics.median(absd):.2%}, "
                f"max {max(absd):.2%} ({worst[0]}); within 1%: {sum(a <= 0.01 for a in absd)}/{len(absd)}"
            )
        ok &= ratio > 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
