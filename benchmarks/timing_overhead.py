"""Overhead of the harness's timed step against a bare hand-written training loop.

Same model, batch, optimizer and loss; harness and bare runs are interleaved in short rounds
(alternating which goes first) so slow drifts in machine load hit both alike. The figure is
the ratio of the pooled median step times, harness / bare.

Targets: at most 1.02 on CPU for resnet18 at batch 8 and 112 px and for a tiny BERT;
at most 1.01 on a GPU for resnet50 at batch 64 (`--device cuda`).

    .venv/bin/python benchmarks/timing_overhead.py [--device cpu|cuda] [--rounds R] [--steps K]

Architectures come from the zoo: resnet18, resnet50 and bert_base_squad's tiny variant.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch

from harness.arch import registry
from harness.arch.spec import Architecture
from harness.timing.request import TimingRequest
from harness.timing.run import time_training

# --------------------------------------------------------------------------------------------
# Architectures: the zoo's
# --------------------------------------------------------------------------------------------


def torchvision_arch(name: str) -> Architecture:
    """A torchvision classifier from the zoo (random weights, its published recipe)."""
    return registry.get(name)


def tiny_bert_arch() -> tuple[Architecture, bool]:
    """(architecture, tiny): the zoo's BERT-base SQuAD spec, used as its tiny variant."""
    return registry.get("bert_base_squad"), True


# --------------------------------------------------------------------------------------------
# The bare loop
# --------------------------------------------------------------------------------------------


def bare_setup(
    arch: Architecture, batch_size: int, size: int | None, tiny: bool, device: torch.device, seed=0
) -> Callable[[], None]:
    """What a user would write by hand: build, optimizer, one batch, the step."""
    torch.manual_seed(seed)
    model = arch.build(tiny=tiny).to(device)
    model.train()
    opt = arch.optimizer.build(model.parameters())
    batch = arch.example_batch(batch_size, size=size, tiny=tiny, device=device, seed=seed)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        arch.training_loss(model, batch).backward()
        opt.step()

    return step


def bare_samples(step: Callable[[], None], k: int, device: torch.device) -> list[float]:
    """CPU: per-step perf_counter. CUDA: the simple way, (wall of k steps) / k, synchronised."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(k):
            step()
        torch.cuda.synchronize(device)
        return [(time.perf_counter() - t0) / k]
    out = []
    for _ in range(k):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def compare(
    label: str,
    arch: Architecture,
    *,
    batch_size: int,
    size: int | None,
    tiny: bool,
    device: torch.device,
    rounds: int,
    steps: int,
    warmup: int,
    threads: int | None,
) -> tuple[float, float, float]:
    if threads is not None and device.type == "cpu":
        torch.set_num_threads(threads)
    if device.type == "cuda":  # the harness's fp32 settings, so both loops do the same work
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    harness: list[float] = []
    bare: list[float] = []
    t_start = time.perf_counter()
    for r in range(rounds):
        order = ("harness", "bare") if r % 2 == 0 else ("bare", "harness")
        for who in order:
            if who == "bare":
                # a fresh model each round, as the harness builds one per call: a model trained
                # on for many rounds drifts (e.g. into denormal numbers) and slows down
                step = bare_setup(arch, batch_size, size, tiny, device)
                bare_samples(step, warmup, device)  # the bare loop's warm-up
                bare += bare_samples(step, steps, device)
            else:
                res = time_training(
                    arch,
                    TimingRequest(
                        batch_size=batch_size,
                        size=size,
                        tiny=tiny,
                        device=device,
                        warmup_steps=warmup,
                        min_steps=steps,
                        min_seconds=0.0,
                        threads=threads,
                    ),
                    progress=False,
                )
                # on CUDA compare like with like: the harness's mean over the round
                harness += [res.mean_s] if device.type == "cuda" else list(res.samples_s)
    mh, mb = statistics.median(harness), statistics.median(bare)
    ratio = mh / mb
    lo, hi = bootstrap_ratio_interval(harness, bare)
    print(f"{label}")
    print(f"  device {device}, threads {torch.get_num_threads()}, batch {batch_size}, size {size}")
    print(f"  {rounds} interleaved rounds x {steps} steps, {time.perf_counter() - t_start:.0f} s")
    print(f"  harness median step {mh * 1e3:9.2f} ms  ({len(harness)} samples)")
    print(f"  bare    median step {mb * 1e3:9.2f} ms  ({len(bare)} samples)")
    print(f"  ratio harness/bare  {ratio:9.4f}  (95% bootstrap interval {lo:.3f} - {hi:.3f})")
    return ratio, lo, hi


def bootstrap_ratio_interval(
    a: list[float], b: list[float], n: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of median(a) / median(b): how much noise there is."""
    rng = random.Random(seed)
    rs = sorted(
        statistics.median(rng.choices(a, k=len(a))) / statistics.median(rng.choices(b, k=len(b)))
        for _ in range(n)
    )
    return rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


def _cpu_results(args: argparse.Namespace, device: torch.device) -> list[tuple]:
    """resnet18 at batch 8 and 112 px, and the tiny BERT: (label, comparison, target) each."""
    r18 = torchvision_arch("resnet18")
    bert, tiny = tiny_bert_arch()
    common = dict(device=device, rounds=args.rounds or 6, warmup=args.warmup, threads=args.threads)
    return [
        (
            "resnet18, batch 8, 112 px",
            compare(
                f"resnet18 [{r18.name}]",
                r18,
                batch_size=8,
                size=112,
                tiny=False,
                steps=args.steps or 2,
                **common,
            ),
            1.02,
        ),
        (
            "tiny BERT",
            compare(
                f"tiny BERT [{bert.name}]",
                bert,
                batch_size=8,
                size=None,
                tiny=tiny,
                steps=args.steps or 6,
                **common,
            ),
            1.02,
        ),
    ]


def _gpu_results(args: argparse.Namespace, device: torch.device) -> list[tuple]:
    """resnet50 at batch 64 and 224 px: (label, comparison, target)."""
    r50 = torchvision_arch("resnet50")
    ratio = compare(
        f"resnet50 [{r50.name}]",
        r50,
        batch_size=64,
        size=224,
        tiny=False,
        device=device,
        rounds=args.rounds or 6,
        steps=args.steps or 30,
        warmup=max(args.warmup, 10),
        threads=None,
    )
    return [("resnet50, batch 64, 224 px", ratio, 1.01)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument(
        "--threads", type=int, default=1, help="CPU threads (default 1: steadier on a shared box)"
    )
    args = p.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"load average {load:.1f} on {os.cpu_count()} CPUs (other work on the machine skews timings)"
    )
    device = torch.device(args.device if args.device != "cuda" else "cuda:0")
    results = _cpu_results(args, device) if device.type == "cpu" else _gpu_results(args, device)
    print()
    for label, (ratio, lo, hi), target in results:
        verdict = "meets" if ratio <= target else "MISSES"
        noise = ""
        if hi - lo > 2 * (target - 1):
            noise = f"; the noise ({lo:.3f} - {hi:.3f}) is wider than the margin: rerun when idle"
        print(f"{label:28s} ratio {ratio:.4f}  {verdict} the target <= {target}{noise}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
