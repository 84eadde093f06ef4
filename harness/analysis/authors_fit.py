"""The authors' points ready to fit, with their "consolidated" hardware burden.

Their ImageNet notebook fills the hardware burden a row lacks from its network operations,
through the conversion log10(burden) = a + b log10(network operations) fitted by OLS on the
rows that have both; their COCO notebook, whose rows never have both, borrows ImageNet's line.
We do the same: each benchmark's own pairs when it has at least 3, else ImageNet's, unless the
user gives the line (`--burden-conversion A,B`). Imputed values are always labelled: those rows
are flagged "imputed", so `--exclude-flagged` keeps only stated burden.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.catalog.authors import load_authors
from harness.errors import HarnessError

MIN_PAIRS = 3
BORROW_FROM = "imagenet"


@dataclass(frozen=True)
class BurdenConversion:
    """log10(hardware burden) = intercept + slope x log10(network operations)."""

    intercept: float
    slope: float
    n: int  # pairs it was fitted on; 0 when the user gave it
    basis: str

    def burden(self, network_ops: np.ndarray) -> np.ndarray:
        return 10 ** (self.intercept + self.slope * np.log10(np.asarray(network_ops, float)))


def parse_conversion(text: str) -> BurdenConversion:
    """`A,B` from the command line as a conversion line."""
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise HarnessError(
            f"--burden-conversion {text!r}: give A,B for log10 burden = A + B log10 network ops"
        ) from None
    return BurdenConversion(a, b, 0, f"given: log10 HB = {a:g} + {b:g} log10 NO")


def fit_conversion(frame: pd.DataFrame, benchmark: str) -> BurdenConversion | None:
    """OLS of log10 burden on log10 network operations over one benchmark's rows with both."""
    rows = frame[(frame["benchmark"] == benchmark)]
    rows = rows[rows["burden_flops"].notna() & rows["network_ops_flops"].notna()]
    if len(rows) < MIN_PAIRS:
        return None
    x = np.log10(rows["network_ops_flops"].to_numpy(float))
    y = np.log10(rows["burden_flops"].to_numpy(float))
    design = np.column_stack([np.ones_like(x), x])
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    basis = f"fitted on {len(rows)} {benchmark} rows: log10 HB = {a:.4f} + {b:.4f} log10 NO"
    return BurdenConversion(float(a), float(b), len(rows), basis)


def consolidate(
    frame: pd.DataFrame, given: BurdenConversion | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """The frame with `burden_consolidated_flops` (stated burden, else imputed) and a note per
    benchmark saying how many values were imputed and through which line."""
    out = frame.copy()
    out["burden_consolidated_flops"] = out["burden_flops"]
    notes = []
    borrowed = given or fit_conversion(out, BORROW_FROM)
    for bench in out["benchmark"].unique():
        mask = (out["benchmark"] == bench) & out["burden_flops"].isna()
        mask &= out["network_ops_flops"].notna()
        if not mask.any():
            continue
        conv = given or fit_conversion(out, bench) or borrowed
        if conv is None:
            notes.append(f"{bench} burden-consolidated: no conversion line, nothing imputed")
            continue
        out.loc[mask, "burden_consolidated_flops"] = conv.burden(out.loc[mask, "network_ops_flops"])
        reason = f"imputed: hardware burden from network operations ({conv.basis})"
        out.loc[mask, "burden_flagged"] = True
        out.loc[mask, "burden_flag_reason"] = reason
        notes.append(f"{bench} burden-consolidated: {int(mask.sum())} value(s) {reason}.")
    return out, notes


def authors_points(
    path: str | Path, conversion: BurdenConversion | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Every benchmark of the authors' data, consolidated, with the notes the report prints."""
    frame, notes = consolidate(load_authors(path), conversion)
    return frame, [f"Published points: the authors' data, read in place from {path}.", *notes]


def published_points(benchmark: str | None = None, published_from: str | None = None):
    """The published-points source: the shipped points, or the authors' data when given."""
    if not published_from:
        from harness.catalog.published import load_published

        return load_published(benchmark)
    frame, _ = authors_points(published_from)
    if benchmark is not None:
        frame = frame[frame["benchmark"] == benchmark].reset_index(drop=True)
    return frame
