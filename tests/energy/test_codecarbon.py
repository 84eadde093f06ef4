"""The codecarbon backend: this machine's estimate, and failures that come back unavailable."""

from __future__ import annotations

import pytest

from harness.energy import CodecarbonMonitor, make_energy_monitor
from harness.vocab import ESTIMATED_TDP, UNAVAILABLE

from .fakes import FakeTracker


def test_cpu_monitor_on_this_machine_is_an_estimate_and_says_so(tmp_path):
    # no RAPL files (an empty powercap): the factory falls back to codecarbon's estimate
    mon = make_energy_monitor("cpu", idle_s=0.0, rapl_root=tmp_path)
    assert isinstance(mon, CodecarbonMonitor)
    with mon:
        mon.begin_window("w")
        sum(i * i for i in range(200_000))
        m = mon.end_window("w")
    assert m.backend == "codecarbon"
    assert set(m.energy_j_by_device) == {"cpu", "ram"}
    assert m.total_energy_j > 0 and m.co2_kg is not None and m.co2_kg > 0
    if mon.cpu_mode != "intel_rapl":  # codecarbon could not read RAPL either
        assert m.provenance == ESTIMATED_TDP and m.is_estimate
        assert "estimate, not a measurement" in m.reason and "RAPL unavailable" in m.reason
    assert m.provenance_by_device["ram"] == ESTIMATED_TDP


@pytest.mark.parametrize(
    ("factory", "expect"),
    [
        (lambda: (_ for _ in ()).throw(OSError("no /proc")), "could not start"),
        (lambda: FakeTracker("start"), "start_task failed"),
        (lambda: FakeTracker("stop"), "stop_task failed"),
    ],
)
def test_codecarbon_failing_gives_unavailable(factory, expect):
    mon = CodecarbonMonitor(idle_s=0.0, tracker_factory=factory)
    mon.start()
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and expect in m.reason


def test_codecarbon_record_converts_kwh_to_joules():
    mon = CodecarbonMonitor(idle_s=0.0, tracker_factory=FakeTracker)
    mon.start()
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.energy_j_by_device == {"cpu": pytest.approx(3.6), "ram": pytest.approx(7.2)}
    assert m.total_energy_j == pytest.approx(10.8) and m.mean_power_w == pytest.approx(21.6)
    assert m.provenance == ESTIMATED_TDP


def test_codecarbon_tracker_is_built_without_gpu_tracking(monkeypatch):
    # a stand-in codecarbon module: what the monitor passes, and the readers the tracker made
    import sys
    import types

    made = []

    class CPU:
        _mode = "constant"
        _tdp = 85

    class GPU:  # what codecarbon builds on a node with NVIDIA GPUs
        pass

    class OfflineEmissionsTracker(FakeTracker):
        def __init__(self, **kwargs):
            super().__init__()
            self.kwargs = kwargs
            self._hardware = [CPU(), GPU()]
            made.append(self)

    fake = types.ModuleType("codecarbon")
    fake.OfflineEmissionsTracker = OfflineEmissionsTracker
    monkeypatch.setitem(sys.modules, "codecarbon", fake)
    mon = CodecarbonMonitor(idle_s=0.0)
    mon.start()
    (tracker,) = made
    assert tracker.kwargs["gpu_ids"] == []
    assert [type(hw).__name__ for hw in tracker._hardware] == ["CPU"]
    mon.begin_window("w")
    assert set(mon.end_window("w").energy_j_by_device) == {"cpu", "ram"}
    mon.close()
