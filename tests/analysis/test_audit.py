"""Auditing a published run: the arithmetic on a synthetic run, and every figure labelled."""

from __future__ import annotations

import dataclasses

import pytest

from harness.analysis.audit import KINDS, MeasuredStep, audit_run, device_hours
from harness.catalog.grid import GridIntensity
from harness.catalog.runs import PublishedRun

RUN = PublishedRun(
    run="synthetic",
    model="Synthetic LM",
    zoo_name=None,
    year=2024,
    processor_type="A100 80GB SXM4",
    precision="bf16",
    devices=100,
    train_days=10.0,
    device_hours=None,
    avg_power_w=400.0,
    pue=1.1,
    energy_mwh=None,
    country="USA",
    grid_g_co2_per_kwh=None,
    co2_t=12.0,
    total_flop=1e22,
    tokens=1e11,
    source="a synthetic source",
)
GRID = GridIntensity(kg_co2_per_kwh=0.5, region="custom", source="0.5 kg/kWh (test)")


def test_capacity_is_devices_times_peak_times_hours_and_utilisation_the_ratio():
    a = audit_run(RUN, per_token_flop=6e10, peak=312e12, peak_source="datasheet", grid=GRID)
    hours = 100 * 10 * 24
    assert a.value("device-hours") == hours
    assert a.figure("device-hours").kind == "derived"  # from devices x days
    capacity = hours * 3600 * 312e12
    assert a.value("hardware capacity") == pytest.approx(capacity)
    assert a.value("training compute (counted)") == pytest.approx(6e10 * 1e11)
    assert a.implied_utilisation == pytest.approx(6e21 / capacity)
    assert a.value("implied utilisation (published compute)") == pytest.approx(1e22 / capacity)


def test_energy_from_power_and_hours_and_carbon_through_the_grid():
    a = audit_run(RUN, per_token_flop=None, peak=None, grid=GRID)
    mwh = 24_000 * 400 * 1.1 / 1e6
    assert a.value("energy (power x hours)") == pytest.approx(mwh)
    # no published energy: the derived energy goes through the grid, 0.5 kg/kWh
    assert a.value("CO2e (our grid route)") == pytest.approx(mwh * 1000 * 0.5 / 1000)
    assert a.value("CO2e (published)") == 12.0
    published = dataclasses.replace(RUN, energy_mwh=20.0)
    b = audit_run(published, per_token_flop=None, peak=None, grid=GRID)
    assert b.value("CO2e (our grid route)") == pytest.approx(10.0)  # 20 MWh x 0.5 t/MWh


def test_published_device_hours_win_over_devices_times_days():
    run = dataclasses.replace(RUN, device_hours=5000.0)
    f = device_hours(run)
    assert (f.value, f.kind) == (5000.0, "published")


def test_every_figure_is_labelled_and_unknowns_stay_empty():
    run = dataclasses.replace(RUN, devices=None, tokens=None, total_flop=None)
    a = audit_run(run, per_token_flop=6e10, peak=312e12)
    assert {f.kind for f in a.figures} <= set(KINDS)
    assert all(f.basis for f in a.figures)
    assert a.implied_utilisation is None  # no tokens, no device-hours: nothing guessed
    assert a.value("CO2e (our grid route)") is None  # no grid given
    assert a.to_dict()["figures"][0]["kind"] in KINDS


def test_a_measured_step_projects_the_run_s_device_hours():
    step = MeasuredStep(device="H100", seconds=2.0, tokens_per_step=4096 * 8, devices=8)
    a = audit_run(RUN, per_token_flop=None, peak=None, step=step)
    f = a.figure("projected device-hours on H100")
    assert f.kind == "derived"
    assert f.value == pytest.approx(1e11 / (4096 * 8) * 2.0 * 8 / 3600)
