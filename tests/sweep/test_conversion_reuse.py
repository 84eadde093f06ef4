"""Country, PUE and prices are conversions applied to a stored row, not part of its key: two
runs differing only in them reuse one row, and the figures follow the settings asked for."""

from __future__ import annotations

import pytest

from harness.catalog.grid import grid_intensity
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.loop import run_sweep
from harness.sweep.store import ResultStore

KWH, HOURS, BURDEN = 12.0, 5.0, 1e18


def _row(config: MeasurementConfig) -> Measurement:
    burden = {"kwh_per_run": KWH, "device_hours_per_run": HOURS, "burden_per_run_flop": BURDEN}
    return Measurement.create(config, timing={"median_s": 0.1}, burden=burden)


def test_two_runs_differing_only_in_country_reuse_one_row(tmp_path):
    usa = MeasurementConfig("resnet18", device="cpu", country="USA")
    fra = usa.replace(country="FRA", pue=1.5, price_per_cpu_hour=1.0)
    assert usa.key() == fra.key()
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put(_row(usa))
        messages: list[str] = []
        # the second run finds the row and measures nothing (an unknown target would fail)
        result = run_sweep([fra], store, target="no_such_module:nothing", echo=messages.append)
        assert result.skipped == 1 and store.count() == 1
        assert any("already measured" in m for m in messages)
        row = store.get_for(fra)
    b = row.burden
    assert row.config["country"] == "FRA" and b["grid"]["region"] == "FRA"
    assert b["co2_kg_per_run"] == pytest.approx(KWH * 1.5 * grid_intensity("FRA").kg_co2_per_kwh)
    assert b["usd_per_run"] == pytest.approx(HOURS * 1.0) and b["price_unit"] == "CPU-hour"
    with ResultStore(tmp_path / "r.sqlite") as store:
        back = store.get_for(usa).burden
    assert back["co2_kg_per_run"] == pytest.approx(KWH * grid_intensity("USA").kg_co2_per_kwh)
