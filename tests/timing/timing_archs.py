"""Tiny hand-made architectures and short requests for the timing tests (no zoo needed)."""

from __future__ import annotations

import time

import torch
from torch import nn

from harness.arch.spec import Architecture, Batch, OptimizerSpec, random_float, random_int
from harness.timing.request import TimingRequest

# --------------------------------------------------------------------------------------------
# Tiny hand-made architectures (the zoo is not needed)
# --------------------------------------------------------------------------------------------


def mlp_arch(
    *,
    in_features: int = 32,
    hidden: int = 64,
    classes: int = 10,
    optimizer: OptimizerSpec | None = None,
    loss_hook=None,
    builds: list | None = None,
) -> Architecture:
    def build() -> nn.Module:
        if builds is not None:
            builds.append(torch.empty(0).device.type)
        return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def batch(bs, size, *, tiny, device, dtype, generator) -> Batch:
        x = random_float((bs, size), dtype, device, generator)
        y = random_int(classes, (bs,), device, generator)
        return Batch(args=(x,), kwargs={}, targets=y, size=bs)

    def loss(model, b) -> torch.Tensor:
        if loss_hook is not None:
            loss_hook(b)
        return nn.functional.cross_entropy(model(*b.args), b.targets)

    return Architecture(
        name="test_mlp",
        domain="custom",
        task="classification",
        benchmark=None,
        year=None,
        builder=build,
        tiny_builder=build,
        batch_factory=batch,
        loss_fn=loss,
        optimizer=optimizer or OptimizerSpec("sgd", 0.1, {"momentum": 0.9}),
        size_kind="seq_len",
        default_size=in_features,
        tiny_size=in_features,
    )


def conv_arch() -> Architecture:
    def build() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 5),
        )

    def batch(bs, size, *, tiny, device, dtype, generator) -> Batch:
        x = random_float((bs, 3, size, size), dtype, device, generator)
        return Batch((x,), {}, random_int(5, (bs,), device, generator), bs)

    return Architecture(
        name="test_conv",
        domain="vision",
        task="classification",
        benchmark=None,
        year=None,
        builder=build,
        tiny_builder=build,
        batch_factory=batch,
        loss_fn=lambda m, b: nn.functional.cross_entropy(m(*b.args), b.targets),
        optimizer=OptimizerSpec("sgd", 0.1, {"momentum": 0.9}),
        size_kind="resolution",
        default_size=16,
        tiny_size=16,
    )


# One thread: tiny steps on a shared 2-core machine are faster and steadier that way.
FAST = dict(warmup_steps=1, min_steps=5, min_seconds=0.0, threads=1)


def fast(batch_size: int, **overrides) -> TimingRequest:
    """A short CPU request: one warm-up step, five timed steps, one thread."""
    return TimingRequest(batch_size=batch_size, **{**FAST, **overrides})


class RecordingMonitor:
    def __init__(self):
        self.events: list[tuple[str, str, float]] = []
        self.open = False

    def begin_window(self, name):
        self.open = True
        self.events.append(("begin", name, time.perf_counter()))

    def end_window(self, name):
        self.open = False
        self.events.append(("end", name, time.perf_counter()))
        return {"name": name, "duration_s": self.events[-1][2] - self.events[-2][2]}
