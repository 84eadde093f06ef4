"""Published training runs of large models: the one reader of `published_runs.csv`.

Each row is what a paper or model card published about one training run (devices, days or
device-hours, power, PUE, energy, carbon, its own compute estimate), with its `source` and
`notes`; a blank cell is a figure the source does not give. `harness audit` sets these beside
the harness's count of the work (harness.analysis.audit).
"""

from __future__ import annotations

import csv
import difflib
import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.catalog.flags import is_flagged
from harness.data import REFERENCE_DIR
from harness.errors import ConfigurationError

RUNS_FILE = "published_runs.csv"


@dataclass(frozen=True)
class PublishedRun:
    """One published training run; None where the source states nothing."""

    run: str
    model: str
    zoo_name: str | None
    year: int | None
    processor_type: str | None
    precision: str
    devices: int | None
    train_days: float | None
    device_hours: float | None
    avg_power_w: float | None
    pue: float | None
    energy_mwh: float | None
    country: str | None
    grid_g_co2_per_kwh: float | None
    co2_t: float | None
    total_flop: float | None
    tokens: float | None
    source: str
    notes: str = ""

    @property
    def flagged(self) -> bool:
        """Some figure of the row is recalled, not read from its source."""
        return is_flagged(self.notes) or is_flagged(self.source)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"flagged": self.flagged}


def _number(cell: str) -> float | None:
    cell = (cell or "").strip().replace(",", "")
    return float(cell) if cell else None


def _text(cell: str) -> str | None:
    return (cell or "").strip() or None


def _row(row: dict[str, str]) -> PublishedRun:
    devices, year = _number(row["devices"]), _number(row["year"])
    return PublishedRun(
        run=row["run"].strip(),
        model=row["model"].strip(),
        zoo_name=_text(row["zoo_name"]),
        year=int(year) if year is not None else None,
        processor_type=_text(row["processor_type"]),
        precision=row["precision"].strip() or "fp32",
        devices=int(devices) if devices is not None else None,
        train_days=_number(row["train_days"]),
        device_hours=_number(row["device_hours"]),
        avg_power_w=_number(row["avg_power_w"]),
        pue=_number(row["pue"]),
        energy_mwh=_number(row["energy_mwh"]),
        country=_text(row["country"]),
        grid_g_co2_per_kwh=_number(row["grid_g_co2_per_kwh"]),
        co2_t=_number(row["co2_t"]),
        total_flop=_number(row["total_flop"]),
        tokens=_number(row["tokens"]),
        source=row["source"].strip(),
        notes=row["notes"].strip(),
    )


@functools.cache
def published_runs(reference_dir: Path = REFERENCE_DIR) -> dict[str, PublishedRun]:
    """Every row of published_runs.csv, keyed by `run`, in file order."""
    with open(Path(reference_dir) / RUNS_FILE, newline="", encoding="utf-8") as f:
        rows = [_row(r) for r in csv.DictReader(f)]
    return {r.run: r for r in rows}


def find_run(name: str, reference_dir: Path = REFERENCE_DIR) -> PublishedRun:
    """A run by its key, or by the zoo architecture it trained; a one-line error otherwise."""
    runs = published_runs(reference_dir)
    if name in runs:
        return runs[name]
    for run in runs.values():
        if run.zoo_name == name:
            return run
    keys = list(runs) + [r.zoo_name for r in runs.values() if r.zoo_name]
    close = difflib.get_close_matches(name, keys, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `harness audit --all` lists them"
    raise ConfigurationError(f"no published training run named {name!r}{hint}")
