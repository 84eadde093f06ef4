"""CPU and RAM energy (and codecarbon's CO2) through codecarbon's offline tracker.

Each window is a codecarbon task (`start_task` / `stop_task`) on one tracker made in `start()`:
the tracker's first task spends ~2 s probing the hardware, so that happens once, off the hot
path, while the idle baseline is measured; later tasks cost about a millisecond.

Where codecarbon reads RAPL the CPU figure is `rapl`; otherwise (VMs, root-only RAPL files,
this build machine) it is CPU load x a TDP guess, and RAM power is always a fixed estimate,
so those figures are labelled `estimated-tdp`. codecarbon is told to track no GPU
(`gpu_ids=[]`, https://mlco2.github.io/codecarbon/parameters.html): left alone its tracker polls
every GPU of the node, and the NVML backend measures the GPU this run uses.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from harness.energy.measurement import EnergyMeasurement, net_of_idle, weakest
from harness.energy.monitor import IDLE_WINDOW, EnergyMonitor, check_new_window, pop_window
from harness.vocab import ESTIMATED_TDP, RAPL

KWH_TO_J = 3.6e6
_RAPL_MODES = {"intel_rapl"}


class CodecarbonMonitor(EnergyMonitor):
    backend = "codecarbon"

    def __init__(
        self,
        *,
        country: str = "USA",
        pue: float = 1.0,
        measure_power_secs: float = 1.0,
        idle_s: float = 2.0,
        note: str = "",
        tracker_factory: Callable[..., Any] | None = None,
    ):
        self.country = country
        self.pue = pue
        self.measure_power_secs = measure_power_secs
        self.idle_s = idle_s
        self.note = note
        self._factory = tracker_factory
        self._tracker: Any = None
        self._error: str | None = None
        self._open: dict[str, float] = {}
        self._active: str | None = None
        self.idle_power_w: float | None = None
        self.idle_note = ""
        self.cpu_mode = ""
        self.cpu_tdp_w: float | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._tracker is not None or self._error is not None:
            return
        try:
            self._tracker = self._make_tracker()
        except Exception as exc:
            self._error = f"codecarbon could not start: {type(exc).__name__}: {exc}"
            return
        # The first task probes the hardware (slow): make it the idle baseline.
        self.begin_window(IDLE_WINDOW)
        self._read_cpu_mode()
        time.sleep(max(self.idle_s, 0.0))
        m = self.end_window(IDLE_WINDOW)
        if not m.available:
            self.idle_note = f"no idle baseline: {m.reason}"
        elif self.idle_s > 0:
            self.idle_power_w = m.total_energy_j / m.duration_s

    def _make_tracker(self) -> Any:
        if self._factory is not None:
            return self._factory()
        from codecarbon import OfflineEmissionsTracker

        logging.getLogger("codecarbon").setLevel(logging.ERROR)  # after import: it resets it
        tracker = OfflineEmissionsTracker(**self.tracker_options())
        drop_gpu_hardware(tracker)
        return tracker

    def tracker_options(self) -> dict[str, Any]:
        """The tracker's keyword arguments: offline, quiet, and no GPU of its own."""
        return {
            "country_iso_code": self.country,
            "pue": self.pue,
            "log_level": "error",
            "save_to_file": False,
            "measure_power_secs": self.measure_power_secs,
            "gpu_ids": [],  # the NVML backend measures the GPU; codecarbon would poll them all
        }

    def _read_cpu_mode(self) -> None:
        for hw in getattr(self._tracker, "_hardware", None) or []:
            if type(hw).__name__ == "CPU":
                self.cpu_mode = str(getattr(hw, "_mode", "") or "")
                tdp = getattr(hw, "_tdp", None)
                self.cpu_tdp_w = float(tdp) if isinstance(tdp, (int, float)) else None

    def close(self) -> None:
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            with contextlib.suppress(Exception):
                tracker.stop()

    # -- windows ------------------------------------------------------------------------------

    def begin_window(self, name: str) -> None:
        check_new_window(name, self._open)
        if self._tracker is None and self._error is None and name != IDLE_WINDOW:
            self.start()  # slow (~2 s): call start() before the timed run
        self._open[name] = time.perf_counter()
        if self._tracker is None or self._active is not None:
            return
        try:
            self._tracker.start_task(name)
            self._active = name
        except Exception as exc:
            self._error = f"codecarbon start_task failed: {type(exc).__name__}: {exc}"

    def end_window(self, name: str) -> EnergyMeasurement:
        t0 = pop_window(name, self._open)
        duration = time.perf_counter() - t0
        if self._error is not None:
            return EnergyMeasurement.unavailable(
                name, self.backend, self._error, duration_s=duration
            )
        if self._tracker is None:
            return EnergyMeasurement.unavailable(
                name, self.backend, "codecarbon was not started", duration_s=duration
            )
        if self._active != name:
            return EnergyMeasurement.unavailable(
                name,
                self.backend,
                f"codecarbon measures one window at a time and {self._active!r} was open",
                duration_s=duration,
            )
        self._active = None
        try:
            data = self._tracker.stop_task(name)
        except Exception as exc:
            return EnergyMeasurement.unavailable(
                name,
                self.backend,
                f"codecarbon stop_task failed: {type(exc).__name__}: {exc}",
                duration_s=duration,
            )
        return self._record(name, data, duration)

    def _record(self, name: str, data: Any, duration: float) -> EnergyMeasurement:
        if data is None:
            return EnergyMeasurement.unavailable(
                name,
                self.backend,
                "codecarbon returned no data for the window",
                duration_s=duration,
            )
        try:
            cpu_j = float(data.cpu_energy) * KWH_TO_J
            ram_j = float(data.ram_energy) * KWH_TO_J
            co2 = float(data.emissions)
            dur = float(getattr(data, "duration", duration) or duration)
        except (AttributeError, TypeError, ValueError) as exc:
            return EnergyMeasurement.unavailable(
                name, self.backend, f"unreadable codecarbon data: {exc}", duration_s=duration
            )
        if not all(math.isfinite(x) and x >= 0 for x in (cpu_j, ram_j)):
            return EnergyMeasurement.unavailable(
                name, self.backend, f"codecarbon gave {cpu_j} J CPU, {ram_j} J RAM", duration_s=dur
            )
        cpu_prov = RAPL if self.cpu_mode in _RAPL_MODES else ESTIMATED_TDP
        prov = {"cpu": cpu_prov, "ram": ESTIMATED_TDP}
        total = cpu_j + ram_j
        flags = [self._explain(cpu_prov, data)]
        if self.note:
            flags.append(self.note)
        if self.idle_note and name != IDLE_WINDOW:
            flags.append(self.idle_note)
        return EnergyMeasurement(
            name=name,
            backend=self.backend,
            duration_s=dur,
            energy_j_by_device={"cpu": cpu_j, "ram": ram_j},
            total_energy_j=total,
            provenance=weakest(prov.values()),
            reason="; ".join(f for f in flags if f),
            provenance_by_device=prov,
            mean_power_w=total / dur if dur > 0 else None,
            idle_power_w=self.idle_power_w,
            net_energy_j=net_of_idle(total, self.idle_power_w, dur),
            co2_kg=co2,
            flags=tuple(f for f in flags if f),
        )

    def _explain(self, cpu_prov: str, data: Any) -> str:
        ram_w = getattr(data, "ram_power", None)
        ram = (
            f"RAM a fixed {ram_w:g} W estimate"
            if isinstance(ram_w, (int, float))
            else "RAM estimated"
        )
        if cpu_prov == RAPL:
            return f"codecarbon: CPU from RAPL; {ram}"
        tdp = f"{self.cpu_tdp_w:g} W" if self.cpu_tdp_w else "a TDP guess"
        mode = self.cpu_mode or "unknown mode"
        return f"estimate, not a measurement: codecarbon CPU power = load x {tdp} ({mode}, no RAPL); {ram}"

    def describe(self) -> str:
        if self._error:
            return f"codecarbon: unavailable ({self._error})"
        return f"codecarbon offline tracker ({self.country}, PUE {self.pue:g})"


def drop_gpu_hardware(tracker: Any) -> None:
    """Remove a GPU reader the tracker made despite `gpu_ids=[]`.

    codecarbon 3.x keeps polling every GPU's counters with an empty id list (it only sums none
    of them), so the reader itself goes: the host figure is CPU and RAM only.
    """
    hardware = getattr(tracker, "_hardware", None)
    if isinstance(hardware, list):
        hardware[:] = [hw for hw in hardware if type(hw).__name__ != "GPU"]
