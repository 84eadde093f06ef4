"""Measured points: the harness's own (error, compute) rows, read from a file or the results
database, normalised to the published points' columns, and fitted beside and pooled with them."""

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
    df["flagged"] = df["flagged"].astype(bool) if "flagged" in df else False
    df["flag_reason"] = df["flag_reason"].fillna("") if "flag_reason" in df else ""
    df["burden_flagged"] = df["flagged"]
    df["burden_flag_reason"] = df["flag_reason"]
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
    return df[[*POINT_COLUMNS, "network_ops_flops"]]


def fit_with_measured(
    published: pd.DataFrame,
    measured: pd.DataFrame,
    benchmark: str,
    measure: str,
    model: str = "polynomial",
    exclude_flagged: bool = False,
) -> list[Fit | FitSkipped]:
    """The same fit on published, measured, and pooled points, so a moved exponent shows."""
    pooled = pd.concat([published, measured], ignore_index=True)
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
                        f"--with-measured: {path} has no full-size measurement of a paper "
                        f"benchmark ({len(records)} ok rows; tiny variants are not points)"
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
