"""Measured points: the harness's own (error, compute) rows, read from a file or the results
database, normalised to the published points' columns, and fitted beside and pooled with them.

Pooling is exploratory: a measured burden is today's hardware running the published recipe, a
published burden is the hardware of its year. Both use the fp32 peak (the published points'
convention; `burden_flops` of a measured record is the burden at the fp32 peak), and the pooled
set holds one point per architecture (`pool`), never one per batch size or device.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis.fit import Fit, FitSkipped, fit, validate_points
from harness.catalog.published import POINT_COLUMNS
from harness.errors import HarnessError
from harness.pipeline.record import Measurement
from harness.pipeline.summary import measured_points
from harness.sweep.store import ResultStore

MEASURED_COLUMNS = ("benchmark", "model", "error", "per_pass_flops", "burden_flops")
# Kept where present: what a measured point was measured on (see pipeline.summary.burden_point).
MEASURED_EXTRAS = (
    "device",
    "precision",
    "batch",
    "recipe_batch",
    "burden_flops_at_precision",
)


def measured_frame(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Measured rows (benchmark, model, error, per_pass_flops, burden_flops) as a point frame.

    `error` is a fraction; either compute may be missing (NaN/None) for a row, never <= 0.
    Optional columns: year, flagged, flag_reason, citation.
    """
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in MEASURED_COLUMNS if c not in df.columns]
    if df.empty or missing:
        raise HarnessError(
            "measured points need the columns "
            + ", ".join(MEASURED_COLUMNS)
            + (f" (missing: {', '.join(missing)})" if missing and not df.empty else " (no rows)")
        )
    for col in ("error", "per_pass_flops", "burden_flops"):
        try:
            df[col] = pd.to_numeric(df[col]).astype(float)
        except (TypeError, ValueError) as exc:
            raise HarnessError(f"measured points: column '{col}' is not numeric ({exc})") from exc
    df["benchmark"] = df["benchmark"].astype(str)
    df["model"] = df["model"].astype(str)
    for col in ("per_pass_flops", "burden_flops"):
        validate_points(df.assign(**{"compute": df[col]}), "compute", "measured points")
    df["source"] = "measured"
    df["flagged"] = df["flagged"].fillna(False).astype(bool) if "flagged" in df else False
    df["flag_reason"] = df["flag_reason"].fillna("") if "flag_reason" in df else ""
    df["per_pass_flagged"] = df["flagged"]
    df["per_pass_flag_reason"] = df["flag_reason"]
    own = df["burden_flagged"].fillna(False).astype(bool) if "burden_flagged" in df else False
    own_reason = df["burden_flag_reason"].fillna("") if "burden_flag_reason" in df else ""
    df["burden_flagged"] = df["flagged"] | own
    df["burden_flag_reason"] = (df["flag_reason"] + "; " + own_reason).str.strip("; ")
    if "citation" not in df:
        df["citation"] = "measured by the harness"
    for col in ("year", "metric"):
        if col not in df:
            df[col] = None
    # Optional: network operations (whole training compute), fitted with --measure network-ops.
    if "network_ops_flops" not in df:
        df["network_ops_flops"] = float("nan")
    try:
        df["network_ops_flops"] = pd.to_numeric(df["network_ops_flops"]).astype(float)
    except (TypeError, ValueError) as exc:
        raise HarnessError(
            f"measured points: column 'network_ops_flops' is not numeric ({exc})"
        ) from exc
    validate_points(df.assign(compute=df["network_ops_flops"]), "compute", "measured points")
    extras = [c for c in MEASURED_EXTRAS if c in df and c != "network_ops_flops"]
    return df[[*POINT_COLUMNS, "network_ops_flops", *extras]]


def pool(published: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Published points and one measured point per architecture (exploratory: see the module
    docstring): the one with a sound burden first, then the recipe batch, then the largest."""
    m = measured.copy()
    batch = m["batch"] if "batch" in m else pd.Series(0, index=m.index)
    recipe = m["recipe_batch"] if "recipe_batch" in m else pd.Series(None, index=m.index)
    m["_order"] = list(
        zip(
            m["burden_flagged"].astype(bool),
            ~(batch == recipe),
            -pd.to_numeric(batch, errors="coerce").fillna(0),
            strict=True,
        )
    )
    m = m.sort_values("_order", kind="stable").drop_duplicates(["benchmark", "model"])
    return pd.concat([published, m.drop(columns="_order")], ignore_index=True)


def fit_with_measured(
    published: pd.DataFrame,
    measured: pd.DataFrame,
    benchmark: str,
    measure: str,
    model: str = "polynomial",
    exclude_flagged: bool = False,
) -> list[Fit | FitSkipped]:
    """The same fit on published, measured, and pooled points, so a moved exponent shows."""
    pooled = pool(published, measured)
    out: list[Fit | FitSkipped] = []
    for label, frame in (("published", published), ("measured", measured), ("pooled", pooled)):
        try:
            out.append(fit(frame, benchmark, measure, model, exclude_flagged, label))
        except HarnessError as exc:
            out.append(FitSkipped(benchmark, measure, model, label, str(exc)))
    return out


def load_measured(path: str) -> pd.DataFrame:
    """Measured rows from a CSV, Parquet, or SQLite file (a table or view with the columns, or
    a harness results database, whose full-size paper-benchmark records become points)."""
    p = Path(path)
    if not p.exists():
        raise HarnessError(f"--with-measured: no such file: {path}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(p)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            records = _store_records(p)
            if records is None:
                df = _read_sqlite(p, MEASURED_COLUMNS)
            else:
                points = measured_points(records)
                if not points:
                    raise HarnessError(
                        f"--with-measured: {path} has no measurement of a paper benchmark at "
                        f"its published size with a published metric ({len(records)} ok rows; "
                        "tiny variants, other sizes and claimed metrics are not points)"
                    )
                df = pd.DataFrame(points)
    except (OSError, ValueError, sqlite3.DatabaseError, pd.errors.ParserError) as exc:
        raise HarnessError(f"--with-measured: cannot read {path}: {exc}") from exc
    return measured_frame(df)


def _store_records(path: Path) -> list[Measurement] | None:
    """The ok records of a harness results database, or None for any other SQLite file."""
    try:
        with ResultStore(path, readonly=True) as store:
            return store.load(status="ok")
    except HarnessError:
        return None


def _read_sqlite(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The one table or view of a plain SQLite file that has the measured columns."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            )
        ]
        fitting = []
        for name in names:
            cols = {r[1] for r in con.execute(f'PRAGMA table_info("{name}")')}
            if set(columns) <= cols:
                fitting.append(name)
        if not fitting:
            raise HarnessError(
                f"--with-measured: no table or view in {path} has the columns "
                f"{', '.join(columns)} (tables: {', '.join(names) or 'none'}); "
                "export the measurements to CSV with those columns"
            )
        if len(fitting) > 1:
            raise HarnessError(
                f"--with-measured: several tables in {path} have the measured columns "
                f"({', '.join(fitting)}); export the one you mean to CSV"
            )
        return pd.read_sql_query(f'SELECT * FROM "{fitting[0]}"', con)
