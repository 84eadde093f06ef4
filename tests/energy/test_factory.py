"""The monitor factory (which backend for which device, bad options) and grid intensity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.energy import (
    CodecarbonMonitor,
    CompositeMonitor,
    PowerTrace,
    SampledEnergyMonitor,
    VirtualClock,
    grid_intensity,
    make_energy_monitor,
)
from harness.errors import ConfigurationError
from harness.vocab import UNAVAILABLE

from .fakes import DATA, FakeNvml, FakeTracker


def test_cuda_monitor_pairs_gpu_with_host():
    clock = VirtualClock()
    broken = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, init_error=True)
    mon = make_energy_monitor("cuda", nvml=broken, idle_s=0.0, backends=["nvml", "codecarbon"])
    assert isinstance(mon, CompositeMonitor)
    mon.host = CodecarbonMonitor(idle_s=0.0, tracker_factory=FakeTracker)
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
