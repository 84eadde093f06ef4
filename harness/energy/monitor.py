"""The energy-monitor interface: named measurement windows that never raise into the run.

A monitor measures named windows (Zeus style): `begin_window(name)` just before the timed steps,
`end_window(name)` just after, returning an `EnergyMeasurement`. Hardware problems never raise
into the timed run: a window whose energy cannot be known comes back `unavailable` with the
reason, so the rest of the measurement survives. Only misuse (a window opened twice, or closed
without being opened) raises.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from harness.energy.measurement import EnergyMeasurement

# The window a monitor measures its idle baseline in; it carries no idle note of its own.
IDLE_WINDOW = "__idle__"


class EnergyMonitor(abc.ABC):
    """Named measurement windows; `start()` once (idle baseline, slow set-up), `close()` at the end."""

    backend: str = ""
    min_window_s: float = 0.0  # the timing loop should run at least this long per window

    def start(self) -> None:  # noqa: B027 - optional hook
        """Set up off the hot path (baseline, warm-up); idempotent; never raises."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads and libraries; idempotent."""

    @abc.abstractmethod
    def begin_window(self, name: str) -> None: ...

    @abc.abstractmethod
    def end_window(self, name: str) -> EnergyMeasurement: ...

    def describe(self) -> str:
        return self.backend

    def __enter__(self) -> EnergyMonitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UnavailableMonitor(EnergyMonitor):
    """What the factory returns when a backend cannot run here: windows end, energy unknown."""

    def __init__(self, backend: str, reason: str, clock: Callable[[], float] = time.perf_counter):
        self.backend = backend
        self.reason = reason
        self._clock = clock
        self._open: dict[str, float] = {}

    def begin_window(self, name: str) -> None:
        check_new_window(name, self._open)
        self._open[name] = self._clock()

    def end_window(self, name: str) -> EnergyMeasurement:
        t0 = pop_window(name, self._open)
        return EnergyMeasurement.unavailable(
            name, self.backend, self.reason, duration_s=self._clock() - t0
        )

    def describe(self) -> str:
        return f"{self.backend}: unavailable ({self.reason})"


class CompositeMonitor(EnergyMonitor):
    """An accelerator monitor with a host (CPU/RAM) monitor beside it over the same windows."""

    def __init__(self, primary: EnergyMonitor, host: EnergyMonitor, share: Any = None):
        self.primary = primary
        self.host = host
        self.share = share  # a `HostShare`: the part of the host charged to this run
        self.backend = f"{primary.backend}+{host.backend}"
        self.min_window_s = max(primary.min_window_s, host.min_window_s)

    def start(self) -> None:
        self.host.start()
        self.primary.start()

    def close(self) -> None:
        self.primary.close()
        self.host.close()

    def begin_window(self, name: str) -> None:
        self.host.begin_window(name)
        self.primary.begin_window(name)  # innermost: closest to the work

    def end_window(self, name: str) -> EnergyMeasurement:
        m = self.primary.end_window(name)
        h = self.host.end_window(name)
        if self.share is None:
            return replace(m, host=h)
        return replace(
            m,
            host=h,
            host_energy_share=self.share.fraction,
            host_energy_share_basis=self.share.basis,
        )

    def describe(self) -> str:
        return f"{self.primary.describe()}; host: {self.host.describe()}"


def check_new_window(name: str, open_windows: Mapping[str, Any]) -> None:
    """Refuse to open a window twice: its two ends would be ambiguous."""
    if name in open_windows:
        raise ValueError(f"energy window {name!r} is already open")


def pop_window(name: str, open_windows: dict[str, Any]) -> Any:
    """Close an open window and give back what `begin_window` stored for it."""
    try:
        return open_windows.pop(name)
    except KeyError:
        raise ValueError(f"energy window {name!r} was never begun") from None
