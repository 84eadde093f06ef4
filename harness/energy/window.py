"""From the readings of one window to its `EnergyMeasurement`: which number to trust, and why.

Per device the energy is the counter difference when the counter advanced; otherwise the
integral of the instant-power samples; otherwise it is unavailable. A counter that did not move
over a short window is never reported as 0 J: NVML's counter updates only about every 100 ms
(Yang, Adamek & Armour 2024, arXiv:2312.02741), so a window shorter than that can see no change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.energy.measurement import (
    COUNTER_UPDATE_S,
    DEFAULT_MIN_WINDOW_S,
    CounterError,
    EnergyMeasurement,
    PowerSample,
    accumulate_counter,
    integrate_trapezoid,
    net_of_idle,
    peak_power,
    weakest,
)


@dataclass(frozen=True)
class DeviceReadings:
    """One device's energy over a window, both ways it can be had (None where it cannot)."""

    device: str
    counter_j: float | None  # None: no counter, too few readings, or the counter was reset
    sampled_j: float | None  # None: no instant power, or fewer than two samples
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceChoice:
    """The energy chosen for one device, its label, and what the user should know about it."""

    energy_j: float | None
    provenance: str | None  # None: unavailable, `missing` says why
    flags: tuple[str, ...] = ()
    missing: str = ""


@dataclass(frozen=True)
class WindowChoice:
    """Every device's choice over one window; any `missing` makes the window unavailable."""

    energy_j: Mapping[str, float]
    provenance: Mapping[str, str]
    flags: tuple[str, ...]
    missing: tuple[str, ...]


def measure_window(
    name: str,
    samples: Sequence[PowerSample],
    *,
    t0: float,
    t1: float,
    devices: Sequence[str],
    backend: str,
    counter_provenance: str | None,
    sampled_provenance: str | None,
    counter_wrap_mj: Mapping[str, float | None] | None = None,
    idle_power_w: Mapping[str, float] | None = None,
    min_window_s: float = DEFAULT_MIN_WINDOW_S,
    fault: str | None = None,
    sample_hz: float | None = None,
    notes: Sequence[str] = (),
) -> EnergyMeasurement:
    """Turn the readings of one window [t0, t1] into an `EnergyMeasurement`.

    Per device: the counter difference when the counter advanced; otherwise the integral of
    the power samples; otherwise unavailable. A counter that did not move over a short window
    is never reported as 0 J.
    """
    duration = t1 - t0
    window = tuple(s for s in samples if t0 <= s.t_s <= t1)
    refused = _refusal(name, backend, window, duration, devices, fault, sample_hz)
    if refused is not None:
        return refused
    wraps = counter_wrap_mj or {}
    readings = [
        read_device(dev, window, counter_provenance, sampled_provenance, wraps.get(dev))
        for dev in devices
    ]
    chosen = choose_all(readings, duration, min_window_s, counter_provenance, sampled_provenance)
    flags = [*notes, *chosen.flags]
    if chosen.missing:
        return EnergyMeasurement.unavailable(
            name,
            backend,
            "; ".join([*chosen.missing, *flags]),
            duration_s=duration,
            timeline=window,
            sample_hz=sample_hz,
        )
    energy, prov = dict(chosen.energy_j), dict(chosen.provenance)
    total = math.fsum(energy.values())
    idle = None
    if idle_power_w and all(d in idle_power_w for d in devices):
        idle = math.fsum(idle_power_w[d] for d in devices)
    counter_total = _running_total(r.counter_j for r in readings)
    sampled_total = _running_total(r.sampled_j for r in readings)
    return EnergyMeasurement(
        name=name,
        backend=backend,
        duration_s=duration,
        energy_j_by_device=energy,
        total_energy_j=total,
        provenance=weakest(prov.values()),
        reason="; ".join(flags),
        provenance_by_device=prov,
        mean_power_w=total / duration,
        peak_power_w=peak_power(window, devices),
        idle_power_w=idle,
        net_energy_j=net_of_idle(total, idle, duration),
        counter_energy_j=counter_total if counter_provenance else None,
        sampled_energy_j=sampled_total if sampled_provenance else None,
        sample_hz=sample_hz,
        flags=tuple(flags),
        timeline=window,
    )


def _refusal(
    name: str,
    backend: str,
    window: tuple[PowerSample, ...],
    duration: float,
    devices: Sequence[str],
    fault: str | None,
    sample_hz: float | None,
) -> EnergyMeasurement | None:
    """The windows with nothing to compute: a failed source, no device, no time elapsed."""
    if fault:
        return EnergyMeasurement.unavailable(
            name, backend, fault, duration_s=duration, timeline=window, sample_hz=sample_hz
        )
    if not devices:
        return EnergyMeasurement.unavailable(
            name, backend, "no device to measure", duration_s=duration, sample_hz=sample_hz
        )
    if duration <= 0:
        return EnergyMeasurement.unavailable(
            name,
            backend,
            f"window of {duration:.3g} s: nothing to measure",
            duration_s=duration,
            timeline=window,
            sample_hz=sample_hz,
        )
    return None


def read_device(
    device: str,
    window: Sequence[PowerSample],
    counter_provenance: str | None,
    sampled_provenance: str | None,
    wrap_mj: float | None,
) -> DeviceReadings:
    """One device's counter energy and integrated-sample energy over the window's readings."""
    ds = sorted((s for s in window if s.device == device), key=lambda s: s.t_s)
    counter_j = None
    flags: tuple[str, ...] = ()
    if counter_provenance and len(ds) >= 2 and all(s.counter_mj is not None for s in ds):
        try:
            counter_j = accumulate_counter([s.counter_mj for s in ds], wrap_mj) / 1e3
        except CounterError as exc:
            flags = (f"{device}: {exc}",)
    points = [(s.t_s, s.power_w) for s in ds if s.power_w is not None]
    sampled_j = None
    if sampled_provenance and len(points) >= 2:
        sampled_j = integrate_trapezoid([t for t, _ in points], [p for _, p in points])
    return DeviceReadings(device, counter_j, sampled_j, flags)


def choose_energy(
    r: DeviceReadings,
    duration: float,
    min_window_s: float,
    counter_provenance: str | None,
    sampled_provenance: str | None,
) -> DeviceChoice:
    """The counter when it advanced, else the samples, else unavailable, with the caveats."""
    dev = r.device
    if r.counter_j is not None and r.counter_j > 0:
        flags: tuple[str, ...] = ()
        if duration < min_window_s:
            flags = (
                f"{dev}: short window ({duration:.3g} s < {min_window_s:g} s); the counter "
                f"updates every ~{COUNTER_UPDATE_S:g} s, so lengthen the timed window",
            )
        return DeviceChoice(r.counter_j, counter_provenance, flags)
    if r.sampled_j is not None:
        flags = ()
        if r.counter_j is not None:  # the counter was read but did not move
            flags = (
                f"{dev}: the energy counter did not advance in {duration:.3g} s "
                f"(it updates every ~{COUNTER_UPDATE_S:g} s); energy from integrated samples",
            )
        return DeviceChoice(r.sampled_j, sampled_provenance, flags)
    why = (
        f"the energy counter did not advance in a {duration:.3g} s window "
        f"(it updates every ~{COUNTER_UPDATE_S:g} s) and there are no power samples; "
        f"lengthen the window to at least {min_window_s:g} s"
        if r.counter_j is not None
        else f"fewer than two readings in a {duration:.3g} s window"
    )
    return DeviceChoice(None, None, missing=f"{dev}: {why}")


def choose_all(
    readings: Sequence[DeviceReadings],
    duration: float,
    min_window_s: float,
    counter_provenance: str | None,
    sampled_provenance: str | None,
) -> WindowChoice:
    """Each device's choice in order; flags keep that order (a reading's own, then its choice's)."""
    energy: dict[str, float] = {}
    prov: dict[str, str] = {}
    flags: list[str] = []
    missing: list[str] = []
    for r in readings:
        flags.extend(r.flags)
        choice = choose_energy(r, duration, min_window_s, counter_provenance, sampled_provenance)
        flags.extend(choice.flags)
        if choice.energy_j is None or choice.provenance is None:
            missing.append(choice.missing)
        else:
            energy[r.device], prov[r.device] = choice.energy_j, choice.provenance
    return WindowChoice(energy, prov, tuple(flags), tuple(missing))


def _running_total(values: Iterable[float | None]) -> float | None:
    """Sum in device order, or None as soon as one device lacks the figure."""
    total: float | None = 0.0
    for v in values:
        total = None if v is None or total is None else total + v
    return total
