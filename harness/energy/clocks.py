"""The time a sampling monitor runs on: the wall clock, or simulated time for replays.

With `VirtualClock` a replayed ten-second window runs in microseconds and its sampler ticks
land at exact multiples of the period, so tests of the energy arithmetic are deterministic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any


class RealClock:
    """Wall time; the sampler runs in a background thread."""

    virtual = False

    def now(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class VirtualClock:
    """Simulated time for replays: `sleep` advances it and fires the sampler's ticks in order."""

    virtual = True

    def __init__(self, start: float = 0.0):
        self._now = start
        self._tick: Callable[[], Any] | None = None
        self._period = math.inf
        self._origin = start
        self._k = 1

    def attach(self, tick: Callable[[], Any], period: float) -> None:
        """Fire `tick` every `period` seconds of simulated time from now on."""
        self._tick, self._period, self._origin, self._k = tick, period, self._now, 1

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        target = self._now + seconds
        while self._tick is not None:
            t = self._origin + self._k * self._period  # no accumulated rounding
            if t > target + 1e-12:
                break
            self._now = t
            self._k += 1
            self._tick()
        self._now = target
