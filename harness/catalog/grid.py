"""Carbon intensity of the electricity grid, by country or as a number.

Countries come from `harness/data/grid_carbon_intensity.csv`, a cited copy of CodeCarbon's
country table (MIT License; built from Our World in Data's energy dataset, CC BY 4.0, which
compiles Ember and the Energy Institute; see `grid_carbon_intensity.md` beside it). The copy
ships with the harness, so no CodeCarbon release can move or change it, and CodeCarbon need
not be installed to convert energy to carbon. An unknown code is a one-line error, because
CodeCarbon itself silently falls back to a world average.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from typing import Any

from harness.data import DATA_DIR
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


GRID_TABLE = DATA_DIR / "grid_carbon_intensity.csv"
GRID_TABLE_SOURCE = (
    "CodeCarbon 3.3.2 global_energy_mix.json (github.com/mlco2/codecarbon, MIT), "
    "from Our World in Data energy-data (Ember, Energy Institute; CC BY 4.0)"
)


@functools.lru_cache(maxsize=1)
def _energy_mix() -> dict[str, dict[str, Any]]:
    """iso_code -> {country_name, year, carbon_intensity (g/kWh)} from the shipped copy."""
    with open(GRID_TABLE, newline="", encoding="utf-8") as f:
        return {
            row["iso_code"]: {
                "country_name": row["country_name"],
                "year": int(row["year"]) if row["year"] else None,
                "carbon_intensity": float(row["g_co2_per_kwh"]),
            }
            for row in csv.DictReader(f)
        }


def country_name(code: str | None) -> str | None:
    """The country an ISO 3166-1 alpha-3 code names in the shipped table, else None."""
    row = _energy_mix().get(str(code or "").upper())
    return row["country_name"] if row else None


def known_countries() -> list[str]:
    """ISO 3166-1 alpha-3 codes in the shipped table."""
    return sorted(_energy_mix())


def grid_intensity(country: str | float | GridIntensity = "USA") -> GridIntensity:
    """A country's grid intensity from the shipped table, or a number taken as kg CO2e/kWh."""
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
            f"(ISO 3166-1 alpha-3, one of {len(table)} in the shipped table), "
            "or give the intensity as a number in kg CO2e/kWh"
        )
    return GridIntensity(
        kg_co2_per_kwh=float(row["carbon_intensity"]) / 1e3,
        region=code,
        source=(
            f"{row.get('country_name', code)} {row.get('year', '')} grid mix, "
            f"{row['carbon_intensity']:g} gCO2e/kWh ({GRID_TABLE_SOURCE})"
        ),
        year=row.get("year"),
    )
