"""Extra regressors and a date cut-off, as in the authors' notebooks.

`--with-year`: year beside log10 compute, y = a + b log10 C + c (year - 2012), so the compute
slope is read with the passing years held fixed (the authors' ImageNet notebook centres the
year on 2012, AlexNet's, and so do we: only the intercept depends on it).

`--until YYYY-MM`: only points published up to that month, e.g. 2020-07 for the paper's first
version. Both the shipped points and the authors' files date a point by its year only, so a
point of the cut-off's year is kept (its month is unknown) and the note says how many were.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from harness.analysis.dependent import DEFAULT_DEPENDENT
from harness.analysis.fit import ALPHA, Fit, fit_points, transform
from harness.errors import HarnessError

YEAR_BASE = 2012


@dataclass(frozen=True)
class YearFit(Fit):
    """A fit with year as a second regressor; intercept and slope are those of log10 C."""

    year_slope: float = math.nan
    year_ci: tuple[float, float] = (math.nan, math.nan)
    year_p_value: float = math.nan
    year_base: int = YEAR_BASE

    def describe_year(self) -> str:
        lo, hi = self.year_ci
        return (
            f"{self.benchmark} {self.measure} {self.model} ({self.points}) with year: "
            f"y = {self.intercept:.4f} + {self.slope:.4f} log10 C "
            f"+ {self.year_slope:.4f} (year - {self.year_base}); year coefficient "
            f"{self.year_slope:.4f} [{lo:.4f}, {hi:.4f}] per year (p = {self.year_p_value:.2g}), "
            f"R^2 = {self.r_squared:.3f}, n = {self.n}; not extrapolated (the compute needed "
            "depends on the year)."
        )


def fit_with_year(
    points: pd.DataFrame,
    model: str,
    benchmark: str,
    measure: str,
    label: str = "published",
    excluded_flagged: bool = False,
    dependent: str = DEFAULT_DEPENDENT,
) -> YearFit:
    """OLS of the model's y on log10(compute_flops) and (year - 2012); rows without a year out."""
    where = f"{benchmark} {measure} ({label}) with year"
    dated = points[points["year"].notna()].reset_index(drop=True)
    if len(dated) < 4:
        raise HarnessError(f"{where}: {len(dated)} dated point(s); a fit with year needs 4")
    years = dated["year"].to_numpy(dtype=float)
    if np.ptp(years) == 0:
        raise HarnessError(f"{where}: every point has the same year; its coefficient is undefined")
    base = fit_points(dated, model, benchmark, measure, label, excluded_flagged, dependent)
    x = np.log10(dated["compute_flops"].to_numpy(dtype=float))
    y = np.asarray(transform(model, dated["error"].to_numpy(dtype=float), dependent))
    import statsmodels.api as sm
    from scipy import stats

    design = np.column_stack([np.ones_like(x), x, years - YEAR_BASE])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = sm.OLS(y, design).fit()
        ci, cov, pv = np.asarray(res.conf_int(ALPHA)), np.asarray(res.cov_params()), res.pvalues
    if not np.all(np.isfinite(pv)):
        raise HarnessError(f"{where}: the fit has no uncertainty (collinear or exact points)")
    values = {f.name: getattr(base, f.name) for f in fields(Fit)}
    values.update(
        intercept=float(res.params[0]),
        slope=float(res.params[1]),
        intercept_ci=(float(ci[0, 0]), float(ci[0, 1])),
        slope_ci=(float(ci[1, 0]), float(ci[1, 1])),
        cov=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        df_resid=int(res.df_resid),
        t_crit=float(stats.t.ppf(1 - ALPHA / 2, res.df_resid)),
        r_squared=float(res.rsquared),
        p_value=float(pv[1]),
    )
    return YearFit(
        **values,
        year_slope=float(res.params[2]),
        year_ci=(float(ci[2, 0]), float(ci[2, 1])),
        year_p_value=float(pv[2]),
    )


@dataclass(frozen=True)
class Until:
    """A cut-off month: points published up to and including it are kept."""

    year: int
    month: int

    @property
    def text(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_until(text: str) -> Until:
    """`YYYY-MM` (or `YYYY`, meaning its December) as a cut-off."""
    m = re.fullmatch(r"\s*(\d{4})(?:-(\d{1,2}))?\s*", text or "")
    month = int(m.group(2)) if m and m.group(2) else 12
    if not m or not 1 <= month <= 12:
        raise HarnessError(f"--until {text!r}: give a month as YYYY-MM (e.g. 2020-07)")
    return Until(int(m.group(1)), month)


def cut(frame: pd.DataFrame, until: Until, label: str) -> tuple[pd.DataFrame, str]:
    """The rows dated up to the cut-off, and a note on what was dropped and on the resolution."""
    years = pd.to_numeric(frame["year"], errors="coerce")
    keep = years <= until.year
    same_year = int((years == until.year).sum())
    undated = int(years.isna().sum())
    note = (
        f"--until {until.text} ({label} points): {int(keep.sum())} of {len(frame)} kept, "
        f"{int((years > until.year).sum())} later dropped"
        + (f", {undated} without a year dropped" if undated else "")
        + (
            f"; points are dated by year only, so the {same_year} of {until.year} are kept "
            "though their month is unknown"
            if same_year and until.month < 12
            else ""
        )
        + "."
    )
    return frame[keep.fillna(False)].reset_index(drop=True), note
