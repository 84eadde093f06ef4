"""The sustained matmul peak: the median over windows of a run of at least `seconds` per size,
the best size, operands made on the device, and the CUDA event timer driven by a stand-in."""

from __future__ import annotations

import statistics

import pytest
import torch

from harness.errors import ConfigurationError, HarnessError
from harness.hardware import matmul_peak as mp
from harness.hardware.peaks import measure_matmul_peak, peak_figures


class ThrottlingTimer:
    """Simulated time: each matmul takes `fast_s` until `boost_s` of load, then `slow_s` (a GPU
    that boosts and then settles at its power limit); `stall` adds seconds to one window."""

    def __init__(self, fast_s=1e-3, slow_s=1.25e-3, boost_s=0.1, stall=None):
        self.fast_s, self.slow_s, self.boost_s = fast_s, slow_s, boost_s
        self.now, self.calls, self.stall = 0.0, 0, stall or {}

    def windows(self, k, count):
        out = []
        for _ in range(count):
            start = self.now
            for _ in range(k):
                self.now += self.fast_s if self.now < self.boost_s else self.slow_s
            self.now += self.stall.get(self.calls, 0.0)
            self.calls += 1
            out.append(self.now - start)
        return out


def test_the_rate_is_the_sustained_one_not_the_boosted_burst():
    n = 1000
    run = mp.sustain(ThrottlingTimer(), n, seconds=1.0, warmup_s=0.25)
    assert run.seconds >= 1.0 and len(run.window_s) >= 10
    # a 30 ms burst would report 2 n^3 / 1 ms; a second of load settles at 1.25 ms per matmul
    assert run.flop_per_s == pytest.approx(2 * n**3 / 1.25e-3, rel=1e-6)
    assert run.warmup_s >= 0.25


def test_a_stalled_window_does_not_move_the_median():
    n = 500
    calm = mp.sustain(ThrottlingTimer(boost_s=0.0), n, seconds=0.5, warmup_s=0.1)
    stalled_timer = ThrottlingTimer(boost_s=0.0, stall={12: 0.2})  # one window, after warm-up
    stalled = mp.sustain(stalled_timer, n, seconds=0.5, warmup_s=0.1)
    assert stalled.flop_per_s == pytest.approx(calm.flop_per_s, rel=1e-6)
    assert max(stalled.window_s) > 2 * statistics.median(stalled.window_s)


def test_the_best_size_wins_and_each_size_records_its_clock():
    per_size = {256: 4e-4, 512: 1e-3, 1024: 9e-3}  # seconds per matmul: 512 is the fastest rate
    clocks = iter([1980.0, 1755.0, 1600.0])
    peak = mp.sustained_peak(
        lambda n: ThrottlingTimer(fast_s=per_size[n], slow_s=per_size[n], boost_s=0.0),
        [1024, 256, 512],
        seconds=0.2,
        read_sm_clock=lambda: next(clocks),
    )
    assert [r.n for r in peak.runs] == [256, 512, 1024]
    assert [r.sm_clock_mhz for r in peak.runs] == [1980.0, 1755.0, 1600.0]
    rates = {r.n: 2 * r.n**3 / per_size[r.n] for r in peak.runs}
    assert peak.best.n == max(rates, key=rates.get) == 512
    assert peak.best.flop_per_s == pytest.approx(rates[512])
    with pytest.raises(ConfigurationError):
        mp.sustained_peak(lambda n: ThrottlingTimer(), [0], seconds=0.1)


class FakeCuda:
    """torch.cuda's events and synchronise over a simulated GPU clock that torch.mm advances."""

    def __init__(self, matmul_ms: float):
        self.clock_ms, self.matmul_ms, self.syncs = 0.0, matmul_ms, 0

    def synchronize(self, device=None):
        self.syncs += 1

    def Event(self, enable_timing=False):  # noqa: N802 - torch.cuda.Event's name
        cuda = self

        class Event:
            def record(self):
                self.at = cuda.clock_ms

            def elapsed_time(self, other):
                return other.at - self.at

        assert enable_timing
        return Event()


def test_the_cuda_window_timer_reads_events_with_one_synchronise_per_batch(monkeypatch):
    fake = FakeCuda(matmul_ms=2.0)
    real_mm = torch.mm

    def mm(a, b, *, out=None):
        fake.clock_ms += fake.matmul_ms
        return real_mm(a, b, out=out)

    monkeypatch.setattr(torch, "mm", mm)
    a = torch.randn(8, 8)
    timer = mp.CudaWindowTimer(a, a, "cuda:0", cuda=fake)
    assert timer.windows(3, 4) == pytest.approx([0.006] * 4)  # 3 matmuls x 2 ms, in seconds
    assert fake.syncs == 2  # before the first event and after the last
    run = mp.sustain(timer, 8, seconds=0.5, warmup_s=0.1)
    assert run.flop_per_s == pytest.approx(2 * 8**3 / 2e-3)
    assert run.seconds >= 0.5


def test_a_real_cpu_run_over_two_sizes(monkeypatch):
    made_on = []
    real_randn = torch.randn

    def randn(*shape, **kw):
        made_on.append(kw.get("device"))
        return real_randn(*shape, **kw)

    monkeypatch.setattr(torch, "randn", randn)
    p = measure_matmul_peak("cpu", torch.float32, sizes=(32, 64), seconds=0.03, threads=1)
    assert made_on and all(d is not None and torch.device(d).type == "cpu" for d in made_on)
    assert p.sizes == (32, 64) and len(p.by_size) == 2
    for r in p.by_size:
        assert r["seconds"] >= 0.03 and len(r["window_s"]) >= 10
        pairs = zip(r["window_s"], r["matmuls_per_window"], strict=True)
        per = statistics.median(t / k for t, k in pairs)
        assert r["flop_per_s"] == pytest.approx(2 * r["n"] ** 3 / per)
    assert p.flop_per_s == max(r["flop_per_s"] for r in p.by_size)
    assert p.sm_clock_mhz is None and p.max_sm_clock_mhz is None  # no NVML for a CPU


def test_sustained_seconds_come_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(mp.SECONDS_ENV, raising=False)
    assert mp.sustain_seconds() == mp.SUSTAIN_S == 1.0
    monkeypatch.setenv(mp.SECONDS_ENV, "0.25")
    assert mp.sustain_seconds() == 0.25 and mp.sustain_seconds(2.0) == 2.0
    monkeypatch.setenv(mp.SECONDS_ENV, "soon")
    with pytest.raises(ConfigurationError, match="HARNESS_PEAK_SECONDS"):
        mp.sustain_seconds()
    with pytest.raises(ConfigurationError):
        mp.sustain_seconds(0.0)


def test_default_sizes_per_device():
    assert mp.default_sizes(True, torch.bfloat16) == (2048, 4096, 8192)
    assert mp.default_sizes(False, torch.float32) == (256, 512, 1024)
    assert mp.default_sizes(False, torch.bfloat16) == (128, 256, 512)


def test_peak_figures_say_how_the_peak_was_measured():
    f = peak_figures("cpu", "fp32", threads=1, seconds=0.02)
    assert f["peak_measured_seconds"] >= 0.02
    assert f["peak_measured_sizes"] == [256, 512, 1024]
    by_size = f["peak_measured_by_size"]
    assert [r["n"] for r in by_size] == [256, 512, 1024]
    assert f["measured_flop_per_s"] == max(r["flop_per_s"] for r in by_size)
    assert f["peak_measured_sm_clock_mhz"] is None
    unmeasured = peak_figures("cpu", "fp32", measure=False)
    assert unmeasured["peak_measured_seconds"] is None


def test_a_timer_that_reports_no_time_cannot_hang_the_warm_up():
    class Frozen:
        def windows(self, k, count):
            return [0.0] * count

    with pytest.raises(HarnessError, match="measured no time"):
        mp.sustain(Frozen(), 16, seconds=0.1, warmup_s=0.02)  # bounded, then refused


def test_windows_that_run_short_get_more_matmuls():
    """A calibration taken while the machine was slow gives windows far below the target; the
    run lengthens them instead of ending after its window count short of `seconds`."""

    class SlowThenFast(ThrottlingTimer):
        def windows(self, k, count):
            self.fast_s = 1e-2 if self.calls < 4 else 1e-4  # a busy warm-up, then a free device
            return super().windows(k, count)

    run = mp.sustain(SlowThenFast(boost_s=1e9), 100, seconds=0.5, warmup_s=0.05)
    assert run.seconds >= 0.5
    assert run.matmuls_per_window[-1] > run.matmuls_per_window[0]
    assert run.flop_per_s == pytest.approx(2 * 100**3 / 1e-4)
