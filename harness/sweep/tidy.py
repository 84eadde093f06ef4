"""The tidy export: one row per measurement, flat, named and typed columns, lists as lists.

The dotted dump (`--layout dotted`, every leaf of every record a column) runs to well over a
thousand columns for a dozen rows, with lists stored as JSON text. The tidy table holds the
figures a person compares (the same as `harness.pipeline.summary.headline`, where each is
defined and documented) under fixed names and types, so a Parquet reader gets doubles,
integers, booleans and `list<double>` without parsing anything. CSV has no list type, so
there a list is written as JSON text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.output_files import atomic_path, ensure_folder
from harness.pipeline.record import Measurement
from harness.pipeline.summary import headline
from harness.sweep.store import export_target

if TYPE_CHECKING:
    import pyarrow as pa

    from harness.sweep.store import ResultStore

# (column, type) in reading order; types: str, int, float, bool, list[float], list[str].
TIDY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "str"),
    ("status", "str"),
    ("error", "str"),
    ("created_at", "str"),
    ("harness_version", "str"),
    ("architecture", "str"),
    ("benchmark", "str"),
    ("tiny", "bool"),
    ("device", "str"),
    ("device_kind", "str"),
    ("precision", "str"),
    ("batch", "int"),
    ("size", "int"),
    ("world_size", "int"),
    ("compile_mode", "str"),
    ("channels_last", "bool"),
    ("activation_checkpointing", "bool"),
    ("scaled_from_layers", "str"),  # timed on K of L layers: "K of L"
    ("scaled_step_ms", "float"),  # that run's median step x L / K
    ("params_m", "float"),
    ("gmacs_per_pass", "float"),
    ("train_step_gflops", "float"),
    ("bwd_fwd", "float"),
    ("step_ms", "float"),
    ("iqr_pct", "float"),
    ("noisy", "bool"),
    ("samples_per_s", "float"),
    ("achieved_tflop_per_s", "float"),
    ("mfu_pct", "float"),
    ("mfu_measured_pct", "float"),
    ("energy_per_step_j", "float"),
    ("energy_per_example_j", "float"),
    ("energy_provenance", "str"),
    ("burden_per_run_gflop", "float"),
    ("run_hours", "float"),
    ("kwh_per_run", "float"),
    ("country", "str"),
    ("pue", "float"),
    ("co2_kg_per_run", "float"),
    ("co2_lbs_per_run", "float"),
    ("paper_co2_kg_per_run", "float"),
    ("paper_co2_lbs_per_run", "float"),
    ("usd_per_run", "float"),
    ("price_unit", "str"),
    ("paper_usd_low_per_run", "float"),
    ("paper_usd_high_per_run", "float"),
    ("reference_metric", "str"),
    ("reference_value", "float"),
    ("step_samples_s", "list[float]"),
    ("notes", "list[str]"),
)

_CAST: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list[float]": lambda v: [float(x) for x in v],
    "list[str]": lambda v: [str(x) for x in v],
}


def _cast(value: Any, kind: str) -> Any:
    """`value` as `kind`, None where it is missing or not a number (a NaN stays missing)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        return _CAST[kind](value)
    except (TypeError, ValueError):
        return None


def tidy_row(record: Measurement) -> dict[str, Any]:
    """One measurement as a row of `TIDY_COLUMNS`."""
    h = headline(record)
    cfg, b, t = record.config, record.burden or {}, record.timing or {}
    notes = [*(t.get("notes") or []), *(b.get("notes") or [])]
    if b.get("cost_routes_note"):
        notes.append(b["cost_routes_note"])
    extra = {
        "key": record.key,
        "created_at": record.created_at,
        "harness_version": record.harness_version,
        "device_kind": str(cfg.get("device", "")).split(":")[0] or None,
        "size": cfg.get("size"),
        "world_size": cfg.get("world_size"),
        "compile_mode": cfg.get("compile_mode"),
        "channels_last": cfg.get("channels_last"),
        "activation_checkpointing": bool(cfg.get("activation_checkpointing", False)),
        "scaled_from_layers": t.get("scaled_from_layers"),
        "scaled_step_ms": t["scaled_median_s"] * 1e3 if t.get("scaled_median_s") else None,
        "kwh_per_run": b.get("kwh_per_run"),
        "country": (b.get("grid") or {}).get("region") or cfg.get("country"),
        "pue": b.get("pue", cfg.get("pue")),
        "step_samples_s": t.get("samples_s"),
        "notes": notes,
    }
    merged = {**h, **extra}
    return {name: _cast(merged.get(name), kind) for name, kind in TIDY_COLUMNS}


def arrow_schema() -> pa.Schema:
    import pyarrow as pa

    types = {
        "str": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "list[float]": pa.list_(pa.float64()),
        "list[str]": pa.list_(pa.string()),
    }
    return pa.schema([(name, types[kind]) for name, kind in TIDY_COLUMNS])


def write_tidy(records: Sequence[Measurement], path: Path, fmt: str) -> int:
    """Write the tidy table atomically (a crash leaves the old file); returns the rows."""
    rows = [tidy_row(r) for r in records]
    ensure_folder(path.parent, "export folder", "pass another --out")
    with atomic_path(path, "pass another --out") as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), tmp)
        else:
            import pandas as pd

            lists = [n for n, k in TIDY_COLUMNS if k.startswith("list")]
            frame = pd.DataFrame(rows, columns=[n for n, _ in TIDY_COLUMNS])
            for name in lists:
                frame[name] = frame[name].map(lambda v: None if v is None else json.dumps(v))
            frame.to_csv(tmp, index=False)
    return len(rows)


def export_tidy(
    db: ResultStore,
    out: str | os.PathLike[str] | None = None,
    format: str | None = None,
    *,
    status: str | Sequence[str] | None = None,
) -> tuple[Path, int]:
    """`ResultStore.export`'s rules (format from --format, else the suffix, else CSV; a suffix
    naming the other format is refused; only a regular file or a new path is written), with
    the tidy table."""
    path, fmt = export_target(out, format)
    records = db.load(status=status)
    if not records:
        raise HarnessError(f"results database {db.path} has no matching rows to export")
    return path, write_tidy(records, path, fmt)
