"""What a sampling monitor reads: a `PowerSource` per kind of hardware, and how one fails.

A source gives instant power and/or a cumulative energy counter per device, and says which
provenance label each yields. NVML, RAPL and replayed traces are sources; the sampling monitor
turns their readings into windows, so every source shares one code path.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any

from harness.energy.measurement import PowerSample


class SourceError(Exception):
    """A power source failed while reading (NVML error, GPU lost, unreadable file, trace ended)."""


class SourceUnavailable(Exception):
    """A power source cannot be opened at all (no library, no GPU, no readable RAPL file)."""


class PowerSource(abc.ABC):
    """One kind of hardware reading: instant power and/or a cumulative energy counter."""

    backend: str = ""
    devices: tuple[str, ...] = ()
    counter_provenance: str | None = None  # label when the counter gives the energy
    sampled_provenance: str | None = None  # label when integrated samples give it
    notes: tuple[str, ...] = ()  # what the user should know (fallbacks, quirks)

    def counter_wrap_mj(self) -> Mapping[str, float | None]:
        """Each device's counter modulus in mJ (None: it never wraps)."""
        return {}

    @abc.abstractmethod
    def read(self, device: str, t_s: float, *, extras: bool = True) -> PowerSample:
        """One reading; raises on failure (the monitor turns that into `unavailable`)."""

    def state(self, device: str) -> Mapping[str, Any] | None:
        """The device's temperature, clock and clock-event reasons now (None: not known)."""
        return None

    def synchronize(self) -> None:  # noqa: B027 - optional hook
        """Wait for queued device work, so the reading covers it (CUDA)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def works(fn: Callable[[], Any]) -> bool:
    """Whether a library call succeeds on this device (a probe of an optional reading)."""
    try:
        fn()
        return True
    except Exception:
        return False
