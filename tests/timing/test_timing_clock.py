"""Step clocks and step loops on a virtual clock: the CUDA event path runs here without a GPU.

A fake event records the virtual GPU time at which it is reached in the queue; a step queues a
known amount of GPU work. The loops and the CUDA clock are the production code, so the event
arithmetic, the one synchronise per window and the stopping rule are checked exactly.
"""

from __future__ import annotations

import time

import pytest
import torch
from timing_archs import RecordingMonitor, fast, mlp_arch

from harness.timing import run as timing_run
from harness.timing.clock import CudaEventClock, PerfCounterClock
from harness.timing.loop import (
    MAX_WARMUP_FACTOR,
    SETTLE_STEPS,
    WarmUp,
    expected_steps,
    settled,
    timed_window,
    warm_up,
)
from harness.timing.request import StepBudget
from harness.timing.runtime import CpuRuntime


class VirtualGpu:
    """A GPU queue on a virtual clock: steps add work, events read the time they are reached."""

    def __init__(self, host_per_step: float = 0.0):
        self.gpu_t = 0.0  # when the queued work will have finished
        self.host_t = 0.0  # the host's wall clock
        self.host_per_step = host_per_step  # host time to issue a step (asynchronous)
        self.syncs = 0
        self.events: list[FakeEvent] = []

    def event(self) -> FakeEvent:
        e = FakeEvent(self)
        self.events.append(e)
        return e

    def synchronize(self) -> None:
        self.syncs += 1
        self.host_t = max(self.host_t, self.gpu_t)

    def now(self) -> float:
        return self.host_t

    def step(self, seconds: float):
        def run() -> torch.Tensor:
            self.gpu_t = max(self.gpu_t, self.host_t) + seconds
            self.host_t += self.host_per_step
            return torch.tensor(1.0)

        return run


class FakeEvent:
    def __init__(self, gpu: VirtualGpu):
        self.gpu, self.at = gpu, None

    def record(self) -> None:
        self.at = self.gpu.gpu_t

    def synchronize(self) -> None:
        self.gpu.host_t = max(self.gpu.host_t, self.at)

    def elapsed_time(self, end: FakeEvent) -> float:
        assert self.at is not None and end.at is not None, "event was not recorded"
        return (end.at - self.at) * 1e3  # milliseconds, as torch.cuda.Event


def cuda_clock(gpu: VirtualGpu) -> CudaEventClock:
    return CudaEventClock(
        torch.device("cuda", 0), event=gpu.event, synchronize=gpu.synchronize, now=gpu.now
    )


def sequence(gpu: VirtualGpu, durations: list[float]):
    """A step that takes the next of `durations` each call (the last one repeats)."""
    calls = {"n": 0}

    def step() -> torch.Tensor:
        i = min(calls["n"], len(durations) - 1)
        calls["n"] += 1
        return gpu.step(durations[i])()

    return step, calls


def test_cuda_clock_samples_are_event_differences_with_one_synchronise_per_window():
    gpu = VirtualGpu(host_per_step=0.001)  # the host issues steps far ahead of the GPU
    step, calls = sequence(gpu, [0.010, 0.020, 0.030, 0.040])
    budget = StepBudget(warmup_steps=0, min_steps=4, min_seconds=0.0, exact_steps=False)
    mon = RecordingMonitor()
    window = timed_window(step, cuda_clock(gpu), budget, name="w", monitor=mon)
    assert window.samples_s == pytest.approx((0.010, 0.020, 0.030, 0.040), abs=1e-12)
    assert calls["n"] == 4
    assert gpu.syncs == 2  # before the window opens, and once to close it
    assert len(gpu.events) == 5  # one before the first step, one after each
    assert window.wall_s == pytest.approx(0.100)  # the final synchronise waits for the queue
    assert [e[0] for e in mon.events] == ["begin", "end"] and window.measurement["name"] == "w"


def test_cuda_clock_stops_on_wall_time_not_gpu_time():
    """min_seconds is read on the host's clock: steps issued ahead of the GPU do not count it."""
    gpu = VirtualGpu(host_per_step=0.010)
    step, calls = sequence(gpu, [0.100])
    budget = StepBudget(warmup_steps=0, min_steps=2, min_seconds=0.05, exact_steps=False)
    window = timed_window(step, cuda_clock(gpu), budget, name="w")
    assert calls["n"] == 5  # 5 x 10 ms of host time reach 50 ms
    assert window.samples_s == pytest.approx((0.1,) * 5)
    assert window.wall_s == pytest.approx(0.5)


def test_exact_steps_ignore_min_seconds():
    gpu = VirtualGpu(host_per_step=0.001)
    step, calls = sequence(gpu, [0.010])
    budget = StepBudget(warmup_steps=0, min_steps=3, min_seconds=100.0, exact_steps=True)
    timed_window(step, cuda_clock(gpu), budget, name="w")
    assert calls["n"] == 3


def test_cuda_warm_up_continues_until_step_times_settle():
    gpu = VirtualGpu()
    durations = [0.5, 0.3, 0.2, 0.11, 0.1, 0.1, 0.1, 0.1]
    step, calls = sequence(gpu, durations)
    warm = warm_up(step, cuda_clock(gpu), 2, settle=True)
    # settled once three consecutive steps are within 5% of their median: 0.11, 0.1, 0.1 is not
    # (10%), 0.1, 0.1, 0.1 is
    assert warm.samples_s == pytest.approx(tuple(durations[:7]))
    assert warm.note is None and calls["n"] == 7
    assert settled(warm.samples_s) and not settled(warm.samples_s[:6])


def test_warm_up_that_never_settles_is_bounded_and_noted():
    gpu = VirtualGpu()
    step, calls = sequence(gpu, [0.1 * (1 + i % 2) for i in range(100)])  # alternating
    warm = warm_up(step, cuda_clock(gpu), 2, settle=True)
    assert calls["n"] == max(30, MAX_WARMUP_FACTOR * 2)
    assert warm.note == "warm-up step times had not settled after 30 steps"


def test_warm_up_without_settling_runs_exactly_the_count():
    gpu = VirtualGpu()
    step, calls = sequence(gpu, [0.5, 0.1, 0.3])
    warm = warm_up(step, PerfCounterClock(now=gpu.now), 3, settle=False)
    assert calls["n"] == 3 and warm.note is None
    assert warm_up(step, PerfCounterClock(now=gpu.now), 0, settle=True).samples_s == ()


def test_perf_counter_clock_samples_are_mark_differences():
    gpu = VirtualGpu(host_per_step=0.0)
    clock = PerfCounterClock(now=gpu.now)

    def step() -> torch.Tensor:  # the CPU runs the step before returning
        gpu.host_t += 0.25
        return torch.tensor(0.0)

    budget = StepBudget(warmup_steps=0, min_steps=3, min_seconds=0.0, exact_steps=False)
    window = timed_window(step, clock, budget, name="w")
    assert window.samples_s == (0.25, 0.25, 0.25) and window.wall_s == 0.75
    assert clock.time_step(step) == 0.25


def test_expected_steps_follow_the_warm_up_pace():
    budget = StepBudget(warmup_steps=3, min_steps=5, min_seconds=2.0, exact_steps=False)
    assert expected_steps(WarmUp((9.0, 0.1, 0.1, 0.1)), budget) == 20  # 2 s / 0.1 s
    assert expected_steps(WarmUp(()), budget) == 5
    exact = StepBudget(warmup_steps=3, min_steps=5, min_seconds=2.0, exact_steps=True)
    assert expected_steps(WarmUp((0.1,) * SETTLE_STEPS), exact) == 5


class WallEvent:
    """A CUDA event stand-in on the CPU: the work is synchronous, so the wall clock is its time."""

    created = 0

    def __init__(self):
        WallEvent.created += 1
        self.at = None

    def record(self):
        self.at = time.perf_counter()

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return (end.at - self.at) * 1e3


def test_time_training_runs_the_cuda_event_path_with_fake_events(monkeypatch):
    """The whole run, on the CPU, through the CUDA clock and the settling warm-up."""
    syncs = {"n": 0}

    class EventRuntime(CpuRuntime):
        settles_warmup = True

        def clock(self):
            def sync():
                syncs["n"] += 1

            return CudaEventClock(self.device, event=WallEvent, synchronize=sync)

    monkeypatch.setattr(timing_run, "runtime_for", lambda dev: EventRuntime(dev))
    WallEvent.created = 0
    mon = RecordingMonitor()
    r = timing_run.time_training(mlp_arch(), fast(4, warmup_steps=2, min_steps=6), monitor=mon)
    assert r.steps == 6 and all(s > 0 for s in r.samples_s)
    assert 2 <= r.warmup_steps <= 30  # settling: at least the minimum, at most the bound
    assert syncs["n"] == 2  # one synchronise before the window, one to close it
    assert WallEvent.created == 2 * r.warmup_steps + r.steps + 1
    assert r.timed_s <= r.window_s + 1e-9
    assert r.timed_s <= r.window["duration_s"] + 1e-9
