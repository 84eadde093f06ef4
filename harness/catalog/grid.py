"""Carbon intensity of the electricity grid, by country or as a number.

Countries come from the table codecarbon ships (data/private_infra/global_energy_mix.json:
each country's generation mix and its carbon intensity in gCO2e/kWh, with the data year), read
directly so codecarbon's tracker is not started just to look a number up. An unknown code is a
one-line error, because codecarbon itself silently falls back to a world average.

codecarbon is an optional extra: without it the same figures come from a copy of that table
(data/reference/grid_intensity.csv: code, name, year, gCO2e/kWh, from codecarbon 3.3.2's
global_energy_mix.json, https://github.com/mlco2/codecarbon, MIT licence), and the figure's
source says so.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError
from harness.vocab import LBS_PER_KG


@dataclass(frozen=True)
class GridIntensity:
    """kg CO2e per kWh drawn from the grid, and where that number came from."""

    kg_co2_per_kwh: float
    region: str  # ISO 3166-1 alpha-3 code, or "custom"
    source: str
    year: int | None = None

    @property
    def g_co2_per_kwh(self) -> float:
        return self.kg_co2_per_kwh * 1e3

    @property
    def lbs_co2_per_kwh(self) -> float:
        return self.kg_co2_per_kwh * LBS_PER_KG

    def to_dict(self) -> dict[str, Any]:
        return {
            "kg_co2_per_kwh": self.kg_co2_per_kwh,
            "region": self.region,
            "source": self.source,
            "year": self.year,
        }


COPIED_TABLE = Path(__file__).resolve().parent.parent / "data" / "reference" / "grid_intensity.csv"
COPIED_FROM = "codecarbon 3.3.2's global_energy_mix.json, copied: codecarbon is not installed"


@functools.lru_cache(maxsize=1)
def _energy_mix() -> dict[str, dict[str, Any]]:
    """codecarbon's table where codecarbon is installed, else the copy the harness ships."""
    spec = importlib.util.find_spec("codecarbon")
    if spec is None or not spec.submodule_search_locations:
        return _copied_energy_mix()
    path = (
        Path(next(iter(spec.submodule_search_locations)))
        / "data/private_infra/global_energy_mix.json"
    )
    with open(path) as f:
        return json.load(f)


def _copied_energy_mix() -> dict[str, dict[str, Any]]:
    with open(COPIED_TABLE, newline="") as f:
        return {
            row["iso_code"]: {
                "country_name": row["country_name"],
                "year": int(row["year"]),
                "carbon_intensity": float(row["carbon_intensity_g_per_kwh"]),
            }
            for row in csv.DictReader(f)
        }


def _table_source() -> str:
    if importlib.util.find_spec("codecarbon") is None:
        return COPIED_FROM
    try:
        return f"codecarbon {metadata.version('codecarbon')}, global_energy_mix.json"
    except metadata.PackageNotFoundError:
        return "codecarbon ?, global_energy_mix.json"


def known_countries() -> list[str]:
    """ISO 3166-1 alpha-3 codes in codecarbon's table."""
    return sorted(_energy_mix())


def grid_intensity(country: str | float | GridIntensity = "USA") -> GridIntensity:
    """A country's grid intensity from codecarbon's table, or a number taken as kg CO2e/kWh."""
    if isinstance(country, GridIntensity):
        return country
    if isinstance(country, (int, float)):
        if not 0 <= country < 5:
            raise ConfigurationError(
                f"carbon intensity {country!r} kg CO2e/kWh is out of range (grids run 0 to ~1.1)"
            )
        return GridIntensity(float(country), "custom", "given by the user", None)
    code = str(country).strip().upper()
    table = _energy_mix()
    row = table.get(code)
    if row is None or row.get("carbon_intensity") is None:
        hint = ""
        if len(code) == 2:
            hint = "; use the three-letter code (USA, not US)"
        else:
            names = [
                k
                for k, v in table.items()
                if code.lower() in str(v.get("country_name", "")).lower()
            ]
            if names:
                hint = f"; did you mean {', '.join(names[:3])}?"
        raise ConfigurationError(
            f"unknown country code {country!r} for grid carbon intensity{hint} "
            f"(ISO 3166-1 alpha-3, one of {len(table)} in codecarbon's table), "
            "or give the intensity as a number in kg CO2e/kWh"
        )
    return GridIntensity(
        kg_co2_per_kwh=float(row["carbon_intensity"]) / 1e3,
        region=code,
        source=(
            f"{row.get('country_name', code)} {row.get('year', '')} grid mix, "
            f"{row['carbon_intensity']:g} gCO2e/kWh ({_table_source()})"
        ),
        year=row.get("year"),
    )
