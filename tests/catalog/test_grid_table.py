"""The country carbon table is the cited copy shipped with the harness, not CodeCarbon's files."""

from __future__ import annotations

import csv
import inspect

import pytest

from harness.catalog import grid
from harness.data import DATA_DIR
from harness.errors import ConfigurationError


def _shipped() -> dict[str, float]:
    with open(DATA_DIR / "grid_carbon_intensity.csv", newline="") as f:
        return {r["iso_code"]: float(r["g_co2_per_kwh"]) for r in csv.DictReader(f)}


@pytest.mark.parametrize("code", ["USA", "FRA", "DEU"])
def test_country_intensity_equals_the_shipped_copy(code):
    g = grid.grid_intensity(code)
    assert g.g_co2_per_kwh == pytest.approx(_shipped()[code])
    assert "codecarbon" in g.source.lower() and "our world in data" in g.source.lower()


def test_the_shipped_copy_has_its_source_and_license_beside_it():
    notes = (DATA_DIR / "grid_carbon_intensity.md").read_text()
    for fact in ("MIT License", "CC BY 4.0", "github.com/mlco2/codecarbon", "owid/energy-data"):
        assert fact in notes
    # France's nuclear-heavy grid is far cleaner than Germany's or the USA's.
    t = _shipped()
    assert t["FRA"] < 100 < t["USA"] and t["FRA"] < t["DEU"]


def test_no_codecarbon_private_path_is_read():
    source = inspect.getsource(grid)
    assert "private_infra" not in source and "find_spec" not in source


def test_unknown_code_is_still_a_one_line_error():
    with pytest.raises(ConfigurationError, match="USA, not US"):
        grid.grid_intensity("US")
