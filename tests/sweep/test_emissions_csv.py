"""`emissions.csv` beside the results: CodeCarbon's columns, one row per saved measurement,
appended as measurements land, and nothing we did not measure filled in."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from harness.catalog.grid import grid_intensity
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.emissions_csv import CODECARBON_COLUMNS
from harness.sweep.store import ResultStore

J_PER_KWH = 3.6e6


def _record(batch: int, provenance: str = "nvml-counter", host: str | None = "rapl"):
    grid = grid_intensity("FRA").to_dict()
    host_window = (
        {"provenance": host, "total_energy_j": 0.1 * J_PER_KWH, "mean_power_w": 90.0}
        if host
        else None
    )
    return Measurement.create(
        MeasurementConfig("resnet18", batch_size=batch, device="cuda", country="FRA", pue=1.2),
        environment={"os": "Linux-6", "python": "3.12.1", "gpu_count": 1, "gpu_name": "H200"},
        energy={
            "backend": "nvml",
            "provenance": provenance,
            "total_energy_j": 0.5 * J_PER_KWH,
            "duration_s": 100.0,
            "mean_power_w": 300.0,
            "host": host_window,
        },
        burden={"grid": grid, "pue": 1.2},
    )


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_columns_are_codecarbons():
    data = pytest.importorskip("codecarbon.output_methods.emissions_data")
    assert list(CODECARBON_COLUMNS) == [f.name for f in dataclasses.fields(data.EmissionsData)]


def test_a_row_is_appended_per_saved_measurement(tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.put(_record(1))
        assert len(_rows(tmp_path / "emissions.csv")) == 2  # header + the first row, at once
        store.put(_record(2))
        store.put(Measurement.create(MeasurementConfig("vgg16"), status="error", error="boom"))
    header, first, second = _rows(tmp_path / "emissions.csv")
    assert tuple(header) == CODECARBON_COLUMNS
    row = dict(zip(header, first, strict=True))
    kwh = 0.5 + 0.1  # GPU counter + host RAPL
    assert float(row["gpu_energy"]) == pytest.approx(0.5)
    assert float(row["cpu_energy"]) == pytest.approx(0.1)
    assert float(row["energy_consumed"]) == pytest.approx(kwh)
    fra = grid_intensity("FRA").kg_co2_per_kwh
    assert float(row["emissions"]) == pytest.approx(kwh * 1.2 * fra)
    assert float(row["emissions_rate"]) == pytest.approx(kwh * 1.2 * fra / 100.0)
    assert row["country_iso_code"] == "FRA" and row["country_name"] == "France"
    assert row["gpu_model"] == "H200" and float(row["pue"]) == 1.2
    # never measured, never invented
    for col in ("ram_energy", "ram_power", "longitude", "latitude", "cloud_provider", "on_cloud"):
        assert row[col] == "", col
    assert dict(zip(header, second, strict=True))["run_id"] == _record(2).key


def test_an_estimate_leaves_the_energy_columns_empty(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put(_record(1, provenance="estimated-tdp", host=None))
    header, row = _rows(tmp_path / "emissions.csv")
    row = dict(zip(header, row, strict=True))
    for col in ("gpu_energy", "cpu_energy", "energy_consumed", "emissions", "duration"):
        assert row[col] == "", col
    assert row["experiment_id"] == "resnet18"
