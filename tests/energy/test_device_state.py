"""Temperature, SM clock and clock-event reasons at the edges of the timed window (fake NVML)."""

from __future__ import annotations

from harness.energy import PowerTrace, VirtualClock
from harness.hardware.nvml import clock_state, decode_clock_event_reasons

from .fakes import DATA, FakeNvml, nvml_monitor, run_window

SW_POWER_CAP, HW_THERMAL, GPU_IDLE = 0x4, 0x40, 0x1


def test_decoding_names_every_bit_of_nvml_h_in_order():
    # nvml.h: nvmlClocksEventReason* = 0x1, 0x2, 0x4, ..., 0x100
    assert decode_clock_event_reasons(0x1FF) == (
        "gpu_idle",
        "applications_clocks_setting",
        "sw_power_cap",
        "hw_slowdown",
        "sync_boost",
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
        "display_clock_setting",
    )
    assert decode_clock_event_reasons(0) == ()
    assert decode_clock_event_reasons(0x4 | 0x400) == ("sw_power_cap", "unknown_0x400")


def _window(clock_events):
    clock = VirtualClock()
    trace = PowerTrace.read_csv(DATA / "power_idle_then_load.csv")
    fake = FakeNvml(
        trace, clock, clock_events=clock_events, temperature=lambda t: 40 if t < 1 else 83
    )
    return run_window(nvml_monitor(fake, clock), before=0.1, length=10.0)


def test_window_records_the_state_at_start_and_end_and_flags_power_throttling():
    # idle at the start; power-capped and hot after ten seconds of load
    m = _window(lambda t: GPU_IDLE if t < 1 else SW_POWER_CAP | HW_THERMAL)
    start, end = m.device_state_start["cuda:0"], m.device_state_end["cuda:0"]
    assert start == {
        "temperature_c": 40.0,
        "sm_clock_mhz": 1980.0,
        "clock_event_mask": 1,
        "clock_event_reasons": ["gpu_idle"],
    }
    assert end["temperature_c"] == 83.0 and end["clock_event_mask"] == 0x44
    assert end["clock_event_reasons"] == ["sw_power_cap", "hw_thermal_slowdown"]
    assert m.throttled_at_end == ("cuda:0: sw_power_cap", "cuda:0: hw_thermal_slowdown")
    assert any("held down by power or heat" in f for f in m.flags)
    assert "held down by power or heat" in m.reason
    d = m.to_dict()
    assert d["device_state_end"]["cuda:0"]["clock_event_reasons"] == end["clock_event_reasons"]
    assert d["throttled_at_end"] == list(m.throttled_at_end)


def test_idle_or_settings_reasons_are_not_throttling():
    m = _window(lambda t: GPU_IDLE | 0x2)
    assert m.device_state_end["cuda:0"]["clock_event_reasons"] == [
        "gpu_idle",
        "applications_clocks_setting",
    ]
    assert m.throttled_at_end == () and not any("held down" in f for f in m.flags)


class _OlderBindings(FakeNvml):
    nvmlDeviceGetCurrentClocksEventReasons = None  # before NVML 12.x renamed it

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h):
        return 0x80


def test_older_bindings_use_the_throttle_reasons_call():
    clock = VirtualClock()
    fake = _OlderBindings(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock)
    assert clock_state(fake, 0)["clock_event_reasons"] == ["hw_power_brake_slowdown"]
