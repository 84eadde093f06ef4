"""The energy record and the arithmetic every backend shares.

`EnergyMeasurement` is what a window yields; `PowerSample` is one reading behind it. The
arithmetic lives here once, as plain functions: counter differences with wrap-around, trapezoid
integration of power samples, idle subtraction, peak power, and choosing a provenance. Every
backend (NVML, RAPL, codecarbon, replayed traces) goes through these, so their numbers agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.vocab import ESTIMATED_TDP, PROVENANCES, UNAVAILABLE

# NVML's energy counter moves about every 100 ms; below ~1 s it is badly quantised
# (Yang, Adamek & Armour 2024, arXiv:2312.02741).
COUNTER_UPDATE_S = 0.1
DEFAULT_MIN_WINDOW_S = 1.0


class CounterError(ValueError):
    """An energy counter went backwards without a known wrap-around (reset or driver reload)."""


def weakest(provenances: Iterable[str]) -> str:
    """The least trustworthy label of several: a sum is only as good as its worst part."""
    labels = list(provenances)
    if not labels:
        return UNAVAILABLE
    return max(labels, key=PROVENANCES.index)


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerSample:
    """One reading of one device; `t_s` is seconds since the monitor started."""

    t_s: float
    device: str
    power_w: float | None  # instant power; None where the source has none (RAPL)
    counter_mj: float | None = None  # cumulative energy counter, raw (may wrap)
    sm_clock_mhz: float | None = None
    temperature_c: float | None = None
    utilization_pct: float | None = None


@dataclass(frozen=True)
class EnergyMeasurement:
    """Energy over one window, with where the number came from.

    `total_energy_j` is None when unknown, never 0 for "unknown". `net_energy_j` is the total
    less the idle baseline over the same duration (None without a baseline; noise can make it
    slightly negative). `host` is the CPU/RAM measurement that ran beside a GPU measurement.
    """

    name: str
    backend: str
    duration_s: float
    energy_j_by_device: Mapping[str, float]
    total_energy_j: float | None
    provenance: str
    reason: str = ""
    provenance_by_device: Mapping[str, str] = field(default_factory=dict)
    mean_power_w: float | None = None
    peak_power_w: float | None = None
    idle_power_w: float | None = None
    net_energy_j: float | None = None
    counter_energy_j: float | None = None  # from the counter alone, when it was read
    sampled_energy_j: float | None = None  # from integrated samples alone, when taken
    sample_hz: float | None = None
    co2_kg: float | None = None  # codecarbon's own figure for the window, where it ran
    flags: tuple[str, ...] = ()
    timeline: tuple[PowerSample, ...] = ()
    host: EnergyMeasurement | None = None
    # each GPU's temperature, SM clock and clock-event reasons as the window began and ended
    device_state_start: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    device_state_end: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    throttled_at_end: tuple[str, ...] = ()  # "cuda:0: sw_power_cap", ... (power or heat)
    # the part of `host` (the whole machine's CPU/RAM) this run is charged with, and why
    host_energy_share: float | None = None
    host_energy_share_basis: str = ""

    def __post_init__(self) -> None:
        if self.provenance not in PROVENANCES:
            raise ValueError(f"unknown provenance {self.provenance!r}")
        if (self.total_energy_j is None) != (self.provenance == UNAVAILABLE):
            raise ValueError("total_energy_j must be None exactly when provenance is unavailable")

    @property
    def available(self) -> bool:
        return self.total_energy_j is not None

    @property
    def is_estimate(self) -> bool:
        return self.provenance == ESTIMATED_TDP

    def to_dict(self, *, timeline: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = self.duration_s if math.isfinite(self.duration_s) else None
        d["energy_j_by_device"] = dict(self.energy_j_by_device)
        d["provenance_by_device"] = dict(self.provenance_by_device)
        d["flags"] = list(self.flags)
        d["timeline"] = [asdict(s) for s in self.timeline] if timeline else []
        d["host"] = self.host.to_dict(timeline=timeline) if self.host else None
        d["device_state_start"] = {k: dict(v) for k, v in self.device_state_start.items()}
        d["device_state_end"] = {k: dict(v) for k, v in self.device_state_end.items()}
        d["throttled_at_end"] = list(self.throttled_at_end)
        return d

    @classmethod
    def unavailable(
        cls,
        name: str,
        backend: str,
        reason: str,
        *,
        duration_s: float = math.nan,
        timeline: Sequence[PowerSample] = (),
        sample_hz: float | None = None,
        host: EnergyMeasurement | None = None,
    ) -> EnergyMeasurement:
        """A window whose energy is unknown, with the reason; never 0 J."""
        return cls(
            name=name,
            backend=backend,
            duration_s=duration_s,
            energy_j_by_device={},
            total_energy_j=None,
            provenance=UNAVAILABLE,
            reason=reason,
            timeline=tuple(timeline),
            sample_hz=sample_hz,
            host=host,
        )


# --------------------------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------------------------


def counter_delta(start: float, end: float, wrap: float | None = None) -> float:
    """Increase of a cumulative counter between two readings, across at most one wrap.

    `wrap` is the counter's modulus (RAPL's max_energy_range_uj; NVML's 64-bit mJ counter never
    wraps in practice). A counter that goes backwards without a modulus was reset.
    """
    if end >= start:
        return end - start
    if wrap:
        return end + wrap - start
    raise CounterError(f"energy counter went backwards ({start:g} -> {end:g}): reset or reload")


def accumulate_counter(readings: Sequence[float], wrap: float | None = None) -> float:
    """Total increase over successive readings; reading often enough survives many wraps."""
    return math.fsum(
        counter_delta(a, b, wrap) for a, b in zip(readings, readings[1:], strict=False)
    )


def integrate_trapezoid(times: Sequence[float], powers: Sequence[float]) -> float:
    """Energy (J) under a power curve (W) sampled at `times` (s), linear between samples."""
    if len(times) != len(powers):
        raise ValueError("times and powers differ in length")
    return math.fsum(
        0.5 * (p0 + p1) * (t1 - t0)
        for t0, t1, p0, p1 in zip(times, times[1:], powers, powers[1:], strict=False)
    )


def net_of_idle(total_j: float | None, idle_w: float | None, duration_s: float) -> float | None:
    """Energy above the idle baseline: what the work itself cost."""
    if total_j is None or idle_w is None:
        return None
    return total_j - idle_w * duration_s


def counter_vs_samples(m: EnergyMeasurement) -> float | None:
    """Relative gap between the counter's energy and the integrated samples' (a check on both)."""
    if not m.counter_energy_j or m.sampled_energy_j is None:
        return None
    return abs(m.sampled_energy_j - m.counter_energy_j) / m.counter_energy_j


def peak_power(samples: Sequence[PowerSample], devices: Sequence[str]) -> float | None:
    """Highest total power at one tick: instant power, or the counter's rate since the last tick."""
    by_tick: dict[float, dict[str, float]] = {}
    last: dict[str, PowerSample] = {}
    for s in sorted(samples, key=lambda s: s.t_s):
        p = s.power_w
        prev = last.get(s.device)
        if (
            p is None
            and prev is not None
            and s.counter_mj is not None
            and prev.counter_mj is not None
        ):
            dt = s.t_s - prev.t_s
            if dt > 0 and s.counter_mj >= prev.counter_mj:
                p = (s.counter_mj - prev.counter_mj) / 1e3 / dt
        last[s.device] = s
        if p is not None:
            by_tick.setdefault(s.t_s, {})[s.device] = p
    totals = [math.fsum(v.values()) for v in by_tick.values() if len(v) == len(devices)]
    return max(totals) if totals else None
