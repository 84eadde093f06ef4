"""What to time: one frozen request, its device defaults, and the checks made before building.

A request names the configuration (batch, size, precision, compile mode, layout, seed) and the
step budget (warm-up steps, minimum steps and seconds). None in a budget field means the
device's default, so the same request suits a CPU smoke run and a GPU measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.errors import ConfigurationError
from harness.vocab import COMPILE_MODES

# Defaults per device kind. On CUDA, 6 s of timed steps keeps an energy window over 5 s, long
# enough for NVML's energy counter, which updates about every 100 ms.
DEFAULTS: dict[str, dict[str, float]] = {
    "cuda": {"warmup_steps": 10, "min_steps": 20, "min_seconds": 6.0},
    "cpu": {"warmup_steps": 3, "min_steps": 10, "min_seconds": 2.0},
}


@dataclass(frozen=True)
class TimingRequest:
    """One configuration to time; None means the device default (`DEFAULTS`).

    `cudnn_benchmark` None turns cudnn.benchmark on for CUDA. `compile_mode` is a torch.compile
    mode ("default", "reduce-overhead", ...) or None for eager. `threads` fixes torch's CPU
    thread count for the run (None: torch's current count). `exact_steps` runs exactly
    `warmup_steps` and `min_steps` steps (no settling, no `min_seconds`): the ranks of a
    data-parallel step must all run the same number of steps. `memory_check` refuses, on CPU,
    a batch whose estimated memory exceeds what is available; `retry_oom` retries an
    out-of-memory error at half the batch.
    """

    batch_size: int
    size: int | None = None
    tiny: bool = False
    device: str | torch.device = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    compile_mode: str | None = None
    cudnn_benchmark: bool | None = None
    warmup_steps: int | None = None
    min_steps: int | None = None
    min_seconds: float | None = None
    threads: int | None = None
    seed: int = 0
    exact_steps: bool = False
    memory_check: bool = True
    retry_oom: bool = True


@dataclass(frozen=True)
class StepBudget:
    """How many steps to warm up and time, with every device default filled in."""

    warmup_steps: int
    min_steps: int
    min_seconds: float
    exact_steps: bool


def check_request(request: TimingRequest, device_kind: str) -> StepBudget:
    """Fill the device defaults and refuse bad numbers before anything is built."""
    d = DEFAULTS[device_kind]
    budget = StepBudget(
        warmup_steps=int(
            d["warmup_steps"] if request.warmup_steps is None else request.warmup_steps
        ),
        min_steps=int(d["min_steps"] if request.min_steps is None else request.min_steps),
        min_seconds=float(d["min_seconds"] if request.min_seconds is None else request.min_seconds),
        exact_steps=request.exact_steps,
    )
    if request.batch_size < 1:
        raise ConfigurationError(f"batch size must be at least 1, got {request.batch_size}")
    if budget.warmup_steps < 0 or budget.min_steps < 1 or budget.min_seconds < 0:
        raise ConfigurationError("warm-up steps must be >= 0, steps >= 1 and seconds >= 0")
    mode = request.compile_mode
    if mode is not None and mode not in COMPILE_MODES:
        raise ConfigurationError(
            f"unknown torch.compile mode {mode!r}; use one of {', '.join(COMPILE_MODES)}"
        )
    return budget


def cudnn_benchmark_setting(request: TimingRequest, device_kind: str) -> bool | None:
    """cudnn.benchmark for the run: on by default for CUDA, None (not applicable) on CPU."""
    if device_kind == "cpu":
        return None
    return True if request.cudnn_benchmark is None else request.cudnn_benchmark
