"""Step clocks: how one device's step times are read, chosen once so the step loops never branch.

- `CudaEventClock`: a `torch.cuda.Event` after each step and one synchronise per window, since
  synchronising after every step would inflate the time of small steps (the method of
  `torch.utils.benchmark` and timm's benchmark.py). Each sample is the GPU time between
  consecutive events.
- `PerfCounterClock`: `time.perf_counter` between consecutive steps, for the CPU.

Both take their primitives as arguments (event factory, synchronise, wall clock), so a fake
event on a virtual clock runs the same code as the GPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import torch

Step = Callable[[], Any]


class StepClock(Protocol):
    """Times single warm-up steps, then one window of back-to-back steps."""

    def time_step(self, step: Step) -> float:
        """Seconds one step takes, waiting for it to finish."""
        ...

    def synchronize(self) -> None:
        """Wait for queued work, so a window starts on an idle device."""
        ...

    def start(self) -> None:
        """Open the window: the first mark."""
        ...

    def mark(self) -> None:
        """A step has been issued: the next mark."""
        ...

    def elapsed(self) -> float:
        """Wall seconds since `start`, as the stopping rule reads them."""
        ...

    def stop(self) -> tuple[list[float], float]:
        """Close the window: (seconds between consecutive marks, wall seconds of the window)."""
        ...


class CudaEvent(Protocol):
    """What the clock uses of `torch.cuda.Event(enable_timing=True)`."""

    def record(self) -> None: ...

    def synchronize(self) -> None: ...

    def elapsed_time(self, end: Any) -> float: ...  # milliseconds


def _timing_event() -> CudaEvent:
    return torch.cuda.Event(enable_timing=True)


class CudaEventClock:
    """GPU time between events recorded after each step; one synchronise per window."""

    def __init__(
        self,
        device: torch.device,
        *,
        event: Callable[[], CudaEvent] = _timing_event,
        synchronize: Callable[[], None] | None = None,
        now: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._event = event
        self._synchronize = synchronize or (lambda: torch.cuda.synchronize(device))
        self._now = now
        self._wall0 = 0.0
        self._events: list[CudaEvent] = []

    def time_step(self, step: Step) -> float:
        begin, end = self._event(), self._event()
        begin.record()
        step()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1e3

    def synchronize(self) -> None:
        self._synchronize()

    def start(self) -> None:
        self._wall0 = self._now()
        self._events = [self._event()]
        self._events[0].record()

    def mark(self) -> None:
        event = self._event()
        event.record()
        self._events.append(event)

    def elapsed(self) -> float:
        return self._now() - self._wall0

    def stop(self) -> tuple[list[float], float]:
        self._synchronize()
        wall = self._now() - self._wall0
        ev = self._events
        return [ev[i].elapsed_time(ev[i + 1]) / 1e3 for i in range(len(ev) - 1)], wall


class PerfCounterClock:
    """Wall time between consecutive steps on the CPU (no queue, nothing to synchronise)."""

    def __init__(self, *, now: Callable[[], float] = time.perf_counter) -> None:
        self._now = now
        self._marks: list[float] = []

    def time_step(self, step: Step) -> float:
        t0 = self._now()
        step()
        return self._now() - t0

    def synchronize(self) -> None:
        return None

    def start(self) -> None:
        self._marks = [self._now()]

    def mark(self) -> None:
        self._marks.append(self._now())

    def elapsed(self) -> float:
        return self._marks[-1] - self._marks[0]

    def stop(self) -> tuple[list[float], float]:
        m = self._marks
        return [m[i + 1] - m[i] for i in range(len(m) - 1)], m[-1] - m[0]
