"""The sustained matmul peak: what the hardware keeps up for a second, not what it bursts.

A GPU boosts its clocks for the first tens of milliseconds of load and then settles at what
its power and thermal limits allow (NVIDIA, "GPU Boost",
https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html#group__nvmlDeviceQueries
lists the clock and throttle-reason queries); a 30 ms benchmark measures the burst. A training
step runs at the sustained clock, so the peak it is compared with must too. So, for each of
several sizes (a small matmul can be launch-bound, a large one memory-bound on some parts):

1. operands made on the device (no host copy, no pinned-memory effects);
2. warm up and calibrate: windows of 1, 2, 4, ... matmuls until one window lasts half a
   target window and the warm-up time is spent;
3. time back-to-back windows of k matmuls for at least `seconds` (default 1 s, or
   `HARNESS_PEAK_SECONDS`); the size's rate is the MEDIAN over windows, so neither a boosted
   first window nor one interrupted window decides it;
4. where NVML is available, read the SM clock at the end of the run.

The peak is the best size's median rate. CUDA windows are bounded by CUDA events with one
synchronise per batch of windows; CPU windows by perf_counter on a fixed thread count.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import torch

from harness.errors import ConfigurationError, HarnessError

SUSTAIN_S = 1.0  # seconds each size is timed for
SECONDS_ENV = "HARNESS_PEAK_SECONDS"  # overrides SUSTAIN_S (tests, quick looks)
WINDOWS = 10  # the timed run is split into this many windows (at least)
WARMUP_FRACTION = 0.25  # warm-up time, as a fraction of the timed seconds
CUDA_SIZES = (2048, 4096, 8192)
CPU_SIZES = (256, 512, 1024)
CPU_SIZES_16BIT = (128, 256, 512)  # 16-bit matmuls are often emulated on CPUs: far slower
MAX_WINDOW_FACTOR = 3  # never more than this many times WINDOWS windows
MAX_WARMUP_WINDOWS = 200  # a timer that never reaches the target window stops here
MAX_TIME_FACTOR = 4.0  # stop once the windows took this many times the seconds asked for


def sustain_seconds(seconds: float | None = None) -> float:
    """Seconds each size is sustained for: `seconds`, else `HARNESS_PEAK_SECONDS`, else 1."""
    if seconds is None:
        text = os.environ.get(SECONDS_ENV, "").strip()
        if not text:
            return SUSTAIN_S
        try:
            seconds = float(text)
        except ValueError:
            raise ConfigurationError(
                f"{SECONDS_ENV}={text!r} is not a number of seconds; unset it or give e.g. 1"
            ) from None
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise ConfigurationError(
            f"the matmul peak needs positive seconds (--peak-seconds), got {seconds!r}"
        )
    return float(seconds)


def default_sizes(cuda: bool, dtype: torch.dtype) -> tuple[int, ...]:
    if cuda:
        return CUDA_SIZES
    return CPU_SIZES if dtype.itemsize >= 4 else CPU_SIZES_16BIT


# --------------------------------------------------------------------------------------------
# Window timers: the only device-specific part
# --------------------------------------------------------------------------------------------


class WindowTimer(Protocol):
    """Times `count` back-to-back windows of `k` matmuls; seconds of each window."""

    def windows(self, k: int, count: int) -> list[float]: ...


class CpuWindowTimer:
    def __init__(self, a: torch.Tensor, b: torch.Tensor) -> None:
        self.a, self.b, self.c = a, b, torch.empty_like(a)

    def windows(self, k: int, count: int) -> list[float]:
        out = []
        for _ in range(count):
            t0 = time.perf_counter()
            for _ in range(k):
                torch.mm(self.a, self.b, out=self.c)
            out.append(time.perf_counter() - t0)
        return out


class CudaWindowTimer:
    """CUDA events between windows, one synchronise per call; `cuda` is torch.cuda (a
    stand-in in tests)."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, device: Any, cuda: Any = None) -> None:
        self.a, self.b, self.c = a, b, torch.empty_like(a)
        self.device, self.cuda = device, cuda if cuda is not None else torch.cuda

    def windows(self, k: int, count: int) -> list[float]:
        events = [self.cuda.Event(enable_timing=True) for _ in range(count + 1)]
        self.cuda.synchronize(self.device)
        events[0].record()
        for i in range(count):
            for _ in range(k):
                torch.mm(self.a, self.b, out=self.c)
            events[i + 1].record()
        self.cuda.synchronize(self.device)
        return [events[i].elapsed_time(events[i + 1]) / 1e3 for i in range(count)]


# --------------------------------------------------------------------------------------------
# The sustained run (the same on every device)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeRun:
    """One size sustained: every window's seconds and matmul count, the median rate."""

    n: int
    matmuls_per_window: tuple[int, ...]  # k of each window (raised where windows ran short)
    window_s: tuple[float, ...]
    warmup_s: float
    seconds: float  # timed: the sum of the windows
    flop_per_s: float  # 2 n^3 / the median seconds per matmul over windows
    sm_clock_mhz: float | None = None  # at the end of the run, where NVML reads it

    @property
    def per_matmul_s(self) -> tuple[float, ...]:
        return tuple(t / k for t, k in zip(self.window_s, self.matmuls_per_window, strict=True))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["window_s"] = list(self.window_s)
        d["matmuls_per_window"] = list(self.matmuls_per_window)
        return d


def _warm_up(timer: WindowTimer, target: float, warmup_s: float) -> tuple[int, float]:
    """Windows of 1, 2, 4, ... matmuls until one lasts half a `target` window and `warmup_s`
    are spent; (matmuls per `target` window, seconds spent)."""
    k, spent, last, per = 1, 0.0, 0.0, math.inf
    for _ in range(MAX_WARMUP_WINDOWS):
        if spent >= warmup_s and last >= target / 2:
            break
        (last,) = timer.windows(k, 1)
        spent += last
        per = min(per, last / k)  # a stall lengthens a window, never shortens one
        if last < target / 2:
            k *= 2
    return max(1, round(target / max(per, 1e-12))), spent


def sustain(
    timer: WindowTimer, n: int, *, seconds: float, windows: int = WINDOWS, warmup_s: float
) -> SizeRun:
    """Warm up and calibrate, then time windows of k matmuls for at least `seconds`.

    Windows that run shorter than half the target (a calibration taken while the machine was
    slow) get more matmuls; the rate is per matmul, so windows of different k still compare.
    """
    windows = max(3, windows)
    target = seconds / windows
    k, spent = _warm_up(timer, target, warmup_s)
    times: list[float] = []
    ks: list[int] = []
    limit, chunk = MAX_WINDOW_FACTOR * windows, 3  # a first look before the whole run
    while len(times) < limit:
        total = math.fsum(times)
        if len(times) >= windows and total >= seconds:
            break
        if len(times) >= 3 and total >= MAX_TIME_FACTOR * seconds:
            break  # a machine that stalls the windows: enough of them, not forever
        if times:
            recent = max(statistics.median(times[-chunk:]), 1e-12)
            if recent < target / 2:
                k = max(k + 1, round(k * target / recent))
                recent = target
            more = math.ceil((seconds - total) / recent)
            chunk = max(1, min(limit - len(times), max(windows - len(times), more)))
        times += timer.windows(k, chunk)
        ks += [k] * chunk
    per_matmul = statistics.median(t / m for t, m in zip(times, ks, strict=True))
    if not per_matmul > 0:
        raise HarnessError(f"the {n}x{n} matmul timer measured no time: no peak from it")
    return SizeRun(
        n=n,
        matmuls_per_window=tuple(ks),
        window_s=tuple(times),
        warmup_s=spent,
        seconds=math.fsum(times),
        flop_per_s=2.0 * n**3 / per_matmul,
    )


@dataclass(frozen=True)
class SustainedPeak:
    """Every size's run and the best one."""

    runs: tuple[SizeRun, ...]

    @property
    def best(self) -> SizeRun:
        return max(self.runs, key=lambda r: r.flop_per_s)


def sustained_peak(
    make_timer: Callable[[int], WindowTimer],
    sizes: Sequence[int],
    *,
    seconds: float,
    windows: int = WINDOWS,
    read_sm_clock: Callable[[], float | None] = lambda: None,
) -> SustainedPeak:
    """`sustain` each size (largest last, so its warm-up also heats the device for it)."""
    if not sizes or any(not isinstance(n, int) or n < 1 for n in sizes):
        raise ConfigurationError(f"matmul sizes must be positive integers, got {list(sizes)}")
    runs = []
    for n in sorted(set(sizes)):
        run = sustain(
            make_timer(n), n, seconds=seconds, windows=windows, warmup_s=WARMUP_FRACTION * seconds
        )
        clock = read_sm_clock()
        runs.append(run if clock is None else SizeRun(**{**asdict(run), "sm_clock_mhz": clock}))
    return SustainedPeak(tuple(runs))


# --------------------------------------------------------------------------------------------
# Device settings for the run
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def cpu_threads(threads: int | None, option: str = "threads") -> Iterator[int]:
    """Torch's intra-op thread count set to `threads` (None: unchanged), restored after."""
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ConfigurationError(f"{option} must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def cuda_tf32(enabled: bool) -> Iterator[None]:
    """TF32 for matmuls on or off (torch's fp32_precision API where it has it), restored after."""
    from harness.hardware.precision import restore_tf32, set_tf32, tf32_state

    saved = tf32_state(cudnn=False)
    set_tf32(enabled, cudnn=False)
    try:
        yield
    finally:
        restore_tf32(saved, cudnn=False)


def nvml_sm_clock(device: torch.device) -> Callable[[], float | None]:
    """A reader of the device's current SM clock (MHz) through NVML; None where unavailable."""
    from harness.hardware import nvml

    props = torch.cuda.get_device_properties(device)
    index = device.index if device.index is not None else torch.cuda.current_device()

    def read() -> float | None:
        facts, _ = nvml.device_facts(props, index, torch.cuda.device_count())
        value = facts.get("sm_clock_mhz")
        return float(value) if isinstance(value, (int, float)) else None

    return read


def max_sm_clock(device: torch.device) -> float | None:
    """The device's maximum SM clock (MHz) by NVML, for comparing the sustained one."""
    from harness.hardware import nvml

    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(device)
    facts, _ = nvml.device_facts(props, index, torch.cuda.device_count())
    value = facts.get("max_sm_clock_mhz")
    return float(value) if isinstance(value, (int, float)) else None
