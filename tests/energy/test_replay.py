"""The sampling monitor over replayed traces: known integrals, short windows, faults, windows.

Traces under tests/data are synthetic with known integrals.
"""

from __future__ import annotations

import json
import math

import pytest

from harness.energy import PowerTrace, counter_vs_samples, replay_monitor
from harness.vocab import NVML_COUNTER, NVML_SAMPLED, UNAVAILABLE

from .fakes import DATA, run_window


def test_constant_300_watts_for_10_seconds_is_3000_joules():
    m = run_window(replay_monitor(DATA / "power_constant_300w.csv"), before=0.5, length=10.0)
    assert m.provenance == NVML_COUNTER
    assert m.duration_s == pytest.approx(10.0)
    assert m.total_energy_j == pytest.approx(3000.0)
    assert m.counter_energy_j == pytest.approx(3000.0)
    assert m.sampled_energy_j == pytest.approx(3000.0)
    assert m.mean_power_w == pytest.approx(300.0)
    assert m.peak_power_w == pytest.approx(300.0)
    assert m.energy_j_by_device == {"cuda:0": pytest.approx(3000.0)}
    assert len(m.timeline) >= 100  # 10 Hz over 10 s, plus the two edges
    assert "replayed trace" in m.reason  # a replay never poses as a measurement of this run


def test_wrapping_counter_gives_the_same_energy():
    m = run_window(replay_monitor(DATA / "power_wrapping_counter.csv"), before=0.5, length=10.0)
    assert m.provenance == NVML_COUNTER
    assert m.total_energy_j == pytest.approx(3000.0)


def test_idle_baseline_is_measured_and_subtracted():
    mon = replay_monitor(DATA / "power_idle_then_load.csv", idle_s=3.0)
    m = run_window(mon, before=0.1, length=10.0)  # the window is 3.1..13.1 s, all at 300 W
    assert mon.idle_power_w == {"cuda:0": pytest.approx(60.0)}
    assert m.total_energy_j == pytest.approx(3000.0)
    assert m.idle_power_w == pytest.approx(60.0)
    assert m.net_energy_j == pytest.approx(3000.0 - 60.0 * 10.0)


def test_window_shorter_than_the_counter_update_uses_samples_not_zero():
    # counter rows every 0.1 s: a 0.05 s window between rows sees no change
    m = run_window(replay_monitor(DATA / "power_constant_300w.csv"), before=0.52, length=0.05)
    assert m.provenance == NVML_SAMPLED
    assert m.total_energy_j == pytest.approx(300.0 * 0.05)
    assert any("did not advance" in f for f in m.flags)


def test_short_window_without_samples_is_unavailable_not_zero():
    t = [k / 10 for k in range(21)]
    trace = PowerTrace.from_arrays(t, [None] * 21, [1e6 + 30_000 * k for k in range(21)])
    m = run_window(replay_monitor(trace), before=0.52, length=0.05)
    assert m.provenance == UNAVAILABLE and m.total_energy_j is None
    assert "lengthen" in m.reason


def test_short_window_from_the_counter_is_flagged():
    m = run_window(replay_monitor(DATA / "power_constant_300w.csv"), before=0.5, length=0.5)
    assert m.provenance == NVML_COUNTER
    assert m.total_energy_j == pytest.approx(150.0)
    assert any("short window" in f for f in m.flags)


def test_trace_running_out_makes_the_window_unavailable():
    m = run_window(replay_monitor(DATA / "power_constant_300w.csv"), before=5.0, length=10.0)
    assert m.provenance == UNAVAILABLE
    assert "trace ended" in m.reason


def test_counter_and_samples_agree_within_5_percent_over_30_seconds():
    # fluctuating power recorded at 100 Hz, the counter its exact running integral;
    # the monitor samples it at 10 Hz, as on a GPU (the lent-GPU target checks the same gap)
    t = [k / 100 for k in range(3501)]
    p = [
        250.0 + 100.0 * math.sin(2 * math.pi * 0.37 * x) + 30.0 * math.sin(2 * math.pi * 3.1 * x)
        for x in t
    ]
    e = [0.0]
    for k in range(1, len(t)):
        e.append(e[-1] + 0.5 * (p[k - 1] + p[k]) * 0.01 * 1e3)
    m = run_window(replay_monitor(PowerTrace.from_arrays(t, p, e)), before=1.0, length=30.0)
    gap = counter_vs_samples(m)
    assert gap is not None and gap < 0.05
    expected = e[3100] / 1e3 - e[100] / 1e3
    assert m.counter_energy_j == pytest.approx(expected, rel=1e-9)


def test_real_time_sampler_thread_samples_and_integrates():
    mon = replay_monitor(DATA / "power_constant_300w.csv", sample_hz=50, virtual=False, loop=True)
    mon.start()
    mon.begin_window("w")
    mon.clock.sleep(0.4)
    m = mon.end_window("w")
    mon.close()
    assert m.provenance == NVML_COUNTER
    # the counter moves in 0.1 s steps, so allow one step either side
    assert abs(m.total_energy_j - 300.0 * m.duration_s) <= 30.0 + 1e-6
    assert m.sampled_energy_j == pytest.approx(300.0 * m.duration_s, rel=1e-6)
    assert mon.ticks >= 10


def test_window_names_are_checked():
    mon = replay_monitor(DATA / "power_constant_300w.csv")
    mon.start()
    mon.begin_window("a")
    with pytest.raises(ValueError):
        mon.begin_window("a")
    with pytest.raises(ValueError):
        mon.end_window("never")


def test_overlapping_windows():
    mon = replay_monitor(DATA / "power_constant_300w.csv")
    mon.start()
    mon.begin_window("outer")
    mon.clock.sleep(2.0)
    mon.begin_window("inner")
    mon.clock.sleep(3.0)
    inner = mon.end_window("inner")
    mon.clock.sleep(1.0)
    outer = mon.end_window("outer")
    assert inner.total_energy_j == pytest.approx(900.0)
    assert outer.total_energy_j == pytest.approx(1800.0)


def test_measurement_serialises_to_json():
    m = run_window(replay_monitor(DATA / "power_constant_300w.csv"), before=0.5, length=1.0)
    d = json.loads(json.dumps(m.to_dict()))
    assert d["provenance"] == NVML_COUNTER and d["total_energy_j"] == pytest.approx(300.0)
    assert d["timeline"][0]["device"] == "cuda:0"


def test_a_monitor_never_started_says_it_has_no_baseline():
    mon = replay_monitor(DATA / "power_constant_300w.csv", idle_s=1.0)
    mon.begin_window("w")  # started lazily, inside the workload: no idle baseline
    mon.clock.sleep(2.0)
    m = mon.end_window("w")
    assert m.total_energy_j == pytest.approx(600.0)
    assert m.idle_power_w is None and m.net_energy_j is None
    assert "start() the monitor" in m.reason
