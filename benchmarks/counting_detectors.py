"""`harness flops` on COCO detectors: the first count, the same count again (read from the count
cache), and where the first count's time goes.

Detectors are counted on real CPU tensors: their forward has data-dependent shapes (score
thresholds, NMS), so meta and fake tensors fail, and with random weights the two-stage heads
run on however many proposals survive. The first count therefore runs the whole network at
full size (800 px for R-CNN and RetinaNet); the second reads the stored record.

`--profile` splits one first count: building the model, one plain forward on real tensors (the
arithmetic a real-tensor count cannot avoid) and the same forward under the counter.

`--scaling` checks whether counting one image and multiplying would reproduce a batch count of
the small single-stage detectors (RetinaNet, SSD): it prints both, per phase, for MACs and for
the other FLOPs.

Run: .venv/bin/python benchmarks/counting_detectors.py [--only NAME,...] [--profile] [--scaling]

Figures on a shared 2-core CPU (load average 4.5-6 from other jobs; seconds of wall time; the
harness before the count cache, then `--no-cache`, then the same command again):

    harness flops retinanet_resnet50_fpn    29.4 before   31.7 first   12.7 cached
    harness flops fasterrcnn_resnet50_fpn   55.4 before   46.8 first   13.4 cached
    harness flops ssd300_vgg16              41.8 before   38.4 first    9.2 cached

The first count is the real arithmetic of a full-size forward on the CPU; the counter adds
little to it. A cached count is start-up, imports and zoo discovery (8.2 s of the 12.7 s
here). `--scaling`: one image x N reproduces the MACs of a direct batch-N count exactly, but
not the other FLOPs (RetinaNet tiny, batch 2: inference +15,208, backward +390,038; SSD300
tiny: +86, +42), so counts are never scaled from one image.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DETECTORS = ("ssd300_vgg16", "retinanet_resnet50_fpn", "fasterrcnn_resnet50_fpn")


def _timed_flops(name: str, cache_dir: str) -> tuple[float, str]:
    """Wall seconds of one `harness flops NAME` in a fresh process, and its method line."""
    env = {**os.environ, "HARNESS_COUNT_CACHE_DIR": cache_dir, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "harness", "flops", name]
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    seconds = time.perf_counter() - started
    if out.returncode:
        return seconds, f"exit {out.returncode}: {out.stderr.strip()[-200:]}"
    cached = "count cache" in out.stdout
    gmacs = next((ln.split()[-1] for ln in out.stdout.splitlines() if "GMACs / ex" in ln), "?")
    return seconds, f"{gmacs} GMACs/example" + (" (read from the cache)" if cached else "")


def first_and_cached(names: list[str]) -> None:
    print(f"{'command':48s} {'first s':>8s} {'again s':>8s}  result")
    with tempfile.TemporaryDirectory() as cache_dir:
        for name in names:
            first, what = _timed_flops(name, cache_dir)
            again, what_again = _timed_flops(name, cache_dir)
            print(f"{'harness flops ' + name:48s} {first:8.1f} {again:8.1f}  {what} | {what_again}")


def profile(name: str) -> None:
    import torch

    from harness.arch.registry import resolve
    from harness.counting.counter import FlopCounter

    arch = resolve(name)
    t = time.perf_counter()
    model = arch.build()
    print(f"{name}: build with random weights {time.perf_counter() - t:.1f} s")
    batch = arch.example_batch(1)
    model.eval()
    for label, ctx in (("plain forward", torch.no_grad), ("counted forward", None)):
        t = time.perf_counter()
        with torch.no_grad():
            if ctx is None:
                with FlopCounter(model):
                    arch.forward(model, batch)
            else:
                arch.forward(model, batch)
        print(f"{name}: {label} on real tensors {time.perf_counter() - t:.1f} s")


def scaling() -> None:
    from harness.counting.count import count_flops

    for name in ("retinanet_resnet50_fpn", "ssd300_vgg16"):
        one = count_flops(name, tiny=True, batch_size=1, train=True)
        for n in (2, 3):
            direct = count_flops(name, tiny=True, batch_size=n, train=True)
            for label, a, b in (
                ("inference MACs", n * one.forward_macs, direct.forward_macs),
                ("backward FLOPs", n * one.backward_flops, direct.backward_flops),
                (
                    "inference other",
                    n * one.other_flops["inference"],
                    direct.other_flops["inference"],
                ),
                ("backward other", n * one.other_flops["backward"], direct.other_flops["backward"]),
            ):
                same = "same" if a == b else f"differs by {a - b:+,}"
                print(
                    f"{name} tiny batch {n}: {label}: {n} x one image {a:,} vs direct {b:,} ({same})"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated detector names")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--scaling", action="store_true")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(DETECTORS)
    first_and_cached(names)
    if args.profile:
        for name in names:
            profile(name)
    if args.scaling:
        scaling()


if __name__ == "__main__":
    main()
