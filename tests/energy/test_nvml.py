"""The NVML backend, run without a GPU through a stand-in pynvml driven by a trace."""

from __future__ import annotations

import sys

import pytest

from harness.energy import PowerTrace, UnavailableMonitor, VirtualClock, make_energy_monitor
from harness.vocab import NVML_COUNTER, NVML_SAMPLED, UNAVAILABLE

from .fakes import DATA, FakeNvml, nvml_monitor, run_window


def test_nvml_backend_counter_energy_and_timeline():
    clock = VirtualClock()
    fake = FakeNvml(PowerTrace.read_csv(DATA / "power_idle_then_load.csv"), clock)
    mon = nvml_monitor(fake, clock, idle_s=3.0)
    m = run_window(mon, before=0.1, length=10.0)
    assert m.backend == "nvml" and m.provenance == NVML_COUNTER
    assert m.total_energy_j == pytest.approx(3000.0)
    assert m.net_energy_j == pytest.approx(2400.0)
    assert "usage" not in fake.calls  # instant power, not the trailing average
    inner = [s for s in m.timeline if s.sm_clock_mhz is not None]
    assert inner and all(
        s.sm_clock_mhz == 1980 and s.temperature_c == 55 and s.utilization_pct == 97 for s in inner
    )


def test_nvml_falls_back_to_power_usage_and_to_samples_without_a_counter():
    clock = VirtualClock()
    fake = FakeNvml(
        PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, counter=False, instant=False
    )
    mon = nvml_monitor(fake, clock)
    m = run_window(mon, before=0.5, length=10.0)
    assert m.provenance == NVML_SAMPLED
    assert m.total_energy_j == pytest.approx(3000.0)
    assert "usage" in fake.calls
    assert "trailing average" in m.reason and "no energy counter" in m.reason


def test_gpu_falling_off_the_bus_gives_unavailable_with_the_reason():
    clock = VirtualClock()
    fake = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, lost_after=5.0)
    mon = nvml_monitor(fake, clock)
    m = run_window(mon, before=1.0, length=8.0)  # the GPU goes at t = 5 s, mid-window
    assert m.provenance == UNAVAILABLE and m.total_energy_j is None
    assert "GPU is lost" in m.reason and "cuda:0" in m.reason
    assert m.duration_s == pytest.approx(8.0)  # the window itself still ended
    mon.begin_window("later")  # and later windows neither raise nor pretend
    clock.sleep(1.0)
    later = mon.end_window("later")
    assert later.provenance == UNAVAILABLE and "GPU is lost" in later.reason


def test_no_nvml_driver_or_library_gives_an_unavailable_monitor(monkeypatch):
    clock = VirtualClock()
    broken = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, init_error=True)
    mon = make_energy_monitor("cuda:0", backends=["nvml"], nvml=broken)
    assert isinstance(mon, UnavailableMonitor)
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and "Driver Not Loaded" in m.reason

    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    mon = make_energy_monitor("cuda:0", backends=["nvml"])
    mon.begin_window("w")
    assert "not installed" in mon.end_window("w").reason
