"""Choosing and building the energy monitor for a device, in steps.

    parse the device -> check the options -> choose backends -> build each -> compose

NVML measures CUDA devices (amdsmi the AMD GPUs of a ROCm build of torch), with the host's
CPU/RAM beside it; the CPU is measured by RAPL, else estimated by codecarbon. Only bad input
raises (an unknown device or country code, a PUE below 1); a missing library, GPU or readable
file gives a monitor whose windows come back `unavailable` with the reason, so a measurement
never fails for want of a power meter.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.catalog.grid import grid_intensity
from harness.energy.amd_smi import AmdSmiSource
from harness.energy.codecarbon_backend import CodecarbonMonitor
from harness.energy.host_share import (
    HostShare,
    check_host_share,
    count_host_gpus,
    host_share,
    pool_gpus_in_use,
)
from harness.energy.measurement import DEFAULT_MIN_WINDOW_S
from harness.energy.monitor import CompositeMonitor, EnergyMonitor, UnavailableMonitor
from harness.energy.nvml import NvmlSource
from harness.energy.rapl import POWERCAP, RaplSource
from harness.energy.replay import PowerTrace, replay_monitor
from harness.energy.sampled import SampledEnergyMonitor
from harness.energy.sources import PowerSource, SourceUnavailable
from harness.errors import ConfigurationError
from harness.vocab import DEVICE_PATTERN

BACKENDS: tuple[str, ...] = ("nvml", "rapl", "codecarbon", "replay", "amdsmi")


@dataclass(frozen=True)
class MonitorSettings:
    """What building any backend needs, checked once by `make_energy_monitor`."""

    cuda_index: int = 0
    country: str = "USA"
    pue: float = 1.0
    sample_hz: float = 10.0
    idle_s: float = 2.0
    min_window_s: float = DEFAULT_MIN_WINDOW_S
    measure_power_secs: float = 1.0
    trace: str | Path | PowerTrace | None = None
    rapl_root: str | Path = POWERCAP
    nvml: Any = None  # a stand-in for the pynvml module (tests); None loads the real one
    cuda: Any = None  # a stand-in for torch.cuda's device properties (tests); None: torch's
    amdsmi: Any = None  # a stand-in for the amdsmi module (tests); None loads the real one
    host_share: float | None = None  # the part of the host charged to the run; None: by GPUs


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
    cuda: Any = None,
    amdsmi: Any = None,
    host_share: float | None = None,
) -> EnergyMonitor:
    """A monitor for `device` ("cpu", "cuda", "cuda:N").

    `backends` overrides the choice: the first is the primary measurement, a second one runs
    beside it as the host (e.g. ["nvml", "codecarbon"]). "replay" plays `trace` in real time,
    looping (benchmarks). `nvml` injects a stand-in for the pynvml module and `cuda` one for
    torch.cuda's device properties (tests). `host_share` overrides the part of the host's energy
    charged to the run (default: GPUs used / GPUs on the host, `harness.energy.host_share`).
    """
    kind, index = parse_device(device)
    check_options(country=country, pue=pue, sample_hz=sample_hz, idle_s=idle_s)
    names = check_backends(backends, trace)
    check_host_share(host_share)
    settings = MonitorSettings(
        cuda_index=index,
        country=country,
        pue=pue,
        sample_hz=sample_hz,
        idle_s=idle_s,
        min_window_s=min_window_s,
        measure_power_secs=measure_power_secs,
        trace=trace,
        rapl_root=rapl_root,
        nvml=nvml,
        cuda=cuda,
        amdsmi=amdsmi,
        host_share=host_share,
    )
    return compose(kind, names, settings)


def parse_device(device: Any) -> tuple[str, int]:
    """("cpu" or "cuda", index); a bare "cuda" is the current CUDA device where torch set one."""
    text = str(device).strip().lower()
    m = DEVICE_PATTERN.match(text)
    if not m:
        raise ConfigurationError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    kind, index = m.group(1), m.group(2)
    if index is not None:
        return kind, int(index)
    torch = sys.modules.get("torch")  # never import torch (or start CUDA) just for this
    if kind == "cuda" and torch is not None and torch.cuda.is_initialized():
        return kind, torch.cuda.current_device()
    return kind, 0


def check_options(*, country: str, pue: float, sample_hz: float, idle_s: float) -> None:
    """Refuse bad input now, as one line, rather than in a backend's log mid-run."""
    grid_intensity(country)  # an unknown country is bad input: fail now, not in codecarbon's log
    if not (math.isfinite(pue) and pue >= 1.0):
        raise ConfigurationError(
            f"PUE must be at least 1.0 (1.0 = no data-centre overhead), got {pue}"
        )
    if not (0 < sample_hz <= 1000):
        raise ConfigurationError(f"sample rate must be in (0, 1000] Hz, got {sample_hz}")
    if idle_s < 0:
        raise ConfigurationError(f"idle baseline duration must be >= 0 s, got {idle_s}")


def check_backends(backends: Sequence[str] | None, trace: object) -> list[str]:
    """The backends asked for (none: choose by device): known names, at most primary + host."""
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
    return names


def compose(kind: str, names: Sequence[str], s: MonitorSettings) -> EnergyMonitor:
    """The backends asked for, else NVML beside the host for CUDA, else the host alone."""
    if names:
        monitors = [build_backend(n, s) for n in names]
        if len(monitors) == 1:
            return monitors[0]
        return CompositeMonitor(monitors[0], monitors[1], share_of_host(kind, s))
    if kind == "cuda":
        gpu = "amdsmi" if rocm() else "nvml"
        return CompositeMonitor(build_backend(gpu, s), cpu_monitor(s), share_of_host(kind, s))
    return cpu_monitor(s)


def rocm() -> bool:
    """torch is a ROCm build (`torch.version.hip` set): its cuda:N devices are AMD GPUs."""
    torch = sys.modules.get("torch")  # never import torch just for this
    return torch is not None and getattr(getattr(torch, "version", None), "hip", None) is not None


def share_of_host(kind: str, s: MonitorSettings) -> HostShare:
    """One process measures one GPU: its share of the host is 1 / the host's GPUs, or, as one
    of a device pool's N workers running at once, 1 / N."""
    if s.host_share is not None or kind != "cuda":
        return host_share(kind, override=s.host_share)
    pool_gpus, note = pool_gpus_in_use()
    count, counted_by = count_host_gpus(s.nvml)
    return host_share(
        kind,
        gpus_used=1,
        host_gpus=count,
        counted_by=counted_by,
        pool_gpus=pool_gpus,
        note=note,
    )


def cpu_monitor(s: MonitorSettings) -> EnergyMonitor:
    """RAPL where its files are readable, else codecarbon's estimate, saying why."""
    rapl = build_backend("rapl", s)
    if not isinstance(rapl, UnavailableMonitor):
        return rapl
    return build_backend("codecarbon", s, note=f"RAPL unavailable: {rapl.reason}")


def build_backend(name: str, s: MonitorSettings, note: str = "") -> EnergyMonitor:
    """One backend's monitor, or an `UnavailableMonitor` saying why it cannot run here."""
    try:
        if name == "nvml":
            return _sampled(NvmlSource((s.cuda_index,), nvml=s.nvml, cuda=s.cuda), s)
        if name == "amdsmi":
            return _sampled(AmdSmiSource((s.cuda_index,), lib=s.amdsmi, cuda=s.cuda), s)
        if name == "rapl":
            return _sampled(RaplSource(s.rapl_root), s)
        if name == "replay":
            m = replay_monitor(
                s.trace,  # check_backends refused replay without a trace
                sample_hz=s.sample_hz,
                idle_s=s.idle_s,
                virtual=False,
                loop=True,
            )
            m.min_window_s = s.min_window_s
            return m
    except SourceUnavailable as exc:
        return UnavailableMonitor(name, str(exc))
    if importlib.util.find_spec("codecarbon") is None:
        return UnavailableMonitor(
            "codecarbon", "codecarbon is not installed (pip install 'dl-cost-harness[codecarbon]')"
        )
    return CodecarbonMonitor(
        country=s.country,
        pue=s.pue,
        measure_power_secs=s.measure_power_secs,
        idle_s=s.idle_s,
        note=note,
    )


def _sampled(source: PowerSource, s: MonitorSettings) -> SampledEnergyMonitor:
    return SampledEnergyMonitor(
        source, sample_hz=s.sample_hz, idle_s=s.idle_s, min_window_s=s.min_window_s
    )
