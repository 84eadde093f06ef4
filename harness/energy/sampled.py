"""A monitor that samples any `PowerSource` on a fixed schedule and measures windows from it.

NVML on a GPU, RAPL files and recorded traces all run through this one monitor and hand their
readings to `measure_window`, so the NVML code path is tested without a GPU.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from harness.energy.clocks import RealClock, VirtualClock
from harness.energy.device_state import read_states, with_states
from harness.energy.measurement import DEFAULT_MIN_WINDOW_S, EnergyMeasurement, PowerSample
from harness.energy.monitor import IDLE_WINDOW, EnergyMonitor, check_new_window, pop_window
from harness.energy.sources import PowerSource
from harness.energy.window import measure_window


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
        self._state_start: dict[str, dict] = {}
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
        self.begin_window(IDLE_WINDOW)
        self.clock.sleep(seconds)
        m = self.end_window(IDLE_WINDOW)
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
        check_new_window(name, self._open)
        if self._epoch is None:  # not started: no baseline now, the device is warm
            self.start(idle=False)
            if self.idle_s > 0:
                self.idle_note = "no idle baseline: start() the monitor before the workload"
        if name != IDLE_WINDOW:  # temperature, clock, throttling as the timed steps begin
            self._state_start[name] = read_states(self.source)
        self._synchronize()
        t0 = self._tick(extras=False)
        self._open[name] = self._now() if t0 is None else t0

    def end_window(self, name: str) -> EnergyMeasurement:
        t0 = pop_window(name, self._open)
        self._synchronize()
        t1 = self._tick(extras=False)
        with self._lock:
            t1 = self._now() if t1 is None else t1
            fault = self._fault
            samples = [s for s in self._samples if t0 <= s.t_s <= t1]
            if not self._open and self._samples:  # keep memory flat between windows
                last = self._samples[-1].t_s
                self._samples = [s for s in self._samples if s.t_s == last]
        end_state = read_states(self.source) if name != IDLE_WINDOW else {}
        notes = list(self.source.notes)
        if self.idle_note and name != IDLE_WINDOW:
            notes.append(self.idle_note)
        m = measure_window(
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
        return with_states(m, self._state_start.pop(name, {}), end_state)

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
