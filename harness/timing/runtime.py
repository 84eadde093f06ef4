"""Everything in a timed run that differs between CUDA and the CPU, chosen once per run.

A runtime gives the step clock, the thread policy, the peak-memory reading and the device's
name, so the set-up and the step loops run the same code on both.

- CUDA: warm-up continues until step times settle (kernel selection, cudnn.benchmark and the
  caching allocator make the first steps slow); peak memory is `torch.cuda.max_memory_allocated`
  over the timed steps (reset after the warm-up) and over the whole attempt, and the
  allocator's reserved peak.
- CPU: the torch thread count is fixed for the run and recorded; the batch's estimated memory
  is checked against what is available before anything is built; peak memory is the process's
  resident high-water mark.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Protocol

import torch

from harness.hardware.devices import cpu_identity
from harness.hardware.matmul_peak import cpu_threads
from harness.timing.clock import CudaEventClock, PerfCounterClock, StepClock
from harness.timing.memory import CpuPeakMemory, CudaPeakMemory, PeakMemory


class PeakMemoryTracker(Protocol):
    """Started before the model is built; told when the warm-up ends; read after the window."""

    def after_warmup(self) -> None: ...

    def read(self) -> PeakMemory: ...


class DeviceRuntime(Protocol):
    """The device-specific parts of a run; `runtime_for` picks one per resolved device."""

    device: torch.device
    settles_warmup: bool  # warm up until step times settle, not for a fixed count
    checks_host_memory: bool  # the batch must fit in host memory: check it before building

    def activate(self) -> AbstractContextManager[object]: ...

    def threads(self, requested: int | None) -> AbstractContextManager[int]: ...

    def clock(self) -> StepClock: ...

    def start_peak_memory(self) -> PeakMemoryTracker: ...

    def name(self) -> str: ...

    def release_cache(self) -> None: ...


def fixed_threads(n: int | None) -> AbstractContextManager[int]:
    """Torch's intra-op thread count set to `n` (None: unchanged), restored on exit."""
    return cpu_threads(n, option="--threads")


class CudaRuntime:
    """A CUDA device: event clock, settling warm-up, the caching allocator's peak."""

    settles_warmup = True
    checks_host_memory = False

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def activate(self) -> AbstractContextManager[object]:
        return torch.cuda.device(self.device)

    def threads(self, requested: int | None) -> AbstractContextManager[int]:
        return fixed_threads(None)  # the GPU does the work: record, do not change

    def clock(self) -> StepClock:
        return CudaEventClock(self.device)

    def start_peak_memory(self) -> PeakMemoryTracker:
        return CudaPeakMemory(self.device)

    def name(self) -> str:
        return torch.cuda.get_device_name(self.device)

    def release_cache(self) -> None:
        """The caching allocator's free blocks of the measured device only: without a device
        context, `empty_cache` acts on the current device (cuda:0 unless set), creating a
        context there (https://pytorch.org/docs/stable/generated/torch.cuda.empty_cache.html)."""
        with torch.cuda.device(self.device):
            torch.cuda.empty_cache()


class CpuRuntime:
    """The CPU: perf_counter clock, fixed threads, host-memory pre-check, resident peak."""

    settles_warmup = False
    checks_host_memory = True

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def activate(self) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def threads(self, requested: int | None) -> AbstractContextManager[int]:
        return fixed_threads(requested)

    def clock(self) -> StepClock:
        return PerfCounterClock()

    def start_peak_memory(self) -> PeakMemoryTracker:
        return CpuPeakMemory()

    def name(self) -> str:
        return cpu_identity()[0] or "CPU"

    def release_cache(self) -> None:
        return None


def runtime_for(device: torch.device) -> DeviceRuntime:
    """The runtime of a resolved device."""
    return CudaRuntime(device) if device.type == "cuda" else CpuRuntime(device)
