"""The energy-monitor interface, its record, and the arithmetic every backend shares.

A monitor measures named windows (Zeus style): `begin_window(name)` just before the timed steps,
`end_window(name)` just after, returning an `EnergyMeasurement`. Hardware problems never raise
into the timed run: a window whose energy cannot be known comes back `unavailable` with the
reason, so the rest of the measurement survives.

The arithmetic lives here, once, as plain functions (counter differences with wrap-around,
trapezoid integration of power samples, idle subtraction, choosing a provenance), and
`SampledEnergyMonitor` drives it from any `PowerSource`: NVML on a GPU, RAPL files, or a recorded
trace replayed in tests. So the NVML code path is tested without a GPU.
"""

from __future__ import annotations

import abc
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.vocab import ESTIMATED_TDP, PROVENANCES, UNAVAILABLE

# NVML's energy counter moves about every 100 ms; below ~1 s it is badly quantised
# (Yang, Adamek & Armour 2024, arXiv:2312.02741).
COUNTER_UPDATE_S = 0.1
DEFAULT_MIN_WINDOW_S = 1.0


def weakest(provenances: Iterable[str]) -> str:
    """The least trustworthy label of several: a sum is only as good as its worst part."""
    labels = list(provenances)
    if not labels:
        return UNAVAILABLE
    return max(labels, key=PROVENANCES.index)


class SourceError(Exception):
    """A power source failed while reading (NVML error, GPU lost, unreadable file, trace ended)."""


class SourceUnavailable(Exception):
    """A power source cannot be opened at all (no library, no GPU, no readable RAPL file)."""


class CounterError(ValueError):
    """An energy counter went backwards without a known wrap-around (reset or driver reload)."""


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
    wraps = counter_wrap_mj or {}
    energy: dict[str, float] = {}
    prov: dict[str, str] = {}
    flags: list[str] = list(notes)
    missing: list[str] = []
    counter_total: float | None = 0.0
    sampled_total: float | None = 0.0
    for dev in devices:
        ds = sorted((s for s in window if s.device == dev), key=lambda s: s.t_s)
        counter_j = None
        if counter_provenance and len(ds) >= 2 and all(s.counter_mj is not None for s in ds):
            try:
                counter_j = accumulate_counter([s.counter_mj for s in ds], wraps.get(dev)) / 1e3
            except CounterError as exc:
                flags.append(f"{dev}: {exc}")
        points = [(s.t_s, s.power_w) for s in ds if s.power_w is not None]
        sampled_j = None
        if sampled_provenance and len(points) >= 2:
            sampled_j = integrate_trapezoid([t for t, _ in points], [p for _, p in points])
        counter_total = (
            None if counter_j is None or counter_total is None else counter_total + counter_j
        )
        sampled_total = (
            None if sampled_j is None or sampled_total is None else sampled_total + sampled_j
        )

        if counter_j is not None and counter_j > 0:
            energy[dev], prov[dev] = counter_j, counter_provenance  # type: ignore[assignment]
            if duration < min_window_s:
                flags.append(
                    f"{dev}: short window ({duration:.3g} s < {min_window_s:g} s); the counter "
                    f"updates every ~{COUNTER_UPDATE_S:g} s, so lengthen the timed window"
                )
        elif sampled_j is not None:
            energy[dev], prov[dev] = sampled_j, sampled_provenance  # type: ignore[assignment]
            if counter_j is not None:  # the counter was read but did not move
                flags.append(
                    f"{dev}: the energy counter did not advance in {duration:.3g} s "
                    f"(it updates every ~{COUNTER_UPDATE_S:g} s); energy from integrated samples"
                )
        else:
            why = (
                f"the energy counter did not advance in a {duration:.3g} s window "
                f"(it updates every ~{COUNTER_UPDATE_S:g} s) and there are no power samples; "
                f"lengthen the window to at least {min_window_s:g} s"
                if counter_j is not None
                else f"fewer than two readings in a {duration:.3g} s window"
            )
            missing.append(f"{dev}: {why}")

    if missing:
        return EnergyMeasurement.unavailable(
            name,
            backend,
            "; ".join(missing + flags),
            duration_s=duration,
            timeline=window,
            sample_hz=sample_hz,
        )
    total = math.fsum(energy.values())
    idle = None
    if idle_power_w and all(d in idle_power_w for d in devices):
        idle = math.fsum(idle_power_w[d] for d in devices)
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


# --------------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------------


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
        _check_new(name, self._open)
        self._open[name] = self._clock()

    def end_window(self, name: str) -> EnergyMeasurement:
        t0 = _pop(name, self._open)
        return EnergyMeasurement.unavailable(
            name, self.backend, self.reason, duration_s=self._clock() - t0
        )

    def describe(self) -> str:
        return f"{self.backend}: unavailable ({self.reason})"


class CompositeMonitor(EnergyMonitor):
    """An accelerator monitor with a host (CPU/RAM) monitor beside it over the same windows."""

    def __init__(self, primary: EnergyMonitor, host: EnergyMonitor):
        self.primary = primary
        self.host = host
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
        return _with_host(m, h)

    def describe(self) -> str:
        return f"{self.primary.describe()}; host: {self.host.describe()}"


def _with_host(m: EnergyMeasurement, host: EnergyMeasurement) -> EnergyMeasurement:
    from dataclasses import replace

    return replace(m, host=host)


def _check_new(name: str, open_windows: Mapping[str, Any]) -> None:
    if name in open_windows:
        raise ValueError(f"energy window {name!r} is already open")


def _pop(name: str, open_windows: dict[str, Any]) -> Any:
    try:
        return open_windows.pop(name)
    except KeyError:
        raise ValueError(f"energy window {name!r} was never begun") from None


# --------------------------------------------------------------------------------------------
# Sources and the sampling monitor
# --------------------------------------------------------------------------------------------


class PowerSource(abc.ABC):
    """One kind of hardware reading: instant power and/or a cumulative energy counter."""

    backend: str = ""
    devices: tuple[str, ...] = ()
    counter_provenance: str | None = None  # label when the counter gives the energy
    sampled_provenance: str | None = None  # label when integrated samples give it
    notes: tuple[str, ...] = ()  # what the user should know (fallbacks, quirks)

    def counter_wrap_mj(self) -> Mapping[str, float | None]:
        return {}

    @abc.abstractmethod
    def read(self, device: str, t_s: float, *, extras: bool = True) -> PowerSample:
        """One reading; raises on failure (the monitor turns that into `unavailable`)."""

    def synchronize(self) -> None:  # noqa: B027 - optional hook
        """Wait for queued device work, so the reading covers it (CUDA)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


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


class SampledEnergyMonitor(EnergyMonitor):
    """Reads a `PowerSource` at the window edges and `sample_hz` times a second in between.

    Edge readings are taken after synchronising the device, so a window covers its queued work.
    Any error from the source ends sampling, and windows that needed it come back `unavailable`
    with the error as the reason.
    """

    def __init__(
        self,
        source: PowerSource,
        *,
        sample_hz: float = 10.0,
        idle_s: float = 2.0,
        min_window_s: float = DEFAULT_MIN_WINDOW_S,
        clock: RealClock | VirtualClock | None = None,
    ):
        if not sample_hz > 0:
            raise ValueError("sample_hz must be positive")
        self.source = source
        self.backend = source.backend
        self.sample_hz = float(sample_hz)
        self.idle_s = idle_s
        self.min_window_s = min_window_s
        self.clock = clock or RealClock()
        self.idle_power_w: dict[str, float] = {}
        self.idle_note = ""
        self._lock = threading.Lock()
        self._samples: list[PowerSample] = []
        self._open: dict[str, float] = {}
        self._fault: str | None = None
        self._epoch: float | None = None
        self._thread: _SamplerThread | None = None
        self.ticks = 0
        self.tick_seconds = 0.0  # time spent reading: the sampler's own cost

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, *, idle: bool = True) -> None:
        if self._epoch is not None:
            return
        self._epoch = self.clock.now()
        period = 1.0 / self.sample_hz
        if isinstance(self.clock, VirtualClock):
            self.clock.attach(self._tick, period)
        else:
            self._thread = _SamplerThread(self._tick, period)
            self._thread.start()
        if idle and self.idle_s > 0:
            self.measure_idle(self.idle_s)

    def measure_idle(self, seconds: float) -> None:
        """Baseline power per device with nothing running (call before the workload)."""
        self.begin_window("__idle__")
        self.clock.sleep(seconds)
        m = self.end_window("__idle__")
        if m.available:
            self.idle_power_w = {d: e / m.duration_s for d, e in m.energy_j_by_device.items()}
        else:
            self.idle_note = f"no idle baseline: {m.reason}"

    def close(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        with contextlib.suppress(Exception):
            self.source.close()

    # -- sampling -----------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.now() - (self._epoch or 0.0)

    def _tick(self, *, extras: bool = True) -> float | None:
        """Read every device once: the tick's time, or None once the source has failed."""
        start = time.perf_counter()
        with self._lock:
            if self._fault is not None:
                return None
            t = self._now()
            batch = []
            for dev in self.source.devices:
                try:
                    batch.append(self.source.read(dev, t, extras=extras))
                except Exception as exc:  # any library error: the GPU may be gone
                    self._fault = (
                        f"{self.backend} read failed on {dev} at t={t:.2f} s: "
                        f"{type(exc).__name__}: {exc}"
                    )
                    return None
            self._samples.extend(batch)
            self.ticks += 1
            self.tick_seconds += time.perf_counter() - start
            return t

    def _synchronize(self) -> None:
        try:
            self.source.synchronize()
        except Exception as exc:
            with self._lock:
                self._fault = self._fault or f"device synchronise failed: {exc}"

    # -- windows ------------------------------------------------------------------------------

    def begin_window(self, name: str) -> None:
        _check_new(name, self._open)
        if self._epoch is None:  # not started: no baseline now, the device is warm
            self.start(idle=False)
            if self.idle_s > 0:
                self.idle_note = "no idle baseline: start() the monitor before the workload"
        self._synchronize()
        t0 = self._tick(extras=False)
        self._open[name] = self._now() if t0 is None else t0

    def end_window(self, name: str) -> EnergyMeasurement:
        t0 = _pop(name, self._open)
        self._synchronize()
        t1 = self._tick(extras=False)
        with self._lock:
            t1 = self._now() if t1 is None else t1
            fault = self._fault
            samples = [s for s in self._samples if t0 <= s.t_s <= t1]
            if not self._open and self._samples:  # keep memory flat between windows
                last = self._samples[-1].t_s
                self._samples = [s for s in self._samples if s.t_s == last]
        notes = list(self.source.notes)
        if self.idle_note and name != "__idle__":
            notes.append(self.idle_note)
        return measure_window(
            name,
            samples,
            t0=t0,
            t1=t1,
            devices=self.source.devices,
            backend=self.backend,
            counter_provenance=self.source.counter_provenance,
            sampled_provenance=self.source.sampled_provenance,
            counter_wrap_mj=self.source.counter_wrap_mj(),
            idle_power_w=self.idle_power_w,
            min_window_s=self.min_window_s,
            fault=fault,
            sample_hz=self.sample_hz,
            notes=notes,
        )

    def describe(self) -> str:
        devs = ", ".join(self.source.devices)
        return f"{self.backend} ({devs}) at {self.sample_hz:g} Hz"


class _SamplerThread(threading.Thread):
    """Calls `tick()` every `period` seconds on a fixed schedule until stopped or a read fails."""

    def __init__(self, tick: Callable[[], float | None], period: float):
        super().__init__(name="harness-power-sampler", daemon=True)
        self._tick = tick
        self._period = period
        self._stop_event = threading.Event()

    def run(self) -> None:
        next_t = time.perf_counter()
        while True:
            next_t += self._period
            delay = next_t - time.perf_counter()
            if delay < 0:  # fell behind (a slow read): skip the missed ticks
                next_t = time.perf_counter()
                delay = 0.0
            if self._stop_event.wait(delay):
                return
            if self._tick() is None:
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2.0)
