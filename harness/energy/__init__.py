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

Modules, along the flow: `measurement` (the record and its arithmetic), `sources` (what is
read), `clocks`, `window` (readings to a record), `monitor` (the interface), `sampled` (the
sampling monitor), one module per backend (`nvml`, `rapl`, `codecarbon_backend`, `replay`),
`device_state` (a GPU's temperature, clock and throttling at a window's edges), `host_share` (the
part of the host's energy a run is charged), `factory` (which monitor for which device), and
`cooldown` (waiting for a cool GPU before the idle baseline).
"""

from __future__ import annotations

from harness.catalog.grid import GridIntensity, grid_intensity
from harness.energy.clocks import RealClock, VirtualClock
from harness.energy.codecarbon_backend import CodecarbonMonitor
from harness.energy.factory import BACKENDS, make_energy_monitor
from harness.energy.measurement import (
    DEFAULT_MIN_WINDOW_S,
    EnergyMeasurement,
    PowerSample,
    counter_vs_samples,
    weakest,
)
from harness.energy.monitor import CompositeMonitor, EnergyMonitor, UnavailableMonitor
from harness.energy.nvml import NvmlSource
from harness.energy.rapl import RaplSource
from harness.energy.replay import PowerTrace, ReplaySource, replay_monitor
from harness.energy.sampled import SampledEnergyMonitor
from harness.energy.sources import PowerSource, SourceError, SourceUnavailable
from harness.vocab import (
    ESTIMATED_TDP,
    NVML_COUNTER,
    NVML_SAMPLED,
    PROVENANCES,
    RAPL,
    UNAVAILABLE,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_MIN_WINDOW_S",
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
    "RealClock",
    "ReplaySource",
    "SampledEnergyMonitor",
    "SourceError",
    "SourceUnavailable",
    "UnavailableMonitor",
    "VirtualClock",
    "counter_vs_samples",
    "grid_intensity",
    "make_energy_monitor",
    "replay_monitor",
    "weakest",
]
