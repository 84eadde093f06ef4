"""Repeatability: three measurements of the same configuration in one run agree within 5%.

Each measurement is a full `time_training` call (fresh model, warm-up, timed steps); the
spread is (max - min) / mean of the three medians. Target: at most 5% on CPU.

    .venv/bin/python benchmarks/timing_repeatability.py [--arch resnet18|bert] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from harness.timing.request import TimingRequest
from harness.timing.run import time_training

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from timing_overhead import tiny_bert_arch, torchvision_arch  # noqa: E402

TARGET = 0.05


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", choices=("resnet18", "bert"), default="resnet18")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="minimum timed steps per measurement")
    p.add_argument("--min-seconds", type=float, default=None)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"load average {load:.1f} on {os.cpu_count()} CPUs (other work on the machine skews timings)"
    )

    if args.arch == "resnet18":
        arch, tiny, batch, size = torchvision_arch("resnet18"), False, 8, 112
        steps, seconds = args.steps or 30, 0.0 if args.min_seconds is None else args.min_seconds
    else:
        (arch, tiny), batch, size = tiny_bert_arch(), 8, None
        steps, seconds = args.steps or 20, 5.0 if args.min_seconds is None else args.min_seconds

    t0 = time.perf_counter()
    medians, rows = [], []
    for i in range(args.repeats):
        r = time_training(
            arch,
            TimingRequest(
                batch_size=batch,
                size=size,
                tiny=tiny,
                device=args.device,
                warmup_steps=args.warmup,
                min_steps=steps,
                min_seconds=seconds,
                threads=args.threads,
            ),
            progress=False,
        )
        medians.append(r.median_s)
        rows.append(
            f"  run {i + 1}: median {r.median_s * 1e3:9.2f} ms  IQR/median {r.iqr_ratio:6.1%}  "
            f"{r.steps} steps  {r.samples_per_s:8.2f} samples/s" + ("  (noisy)" if r.noisy else "")
        )
    mean = statistics.fmean(medians)
    spread = (max(medians) - min(medians)) / mean
    print(
        f"{arch.name}{' (tiny)' if tiny else ''}: batch {batch}, size {r.size}, {r.device}, "
        f"threads {r.threads}, torch {torch.__version__}"
    )
    print("\n".join(rows))
    print(
        f"  spread (max - min) / mean of medians: {spread:.2%}  "
        f"({'meets' if spread <= TARGET else 'MISSES'} the target <= {TARGET:.0%}); "
        f"{time.perf_counter() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
