"""Energy arithmetic: counter differences across wraps, trapezoids, idle, the record's rules."""

from __future__ import annotations

import pytest

from harness.energy import EnergyMeasurement
from harness.energy.measurement import (
    CounterError,
    accumulate_counter,
    counter_delta,
    integrate_trapezoid,
    net_of_idle,
)
from harness.vocab import NVML_COUNTER, UNAVAILABLE


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
