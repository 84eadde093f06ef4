"""Replay a recorded power trace through the same code path as a live GPU.

A trace is a CSV with a row per reading: `t_s` (seconds), `power_w` (instant power, may be
blank), `energy_mj` (the cumulative counter as read, already wrapped, may be blank), and
optionally `device`, `sm_clock_mhz`, `temperature_c`, `utilization_pct`. Comment lines at the
top carry metadata as `# key: value`: `counter_wrap_mj` (the counter's modulus), `source`
(`nvml` or `rapl`, which decides the provenance labels) and a free-text description.

Between rows, power is linear and the counter holds its last value, as a real counter does.
With a `VirtualClock` the tests run a ten-second window in microseconds; with the real clock
(the overhead benchmark) the sampler thread does exactly what it does on a GPU.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.energy.clocks import RealClock, VirtualClock
from harness.energy.measurement import DEFAULT_MIN_WINDOW_S, PowerSample, accumulate_counter
from harness.energy.sampled import SampledEnergyMonitor
from harness.energy.sources import PowerSource, SourceError
from harness.errors import ConfigurationError
from harness.vocab import NVML_COUNTER, NVML_SAMPLED, RAPL

_PROVENANCE = {"nvml": (NVML_COUNTER, NVML_SAMPLED), "rapl": (RAPL, None)}
_EXTRAS = ("sm_clock_mhz", "temperature_c", "utilization_pct")


@dataclass(frozen=True)
class DeviceTrace:
    """One device's rows, sorted by time."""

    t_s: tuple[float, ...]
    power_w: tuple[float | None, ...]
    energy_mj: tuple[float | None, ...]
    extras: Mapping[str, tuple[float | None, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class PowerTrace:
    devices: Mapping[str, DeviceTrace]
    counter_wrap_mj: float | None = None
    source: str = "nvml"
    description: str = ""
    path: str = ""

    @property
    def duration_s(self) -> float:
        return min(d.t_s[-1] for d in self.devices.values())

    @classmethod
    def from_arrays(
        cls,
        t_s: Sequence[float],
        power_w: Sequence[float | None],
        energy_mj: Sequence[float | None] | None = None,
        *,
        device: str = "cuda:0",
        counter_wrap_mj: float | None = None,
        source: str = "nvml",
        description: str = "",
    ) -> PowerTrace:
        energy = tuple(energy_mj) if energy_mj is not None else (None,) * len(t_s)
        trace = DeviceTrace(tuple(map(float, t_s)), tuple(power_w), energy)
        return cls({device: trace}, counter_wrap_mj, source, description)

    @classmethod
    def read_csv(cls, path: str | Path) -> PowerTrace:
        path = Path(path)
        meta: dict[str, str] = {}
        rows: list[str] = []
        try:
            with open(path, newline="") as f:
                for line in f:
                    if line.startswith("#"):
                        key, sep, value = line[1:].partition(":")
                        if sep:
                            meta[key.strip()] = value.strip()
                    elif line.strip():
                        rows.append(line)
        except OSError as exc:
            raise ConfigurationError(f"cannot read power trace {path}: {exc.strerror}") from None
        reader = csv.DictReader(rows)
        if not reader.fieldnames or "t_s" not in reader.fieldnames:
            raise ConfigurationError(f"power trace {path}: needs a header with a t_s column")
        per_dev: dict[str, list[dict[str, str]]] = {}
        for row in reader:
            per_dev.setdefault(row.get("device") or meta.get("device", "cuda:0"), []).append(row)
        devices = {}
        for dev, dev_rows in per_dev.items():
            dev_rows.sort(key=lambda r: float(r["t_s"]))
            devices[dev] = DeviceTrace(
                t_s=tuple(float(r["t_s"]) for r in dev_rows),
                power_w=tuple(_num(r.get("power_w")) for r in dev_rows),
                energy_mj=tuple(_num(r.get("energy_mj")) for r in dev_rows),
                extras={k: tuple(_num(r.get(k)) for r in dev_rows) for k in _EXTRAS},
            )
        source = meta.get("source", "nvml")
        if source not in _PROVENANCE:
            raise ConfigurationError(f"power trace {path}: source must be nvml or rapl")
        wrap = meta.get("counter_wrap_mj")
        return cls(
            devices, float(wrap) if wrap else None, source, meta.get("description", ""), str(path)
        )


def _num(cell: str | None) -> float | None:
    if cell is None or not cell.strip():
        return None
    return float(cell)


class ReplaySource(PowerSource):
    """Reads a `PowerTrace` at the monitor's time (plus `offset_s`); `loop` repeats it forever."""

    backend = "replay"

    def __init__(self, trace: PowerTrace, *, loop: bool = False, offset_s: float = 0.0):
        self.trace = trace
        self.loop = loop
        self.offset_s = offset_s
        self.devices = tuple(trace.devices)
        self.counter_provenance, self.sampled_provenance = _PROVENANCE[trace.source]
        self.notes = (
            f"replayed trace {trace.path or '(in memory)'}: not a measurement of this run",
        )
        # counter gained over one pass, for looping
        self._span = {
            dev: accumulate_counter(
                [e for e in d.energy_mj if e is not None], trace.counter_wrap_mj
            )
            if all(e is not None for e in d.energy_mj)
            else None
            for dev, d in trace.devices.items()
        }

    def counter_wrap_mj(self) -> Mapping[str, float | None]:
        return {d: self.trace.counter_wrap_mj for d in self.devices}

    def read(self, device: str, t_s: float, *, extras: bool = True) -> PowerSample:
        d = self.trace.devices[device]
        t = t_s + self.offset_s
        start, end = d.t_s[0], d.t_s[-1]
        passes = 0
        if t > end + 1e-9:
            if not self.loop:
                raise SourceError(f"trace ended at t={end:g} s")
            passes, rem = divmod(t - start, end - start)
            t = start + rem
        elif t < start - 1e-9:
            raise SourceError(f"trace starts at t={start:g} s")
        i = bisect.bisect_right(d.t_s, t + 1e-9) - 1  # last row at or before t
        i = max(i, 0)
        counter = d.energy_mj[i]
        if counter is not None and passes:
            span = self._span[device] or 0.0
            counter = counter + passes * span
            if self.trace.counter_wrap_mj:
                counter = math.fmod(counter, self.trace.counter_wrap_mj)
        sample_extras = {}
        if extras:
            sample_extras = {k: v[i] for k, v in d.extras.items()}
        return PowerSample(
            t_s=t_s,
            device=device,
            power_w=_interp(d.t_s, d.power_w, t, i),
            counter_mj=counter,
            **sample_extras,
        )


def _interp(ts: Sequence[float], ps: Sequence[float | None], t: float, i: int) -> float | None:
    p0 = ps[i]
    if p0 is None or i + 1 >= len(ts) or abs(t - ts[i]) < 1e-9:
        return p0
    p1 = ps[i + 1]
    if p1 is None:
        return p0
    w = (t - ts[i]) / (ts[i + 1] - ts[i])
    return p0 + w * (p1 - p0)


def replay_monitor(
    trace: PowerTrace | str | Path,
    *,
    sample_hz: float = 10.0,
    idle_s: float = 0.0,
    min_window_s: float = DEFAULT_MIN_WINDOW_S,
    virtual: bool = True,
    loop: bool = False,
) -> SampledEnergyMonitor:
    """A monitor over a trace; `virtual=True` runs on simulated time (advance with `clock.sleep`)."""
    if not isinstance(trace, PowerTrace):
        trace = PowerTrace.read_csv(trace)
    clock = VirtualClock() if virtual else RealClock()
    return SampledEnergyMonitor(
        ReplaySource(trace, loop=loop),
        sample_hz=sample_hz,
        idle_s=idle_s,
        min_window_s=min_window_s,
        clock=clock,
    )
