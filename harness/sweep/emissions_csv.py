"""`emissions.csv` beside the results database, in CodeCarbon's columns, one row per measurement.

Tools that read CodeCarbon's output (its dashboard, notebooks, CI checks) read this file as it
is. The columns are those of `codecarbon.output_methods.emissions_data.EmissionsData` in
CodeCarbon 3.3.2 (https://github.com/mlco2/codecarbon, `emissions.csv`), in its order and units:
duration in s, energies in kWh, powers in W, emissions in kg CO2e, emissions_rate in kg/s.

A row is appended as each successful measurement is saved. It describes the measured energy
window (not the projected training run). Only figures the harness measured are filled: the
energy of a window whose provenance is an estimate or unavailable is left empty, as are RAM,
location, cloud and utilisation columns the harness does not measure. Emissions are the
measured kWh x PUE x the grid intensity the record was converted with.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.catalog.grid import country_name
from harness.pipeline.record import Measurement
from harness.vocab import MEASURED_PROVENANCES, RAPL

EMISSIONS_FILE = "emissions.csv"
PROJECT_NAME = "dl-cost-harness"
# codecarbon 3.3.2, output_methods/emissions_data.py, EmissionsData fields in order.
CODECARBON_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "on_cloud",
    "pue",
    "wue",
)
_J_PER_KWH = 3.6e6


def _measured(window: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The window when its energy was measured (a counter or samples), else None."""
    if not window or window.get("provenance") not in MEASURED_PROVENANCES:
        return None
    return window if window.get("total_energy_j") is not None else None


def _kwh(window: Mapping[str, Any] | None) -> float | None:
    return window["total_energy_j"] / _J_PER_KWH if window else None


def _energy_columns(record: Measurement) -> dict[str, Any]:
    """Device energy as cpu_* or gpu_* by the device measured; a GPU's host as cpu_* where
    RAPL measured it."""
    device = _measured(record.energy)
    host = _measured((record.energy or {}).get("host"))
    on_cpu = str(record.config.get("device", "cpu")).startswith("cpu")
    cols: dict[str, Any] = {}
    if device is not None:
        prefix = "cpu" if on_cpu else "gpu"
        cols[f"{prefix}_energy"] = _kwh(device)
        cols[f"{prefix}_power"] = device.get("mean_power_w")
    if host is not None and not on_cpu and host.get("provenance") == RAPL:
        cols["cpu_energy"] = _kwh(host)
        cols["cpu_power"] = host.get("mean_power_w")
    parts = [_kwh(device), _kwh(host) if host is not None and not on_cpu else None]
    if device is not None:
        cols["energy_consumed"] = sum(p for p in parts if p is not None)
    return cols


def emissions_row(record: Measurement) -> dict[str, Any]:
    """One CodeCarbon row for `record`; None-valued columns are written empty."""
    env, cfg, burden = record.environment or {}, record.config, record.burden or {}
    grid = burden.get("grid") or {}
    row: dict[str, Any] = {
        "timestamp": record.created_at,
        "project_name": PROJECT_NAME,
        "run_id": record.key,
        "experiment_id": cfg.get("architecture"),
        "os": env.get("os"),
        "python_version": env.get("python"),
        "cpu_count": env.get("cpu_threads"),
        "cpu_model": env.get("cpu_model"),
        "gpu_count": env.get("gpu_count"),
        "gpu_model": env.get("gpu_name"),
        "tracking_mode": "machine",  # device counters see the whole device, not one process
        "pue": burden.get("pue", cfg.get("pue")),
        **_energy_columns(record),
    }
    duration = (record.energy or {}).get("duration_s")
    if "energy_consumed" in row:
        row["duration"] = duration
        intensity, pue = grid.get("kg_co2_per_kwh"), row["pue"]
        if isinstance(intensity, (int, float)) and isinstance(pue, (int, float)):
            row["emissions"] = row["energy_consumed"] * pue * intensity
            row["country_iso_code"] = grid.get("region")
            row["country_name"] = country_name(grid.get("region"))
            if duration:
                row["emissions_rate"] = row["emissions"] / duration
    if (
        record.energy.get("backend") == "codecarbon"
        or (record.energy.get("host") or {}).get("backend") == "codecarbon"
    ):
        row["codecarbon_version"] = env.get("codecarbon")
    return {c: row.get(c) for c in CODECARBON_COLUMNS}


def append_emissions(path: str | os.PathLike[str], records: Iterable[Measurement]) -> int:
    """Append one row per successful record to `path` (the header first when the file is
    new); returns the rows written. A file that cannot be written is left to the caller."""
    rows = [emissions_row(r) for r in records if r.ok]
    if not rows:
        return 0
    path = Path(path)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CODECARBON_COLUMNS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    return len(rows)


def append_beside(
    db_path: Path, records: Iterable[Measurement], warn: Callable[[str], None]
) -> None:
    """`append_emissions` to `emissions.csv` beside the results database; a file that cannot
    be written costs a warning, never the saved rows."""
    path = Path(db_path).parent / EMISSIONS_FILE
    try:
        append_emissions(path, records)
    except OSError as exc:
        warn(f"could not append to {path}: {exc.strerror or exc}")
