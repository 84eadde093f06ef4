"""Energy over the timed steps: one `EnergyMonitor` interface, a backend per kind of hardware.

    monitor = make_energy_monitor("cuda:0", country="USA", pue=1.0)
    monitor.start()                        # idle baseline, slow set-up: before the timed run
    monitor.begin_window("train")
    ...                                    # timed steps
    m = monitor.end_window("train")        # EnergyMeasurement: joules, power, provenance
    monitor.close()

The factory picks NVML for CUDA devices (with the host's CPU/RAM beside it) and RAPL, else
codecarbon's estimate, for the CPU. It raises only for bad input (an unknown country code, a
PUE below 1); a missing library, GPU or readable file gives a monitor whose windows come back
`unavailable` with the reason.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.catalog.grid import GridIntensity, grid_intensity
from harness.energy.base import (
    DEFAULT_MIN_WINDOW_S,
    CompositeMonitor,
    EnergyMeasurement,
    EnergyMonitor,
    PowerSample,
    PowerSource,
    SampledEnergyMonitor,
    SourceUnavailable,
    UnavailableMonitor,
    VirtualClock,
    counter_vs_samples,
)
from harness.energy.codecarbon_backend import CodecarbonMonitor
from harness.energy.nvml import NvmlSource
from harness.energy.rapl import POWERCAP, RaplSource
from harness.energy.replay import PowerTrace, ReplaySource, replay_monitor
from harness.errors import ConfigurationError
from harness.vocab import (
    DEVICE_PATTERN,
    ESTIMATED_TDP,
    NVML_COUNTER,
    NVML_SAMPLED,
    PROVENANCES,
    RAPL,
    UNAVAILABLE,
)

__all__ = [
    "BACKENDS",
    "ESTIMATED_TDP",
    "NVML_COUNTER",
    "NVML_SAMPLED",
    "PROVENANCES",
    "RAPL",
    "UNAVAILABLE",
    "CodecarbonMonitor",
    "CompositeMonitor",
    "EnergyMeasurement",
    "EnergyMonitor",
    "GridIntensity",
    "NvmlSource",
    "PowerSample",
    "PowerSource",
    "PowerTrace",
    "RaplSource",
    "ReplaySource",
    "SampledEnergyMonitor",
    "UnavailableMonitor",
    "VirtualClock",
    "counter_vs_samples",
    "grid_intensity",
    "make_energy_monitor",
    "replay_monitor",
]

BACKENDS: tuple[str, ...] = ("nvml", "rapl", "codecarbon", "replay")


def make_energy_monitor(
    device: Any = "cpu",
    *,
    backends: Sequence[str] | None = None,
    country: str = "USA",
    pue: float = 1.0,
    sample_hz: float = 10.0,
    idle_s: float = 2.0,
    min_window_s: float = DEFAULT_MIN_WINDOW_S,
    measure_power_secs: float = 1.0,
    trace: str | Path | PowerTrace | None = None,
    rapl_root: str | Path = POWERCAP,
    nvml: Any = None,
) -> EnergyMonitor:
    """A monitor for `device` ("cpu", "cuda", "cuda:N").

    `backends` overrides the choice: the first is the primary measurement, a second one runs
    beside it as the host (e.g. ["nvml", "codecarbon"]). "replay" plays `trace` in real time,
    looping (benchmarks). `nvml` injects a stand-in for the pynvml module (tests).
    """
    kind, index = _parse_device(device)
    grid_intensity(country)  # an unknown country is bad input: fail now, not in codecarbon's log
    if not (math.isfinite(pue) and pue >= 1.0):
        raise ConfigurationError(
            f"PUE must be at least 1.0 (1.0 = no data-centre overhead), got {pue}"
        )
    if not (0 < sample_hz <= 1000):
        raise ConfigurationError(f"sample rate must be in (0, 1000] Hz, got {sample_hz}")
    if idle_s < 0:
        raise ConfigurationError(f"idle baseline duration must be >= 0 s, got {idle_s}")
    names = list(backends) if backends else []
    for b in names:
        if b not in BACKENDS:
            raise ConfigurationError(f"unknown energy backend {b!r}; use {', '.join(BACKENDS)}")
    if len(names) > 2:
        raise ConfigurationError("give at most two energy backends: a primary and a host")
    if "replay" in names and trace is None:
        raise ConfigurationError(
            "the replay backend needs a trace (a CSV of t_s,power_w,energy_mj)"
        )

    def sampled(source: PowerSource) -> SampledEnergyMonitor:
        return SampledEnergyMonitor(
            source, sample_hz=sample_hz, idle_s=idle_s, min_window_s=min_window_s
        )

    def build(name: str, note: str = "") -> EnergyMonitor:
        try:
            if name == "nvml":
                return sampled(NvmlSource((index,), nvml=nvml))
            if name == "rapl":
                return sampled(RaplSource(rapl_root))
            if name == "replay":
                m = replay_monitor(
                    trace, sample_hz=sample_hz, idle_s=idle_s, virtual=False, loop=True
                )
                m.min_window_s = min_window_s
                return m
        except SourceUnavailable as exc:
            return UnavailableMonitor(name, str(exc))
        if importlib.util.find_spec("codecarbon") is None:
            return UnavailableMonitor(
                "codecarbon", "codecarbon is not installed (pip install codecarbon)"
            )
        return CodecarbonMonitor(
            country=country,
            pue=pue,
            measure_power_secs=measure_power_secs,
            idle_s=idle_s,
            note=note,
        )

    def cpu_monitor() -> EnergyMonitor:
        rapl = build("rapl")
        if not isinstance(rapl, UnavailableMonitor):
            return rapl
        return build("codecarbon", note=f"RAPL unavailable: {rapl.reason}")

    if names:
        monitors = [build(n) for n in names]
        return monitors[0] if len(monitors) == 1 else CompositeMonitor(monitors[0], monitors[1])
    if kind == "cuda":
        return CompositeMonitor(build("nvml"), cpu_monitor())
    return cpu_monitor()


def _parse_device(device: Any) -> tuple[str, int]:
    text = str(device).strip().lower()
    m = DEVICE_PATTERN.match(text)
    if not m:
        raise ConfigurationError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    kind, index = m.group(1), m.group(2)
    if index is not None:
        return kind, int(index)
    torch = sys.modules.get("torch")
    if kind == "cuda" and torch is not None and torch.cuda.is_initialized():
        return kind, torch.cuda.current_device()
    return kind, 0
