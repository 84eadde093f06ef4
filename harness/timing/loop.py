"""The step loops: warm up until steady, then one timed window of back-to-back steps.

The timer follows `torch.utils.benchmark` and timm's benchmark.py: warm up, then time steps
until both a minimum step count and a minimum duration are reached, keeping every per-step
sample. The clock (`harness.timing.clock`) hides how a device is timed, so these loops are the
same on every device.

An energy monitor (anything with `begin_window(name)` / `end_window(name)`) wraps exactly the
timed steps: it begins after the device has synchronised and ends after the clock's final
synchronise. A step that fails inside the window still closes it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from harness.timing.clock import StepClock
from harness.timing.request import StepBudget

SETTLE_STEPS = 3  # a settling warm-up ends when this many consecutive steps ...
SETTLE_TOLERANCE = 0.05  # ... are within 5% of their median
MAX_WARMUP_FACTOR = 5  # ... or after this many times the minimum warm-up steps (at least 30)

TrainingStep = Callable[[], torch.Tensor]  # one optimizer step; returns the loss


class WindowMonitor(Protocol):
    """Zeus-style measurement windows (harness.energy.EnergyMonitor is one)."""

    def begin_window(self, name: str) -> None: ...

    def end_window(self, name: str) -> Any: ...


def settled(times: Sequence[float]) -> bool:
    """The last SETTLE_STEPS step times lie within SETTLE_TOLERANCE of their median."""
    if len(times) < SETTLE_STEPS:
        return False
    last = sorted(times[-SETTLE_STEPS:])
    mid = last[len(last) // 2]
    return mid > 0 and (last[-1] - last[0]) / mid <= SETTLE_TOLERANCE


@dataclass(frozen=True)
class WarmUp:
    """Warm-up step times, and a note when they never settled."""

    samples_s: tuple[float, ...]
    note: str | None = None


def warm_up(step: TrainingStep, clock: StepClock, warmup_steps: int, *, settle: bool) -> WarmUp:
    """Run `warmup_steps` steps; with `settle`, go on until the step times settle (bounded)."""
    times: list[float] = []
    max_warm = max(30, MAX_WARMUP_FACTOR * warmup_steps) if settle else warmup_steps
    for i in range(max_warm if warmup_steps else 0):
        times.append(clock.time_step(step))
        if i + 1 >= warmup_steps and (not settle or settled(times)):
            return WarmUp(tuple(times))
    note = f"warm-up step times had not settled after {max_warm} steps" if warmup_steps else None
    return WarmUp(tuple(times), note)


def expected_steps(warm: WarmUp, budget: StepBudget) -> int:
    """Steps the window should take at the warm-up's pace (the progress bar's total)."""
    last = sorted(warm.samples_s[-SETTLE_STEPS:])
    guess = last[len(last) // 2] if last else 0.0
    if guess > 0 and not budget.exact_steps:
        return max(budget.min_steps, math.ceil(budget.min_seconds / guess))
    return budget.min_steps


@dataclass(frozen=True)
class TimedWindow:
    """The timed steps: per-step samples, the window's wall time, and what the monitor saw."""

    samples_s: tuple[float, ...]
    wall_s: float
    final_loss: torch.Tensor
    measurement: Any = None  # the monitor's end_window result


def timed_window(
    step: TrainingStep,
    clock: StepClock,
    budget: StepBudget,
    *,
    name: str,
    monitor: WindowMonitor | None = None,
    on_step: Callable[[], object] = lambda: None,
) -> TimedWindow:
    """Time steps until `budget.min_steps` and `budget.min_seconds` are both reached."""
    begun = False
    try:
        clock.synchronize()
        if monitor is not None:
            monitor.begin_window(name)
            begun = True
        clock.start()
        n = 0
        while True:
            loss = step()
            clock.mark()
            n += 1
            on_step()
            if n >= budget.min_steps and (
                budget.exact_steps or clock.elapsed() >= budget.min_seconds
            ):
                break
        samples, wall = clock.stop()
        measurement = monitor.end_window(name) if monitor is not None else None
        begun = False
    finally:
        if begun:  # an error inside the window: close it, keep the original error
            with contextlib.suppress(Exception):
                monitor.end_window(name)  # type: ignore[union-attr]
    return TimedWindow(tuple(samples), wall, loss, measurement)
