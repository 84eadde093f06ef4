"""Energy monitors: the NVML arithmetic through replayed traces, faults, and the factory.

Traces under tests/data are synthetic with known integrals; a stand-in pynvml module driven
by a trace runs the real NVML backend without a GPU.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.energy import (
    CodecarbonMonitor,
    CompositeMonitor,
    EnergyMeasurement,
    NvmlSource,
    PowerTrace,
    RaplSource,
    SampledEnergyMonitor,
    UnavailableMonitor,
    VirtualClock,
    counter_vs_samples,
    grid_intensity,
    make_energy_monitor,
    replay_monitor,
)
from harness.energy.base import (
    CounterError,
    accumulate_counter,
    counter_delta,
    integrate_trapezoid,
    net_of_idle,
)
from harness.errors import ConfigurationError
from harness.vocab import ESTIMATED_TDP, NVML_COUNTER, NVML_SAMPLED, RAPL, UNAVAILABLE

DATA = Path(__file__).parent / "data"


def run_window(monitor, *, before: float, length: float, name: str = "w") -> EnergyMeasurement:
    monitor.start()
    monitor.clock.sleep(before)
    monitor.begin_window(name)
    monitor.clock.sleep(length)
    return monitor.end_window(name)


# --------------------------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------------------------


def test_counter_delta_handles_one_wrap_and_refuses_a_reset():
    assert counter_delta(100.0, 250.0) == 150.0
    assert counter_delta(999_000.0, 1_000.0, wrap=1_000_000.0) == 2_000.0
    with pytest.raises(CounterError):
        counter_delta(999_000.0, 1_000.0)


def test_accumulated_readings_survive_several_wraps():
    # 300 J/s for 10 s read at 10 Hz, counter modulus 1 kJ: wraps three times
    readings = [(900_000 + 30_000 * k) % 1_000_000 for k in range(101)]
    assert accumulate_counter(readings, wrap=1_000_000) == pytest.approx(3_000_000)
    # the edges alone see one apparent wrap and get it wrong: why the sampler reads the counter
    assert counter_delta(readings[0], readings[-1], wrap=1_000_000) != 3_000_000


def test_trapezoid_is_exact_for_a_linear_ramp():
    times = [i * 0.1 for i in range(101)]  # 0..10 s
    powers = [10.0 * t for t in times]  # 0 -> 100 W
    assert integrate_trapezoid(times, powers) == pytest.approx(0.5 * 100.0 * 10.0)


def test_idle_subtraction():
    assert net_of_idle(3000.0, 60.0, 10.0) == 2400.0
    assert net_of_idle(3000.0, None, 10.0) is None


def test_measurement_cannot_say_zero_for_unknown():
    with pytest.raises(ValueError):
        EnergyMeasurement("w", "x", 1.0, {}, None, NVML_COUNTER)
    with pytest.raises(ValueError):
        EnergyMeasurement("w", "x", 1.0, {}, 0.0, UNAVAILABLE)


# --------------------------------------------------------------------------------------------
# Replayed traces
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The NVML backend, with a stand-in pynvml
# --------------------------------------------------------------------------------------------


class _NVMLError(Exception):
    def __init__(self, text: str):
        super().__init__(text)


class FakeNvml:
    """The pynvml calls the backend makes, answered from a trace at the virtual clock's time."""

    NVML_FI_DEV_POWER_INSTANT = 186
    NVML_CLOCK_SM = 1
    NVML_TEMPERATURE_GPU = 0
    NVMLError = _NVMLError

    def __init__(
        self, trace, clock, *, lost_after=None, counter=True, instant=True, init_error=False
    ):
        from harness.energy import ReplaySource

        self.source = ReplaySource(trace)
        self.clock = clock
        self.lost_after = lost_after
        self.counter = counter
        self.instant = instant
        self.init_error = init_error
        self.calls: list[str] = []

    def _now(self):
        t = self.clock.now()
        if self.lost_after is not None and t >= self.lost_after:
            raise _NVMLError("GPU is lost")
        return self.source.read("cuda:0", t)

    def nvmlInit(self):
        if self.init_error:
            raise _NVMLError("Driver Not Loaded")

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if not self.counter:
            raise _NVMLError("Not Supported")
        return int(round(self._now().counter_mj))

    def nvmlDeviceGetFieldValues(self, h, ids):
        assert ids == [self.NVML_FI_DEV_POWER_INSTANT]
        self.calls.append("instant")
        s = self._now()
        ret = 0 if self.instant else 3
        return [
            SimpleNamespace(
                nvmlReturn=ret,
                valueType=1,
                value=SimpleNamespace(uiVal=int(round(s.power_w * 1e3))),
            )
        ]

    def nvmlDeviceGetPowerUsage(self, h):
        self.calls.append("usage")
        return int(round(self._now().power_w * 1e3))

    def nvmlDeviceGetClockInfo(self, h, kind):
        self._now()
        return 1980

    def nvmlDeviceGetTemperature(self, h, sensor):
        self._now()
        return 55

    def nvmlDeviceGetUtilizationRates(self, h):
        self._now()
        return SimpleNamespace(gpu=97, memory=40)


def nvml_monitor(fake, clock, idle_s=0.0):
    return SampledEnergyMonitor(NvmlSource((0,), nvml=fake), clock=clock, idle_s=idle_s)


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


# --------------------------------------------------------------------------------------------
# RAPL
# --------------------------------------------------------------------------------------------


def _powercap(tmp_path, energy_uj: int, max_uj: int = 262_143_328_850):
    d = tmp_path / "intel-rapl:0"
    d.mkdir(parents=True)
    (d / "name").write_text("package-0\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (tmp_path / "intel-rapl:0:0").mkdir()  # a sub-domain (core): not a package, not counted
    return d


def test_rapl_counter_with_wrap_around(tmp_path):
    d = _powercap(tmp_path, energy_uj=9_900_000, max_uj=10_000_000)
    clock = VirtualClock()
    mon = SampledEnergyMonitor(RaplSource(tmp_path), clock=clock, idle_s=0)
    mon.start()
    mon.begin_window("w")
    (d / "energy_uj").write_text("400000\n")  # wrapped: 0.1 J + 0.4 J = 0.5 J
    clock.sleep(2.0)
    m = mon.end_window("w")
    assert m.provenance == RAPL
    assert m.energy_j_by_device == {"cpu:package-0": pytest.approx(0.5)}
    assert m.sampled_energy_j is None  # RAPL has no instant power


def test_unreadable_or_missing_rapl_is_unavailable(tmp_path, monkeypatch):
    mon = make_energy_monitor("cpu", backends=["rapl"], rapl_root=tmp_path)
    mon.begin_window("w")
    assert "no RAPL package domains" in mon.end_window("w").reason

    d = _powercap(tmp_path, energy_uj=1)
    real_read_text = Path.read_text

    def root_only(self, *a, **k):
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real_read_text(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", root_only)
    mon = make_energy_monitor("cpu", backends=["rapl"], rapl_root=tmp_path)
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and "not readable" in m.reason and str(d) in m.reason


def test_rapl_file_vanishing_mid_run(tmp_path):
    d = _powercap(tmp_path, energy_uj=1_000_000)
    clock = VirtualClock()
    mon = SampledEnergyMonitor(RaplSource(tmp_path), clock=clock, idle_s=0)
    mon.start()
    mon.begin_window("w")
    (d / "energy_uj").unlink()
    clock.sleep(1.0)
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and "energy_uj" in m.reason


# --------------------------------------------------------------------------------------------
# codecarbon
# --------------------------------------------------------------------------------------------


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


class _Tracker:
    def __init__(self, fail_on=""):
        self.fail_on = fail_on

    def start_task(self, name):
        if self.fail_on == "start":
            raise RuntimeError("psutil exploded")

    def stop_task(self, name):
        if self.fail_on == "stop":
            raise RuntimeError("lost the task")
        return SimpleNamespace(
            cpu_energy=1e-6, ram_energy=2e-6, emissions=1e-6, duration=0.5, ram_power=20.0
        )

    def stop(self):
        pass


@pytest.mark.parametrize(
    ("factory", "expect"),
    [
        (lambda: (_ for _ in ()).throw(OSError("no /proc")), "could not start"),
        (lambda: _Tracker("start"), "start_task failed"),
        (lambda: _Tracker("stop"), "stop_task failed"),
    ],
)
def test_codecarbon_failing_gives_unavailable(factory, expect):
    mon = CodecarbonMonitor(idle_s=0.0, tracker_factory=factory)
    mon.start()
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and expect in m.reason


def test_codecarbon_record_converts_kwh_to_joules():
    mon = CodecarbonMonitor(idle_s=0.0, tracker_factory=_Tracker)
    mon.start()
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.energy_j_by_device == {"cpu": pytest.approx(3.6), "ram": pytest.approx(7.2)}
    assert m.total_energy_j == pytest.approx(10.8) and m.mean_power_w == pytest.approx(21.6)
    assert m.provenance == ESTIMATED_TDP


# --------------------------------------------------------------------------------------------
# Factory and grid
# --------------------------------------------------------------------------------------------


def test_cuda_monitor_pairs_gpu_with_host():
    clock = VirtualClock()
    broken = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, init_error=True)
    mon = make_energy_monitor("cuda", nvml=broken, idle_s=0.0, backends=["nvml", "codecarbon"])
    assert isinstance(mon, CompositeMonitor)
    mon.host = CodecarbonMonitor(idle_s=0.0, tracker_factory=_Tracker)
    mon.start()
    mon.begin_window("w")
    m = mon.end_window("w")
    assert (
        m.provenance == UNAVAILABLE
        and m.host is not None
        and m.host.total_energy_j == pytest.approx(10.8)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"country": "XYZ"},
        {"pue": 0.9},
        {"sample_hz": 0},
        {"backends": ["zeus"]},
        {"backends": ["replay"]},
    ],
)
def test_bad_monitor_options_are_one_line_errors(kwargs):
    with pytest.raises(ConfigurationError) as exc:
        make_energy_monitor("cpu", **kwargs)
    assert "\n" not in str(exc.value)


def test_unknown_country_code_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="unknown country code 'XYZ'"):
        grid_intensity("XYZ")
    with pytest.raises(ConfigurationError, match="three-letter"):
        grid_intensity("US")
    with pytest.raises(ConfigurationError, match="FRA"):
        grid_intensity("France")


def test_grid_intensity_from_codecarbon_table_and_numbers():
    import codecarbon

    table = json.loads(
        (Path(codecarbon.__file__).parent / "data/private_infra/global_energy_mix.json").read_text()
    )
    fra = grid_intensity("fra")
    assert fra.kg_co2_per_kwh == pytest.approx(table["FRA"]["carbon_intensity"] / 1000)
    assert fra.region == "FRA" and "codecarbon" in fra.source
    assert grid_intensity(0.4).kg_co2_per_kwh == 0.4
    with pytest.raises(ConfigurationError):
        grid_intensity(-1.0)


def test_a_monitor_never_started_says_it_has_no_baseline():
    mon = replay_monitor(DATA / "power_constant_300w.csv", idle_s=1.0)
    mon.begin_window("w")  # started lazily, inside the workload: no idle baseline
    mon.clock.sleep(2.0)
    m = mon.end_window("w")
    assert m.total_energy_j == pytest.approx(600.0)
    assert m.idle_power_w is None and m.net_energy_j is None
    assert "start() the monitor" in m.reason


def test_factory_replay_backend_runs_in_real_time():
    mon = make_energy_monitor(
        "cuda:0",
        backends=["replay"],
        trace=DATA / "power_constant_300w.csv",
        idle_s=0.0,
        sample_hz=50,
    )
    assert isinstance(mon, SampledEnergyMonitor) and mon.backend == "replay"
    with mon:
        mon.begin_window("w")
        mon.clock.sleep(0.2)
        m = mon.end_window("w")
    assert m.sampled_energy_j == pytest.approx(300.0 * m.duration_s, rel=1e-6)
