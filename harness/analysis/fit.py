"""The paper's scaling-law regression: OLS of performance on log10 compute, with 95% intervals.

Direction (as in Thompson et al. 2020, arXiv:2007.05558): performance is regressed on compute,
never the reverse. With P = 1/error and C the compute (per-pass FLOP or hardware-burden FLOP):

* polynomial model  log10(P) = a + b log10(C), so C = O(P^k) with k = 1/b;
* exponential model       P  = a + b log10(C), so C = O(10^(k P)) with k = 1/b.

Regressing log10(C) on the performance instead gives the slope k_reverse = R^2 x k, much smaller
than k when R^2 is low; it is reported for reference only.

Confidence intervals (95%, t distribution, OLS by statsmodels):
* k's interval inverts the slope's: (1/hi, 1/lo) when the slope's interval excludes 0. When it
  includes 0 the set {1/s} is two rays; we report the ray that holds the estimate, e.g.
  (1/hi, +inf) for a positive slope, mark it unbounded, and call the fit not significant.
* The compute implied by a target error is x0 = (y0 - a)/b in log10 FLOP. Its band is Fieller's
  interval: the x where the fitted line's 95% confidence band reaches y0, i.e. where the plotted
  band meets the target's horizontal line. It uses the full parameter covariance, is finite
  only when the slope is significantly non-zero, and is reported as unbounded otherwise.
  It is where the trend LINE is, not where a network is: most published points lie outside it.
* Where one NEW network may lie is the 95% prediction interval (statsmodels'
  `get_prediction(x).summary_frame(alpha)` obs_ci_lower/upper): the line's variance plus the
  residual variance s^2, Var = Var(a + b x) + s^2. `log10_compute_predicted` inverts it for a
  network of error e: the set of log10 compute x whose prediction interval contains y(e), i.e.
  Fieller's quadratic with s^2 added to Var(a) (an inverse-prediction, or calibration, interval;
  Draper & Smith, Applied Regression Analysis, 3rd ed., sec. 3.2). It is NOT the prediction
  interval of log10 compute regressed on y: that reverse regression is not the paper's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.dependent import DEFAULT_DEPENDENT, check_dependent, dependent_values
from harness.analysis.estimator import ALPHA, estimate_line
from harness.errors import HarnessError
from harness.vocab import BENCHMARKS

MODELS = ("polynomial", "exponential")
MEASURES = {"per-pass": "per_pass_flops", "burden": "burden_flops"}
# The column saying whether a row's point of a measure is doubtful (flags are per field).
FLAG_COLUMNS = {
    "per-pass": "per_pass_flagged",
    "burden": "burden_flagged",
    "burden-consolidated": "burden_flagged",
}
MEASURE_TITLES = {"per-pass": "per-pass compute (FLOP)", "burden": "hardware burden (FLOP)"}
# Measures fitted only when asked for (or on the authors' data): network operations = total
# training compute (per-pass x examples x epochs, backward included), as the authors' 2022
# revision fits it; consolidated burden = stated burden, else imputed from network operations.
EXTRA_MEASURES = {
    "network-ops": "network_ops_flops",
    "burden-consolidated": "burden_consolidated_flops",
}
ALL_MEASURES = {**MEASURES, **EXTRA_MEASURES}
MEASURE_TITLES.update(
    {
        "network-ops": "network operations, whole training run (FLOP)",
        "burden-consolidated": "hardware burden, consolidated: partly imputed (FLOP)",
    }
)
DIRECTION = (
    "regression of performance on compute, as in Thompson et al. (2020): "
    "polynomial log10(1/error) = a + b log10(C), exponential 1/error = a + b log10(C); "
    "k = 1/b. k_reverse = R^2 x k is what the reverse regression (compute on performance) gives."
)


def transform(
    model: str, error: np.ndarray | float, dependent: str = DEFAULT_DEPENDENT
) -> np.ndarray | float:
    """The regression's y for an error: log10(1/error) (polynomial) or 1/error (exponential);
    another dependent quantity (error, score) in place of 1/error when asked for."""
    return dependent_values(model, error, dependent)


@dataclass(frozen=True)
class Fit:
    """One OLS fit of performance on log10 compute."""

    benchmark: str
    measure: str
    model: str
    points: str  # which point set: "published", "measured" or "pooled"
    n: int
    n_flagged: int
    n_measured: int
    excluded_flagged: bool
    intercept: float
    slope: float
    intercept_ci: tuple[float, float]
    slope_ci: tuple[float, float]
    cov: tuple[tuple[float, float], tuple[float, float]]  # of (intercept, slope)
    df_resid: int
    t_crit: float
    r_squared: float
    p_value: float
    x_range: tuple[float, float]  # log10 compute of the fitted points
    best_error: float
    best_model: str
    best_flops: float
    dependent: str = DEFAULT_DEPENDENT  # the quantity regressed (dependent.py)
    quantile: float | None = None  # None: OLS; else the quantile of a quantile regression
    resid_var: float = math.nan  # s^2, the scatter of points about the line (OLS only)

    @property
    def paper_performance(self) -> bool:
        """Whether y is the paper's performance 1/error, so k = 1/slope is its exponent."""
        return self.dependent == DEFAULT_DEPENDENT

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def k(self) -> float:
        return 1.0 / self.slope

    @property
    def k_ci(self) -> tuple[float, float]:
        """k's 95% interval from inverting the slope's; +-inf where it is unbounded."""
        lo, hi = self.slope_ci
        if lo > 0 or hi < 0:
            return (1.0 / hi, 1.0 / lo)
        if self.slope > 0:
            return (1.0 / hi if hi > 0 else math.inf, math.inf)
        return (-math.inf, 1.0 / lo if lo < 0 else -math.inf)

    @property
    def k_bounded(self) -> bool:
        return all(math.isfinite(v) for v in self.k_ci)

    @property
    def k_reverse(self) -> float:
        """The exponent the reverse regression (log10 C on y) would give: R^2 x k."""
        return self.r_squared * self.k

    @property
    def verdict(self) -> str:
        if self.significant:
            return "significant"
        return f"NOT significant (p={self.p_value:.2g} >= {ALPHA:g})"

    def predict(self, log10_c: np.ndarray) -> np.ndarray:
        return self.intercept + self.slope * np.asarray(log10_c, dtype=float)

    def band(self, log10_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """95% confidence band of the fitted mean line at log10 compute x."""
        x = np.asarray(log10_c, dtype=float)
        (vaa, vab), (_, vbb) = self.cov
        se = np.sqrt(np.maximum(vaa + 2 * x * vab + x * x * vbb, 0.0))
        mid = self.predict(x)
        return mid - self.t_crit * se, mid + self.t_crit * se

    def prediction_band(self, log10_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """95% prediction interval for ONE new network's y at log10 compute x: the line's
        uncertainty plus the points' scatter (statsmodels' obs_ci_lower/upper)."""
        self._check_predicts()
        x = np.asarray(log10_c, dtype=float)
        (vaa, vab), (_, vbb) = self.cov
        se = np.sqrt(np.maximum(vaa + 2 * x * vab + x * x * vbb, 0.0) + self.resid_var)
        mid = self.predict(x)
        return mid - self.t_crit * se, mid + self.t_crit * se

    def _check_predicts(self) -> None:
        if not math.isfinite(self.resid_var):
            raise HarnessError(
                f"{self.benchmark} {self.measure}: a quantile line has no prediction interval; "
                "use the OLS fit"
            )

    def log10_compute_for(self, error: float) -> tuple[float, float, float]:
        """(estimate, low, high) of log10 compute at which the fit reaches `error` (Fieller)."""
        return self._invert(error, 0.0)

    def log10_compute_predicted(self, error: float) -> tuple[float, float, float]:
        """(estimate, low, high): the log10 compute whose 95% prediction interval holds `error`,
        i.e. the compute range in which a new network of this error lies 95% of the time."""
        self._check_predicts()
        return self._invert(error, self.resid_var)

    def _invert(self, error: float, extra_var: float) -> tuple[float, float, float]:
        """The x where |y0 - a - b x| <= t sqrt(Var(a + b x) + extra_var): a quadratic in x."""
        check_error(error, "target error")
        y0 = float(transform(self.model, error, self.dependent))
        d = y0 - self.intercept
        x0 = d / self.slope
        (vaa, vab), (_, vbb) = self.cov
        vaa = vaa + extra_var
        t2 = self.t_crit**2
        qa = self.slope**2 - t2 * vbb
        qb = -2.0 * (d * self.slope + t2 * vab)
        qc = d * d - t2 * vaa
        disc = qb * qb - 4 * qa * qc
        if qa > 0:
            root = math.sqrt(max(disc, 0.0))
            r1, r2 = sorted(((-qb - root) / (2 * qa), (-qb + root) / (2 * qa)))
            return x0, min(r1, x0), max(r2, x0)
        if qa < 0 and disc > 0:
            root = math.sqrt(disc)
            r1, r2 = sorted(((-qb - root) / (2 * qa), (-qb + root) / (2 * qa)))
            return (x0, -math.inf, r1) if x0 <= r1 else (x0, r2, math.inf)
        return x0, -math.inf, math.inf


@dataclass(frozen=True)
class FitSkipped:
    """A benchmark/measure/model that could not be fitted, and why (shown as a table row)."""

    benchmark: str
    measure: str
    model: str
    points: str
    reason: str


def check_error(error: float, what: str) -> None:
    """Refuse an error that is not a fraction in (0, 1), naming what it was."""
    if not (isinstance(error, (int, float)) and math.isfinite(error) and 0 < error < 1):
        raise HarnessError(
            f"{what} {error!r} is outside (0, 1): give errors as fractions (5% -> 0.05)"
        )


def validate_points(frame: pd.DataFrame, column: str, where: str) -> None:
    """Refuse errors outside (0, 1) and compute that is not a positive number of FLOP."""
    bad = frame[~((frame["error"] > 0) & (frame["error"] < 1))]
    if len(bad):
        r = bad.iloc[0]
        raise HarnessError(
            f"{where}: error {float(r['error']):g} of '{r['model']}' is outside (0, 1); "
            "errors are fractions (1 - accuracy, 1 - score/100)"
        )
    comp = frame[column]
    bad = frame[comp.notna() & ~(np.isfinite(comp) & (comp > 0))]
    if len(bad):
        r = bad.iloc[0]
        raise HarnessError(
            f"{where}: compute {float(r[column]):g} of '{r['model']}' is not a positive number "
            "of FLOP"
        )


def select_points(
    frame: pd.DataFrame, benchmark: str, measure: str, exclude_flagged: bool = False
) -> pd.DataFrame:
    """The rows of one benchmark with compute of one measure, as (…, compute_flops, flagged)."""
    if measure not in ALL_MEASURES:
        raise HarnessError(f"unknown measure '{measure}' (use one of: {', '.join(ALL_MEASURES)})")
    column = ALL_MEASURES[measure]
    rows = frame[frame["benchmark"] == benchmark]
    if rows.empty:
        raise HarnessError(
            f"no data for benchmark '{benchmark}' (benchmarks with data: "
            f"{', '.join(sorted(frame['benchmark'].unique())) or 'none'})"
        )
    if column not in rows or (measure in EXTRA_MEASURES and rows[column].isna().all()):
        raise HarnessError(
            f"{benchmark}: {measure} not available for these points (none has it; "
            "--published-from DIR reads the authors' network operations)"
        )
    validate_points(rows, column, benchmark)
    rows = rows[rows[column].notna()].copy()
    rows["compute_flops"] = rows[column].astype(float)
    if "flagged" not in rows:
        rows["flagged"], rows["flag_reason"] = False, ""
    flag_column = FLAG_COLUMNS.get(measure)  # a row's flag for this fit: its error or compute
    if flag_column and flag_column in rows:
        rows["flagged"] = rows[flag_column].fillna(False).astype(bool)
        rows["flag_reason"] = rows[flag_column.replace("_flagged", "_flag_reason")].fillna("")
    if exclude_flagged:
        rows = rows[~rows["flagged"].astype(bool)]
    return rows.reset_index(drop=True)


def fit_points(
    points: pd.DataFrame,
    model: str,
    benchmark: str,
    measure: str,
    label: str = "published",
    excluded_flagged: bool = False,
    dependent: str = DEFAULT_DEPENDENT,
    quantile: float | None = None,
) -> Fit:
    """OLS (or the `quantile` line) of the model's y on log10(compute_flops) over `points`."""
    check_dependent(dependent)
    where = f"{benchmark} {measure} ({label})"
    n = len(points)
    if n < 3:
        raise HarnessError(
            f"{where}: {n} point(s) with {measure} compute; a fit needs at least 3"
            + (" (flagged rows were excluded)" if excluded_flagged else "")
        )
    x = np.log10(points["compute_flops"].to_numpy(dtype=float))
    y = np.asarray(transform(model, points["error"].to_numpy(dtype=float), dependent))
    if np.ptp(x) == 0:
        raise HarnessError(f"{where}: every point has the same compute; the slope is undefined")
    from scipy import stats

    res = estimate_line(x, y, quantile)
    ci, cov, pval = res.ci, res.cov, res.p_value
    if quantile is not None and not np.all(np.isfinite(ci)):
        raise HarnessError(
            f"{where}: the {quantile:g} quantile's interval is undefined for {n} points "
            "(QuantReg's bandwidth reaches past the quantile); use more points or a quantile "
            "nearer 0.5"
        )
    if not np.isfinite(pval) or cov[1][1] <= 0:
        raise HarnessError(
            f"{where}: the points lie exactly on a line, so the fit has no uncertainty; "
            "add points or check the data"
        )
    best = int(np.argmin(points["error"].to_numpy()))
    src = points["source"] if "source" in points else pd.Series(["published"] * n)
    return Fit(
        benchmark=benchmark,
        measure=measure,
        model=model,
        points=label,
        n=n,
        n_flagged=int(points["flagged"].astype(bool).sum()) if "flagged" in points else 0,
        n_measured=int((src == "measured").sum()),
        excluded_flagged=excluded_flagged,
        intercept=res.params[0],
        slope=res.params[1],
        intercept_ci=ci[0],
        slope_ci=ci[1],
        cov=cov,
        df_resid=res.df_resid,
        t_crit=float(stats.t.ppf(1 - ALPHA / 2, res.df_resid)),
        r_squared=res.r_squared,
        p_value=pval,
        x_range=(float(x.min()), float(x.max())),
        best_error=float(points["error"].iloc[best]),
        best_model=str(points["model"].iloc[best]),
        best_flops=float(points["compute_flops"].iloc[best]),
        dependent=dependent,
        quantile=quantile,
        resid_var=res.resid_var,
    )


def fit(
    frame: pd.DataFrame,
    benchmark: str,
    measure: str,
    model: str = "polynomial",
    exclude_flagged: bool = False,
    label: str = "published",
    dependent: str = DEFAULT_DEPENDENT,
    quantile: float | None = None,
) -> Fit:
    """Fit one model to one benchmark and measure of a point frame."""
    pts = select_points(frame, benchmark, measure, exclude_flagged)
    return fit_points(pts, model, benchmark, measure, label, exclude_flagged, dependent, quantile)


def fit_all(
    frame: pd.DataFrame,
    benchmarks: Iterable[str] = BENCHMARKS,
    measures: Iterable[str] = tuple(MEASURES),
    models: Iterable[str] = MODELS,
    exclude_flagged: bool = False,
    label: str = "published",
) -> list[Fit | FitSkipped]:
    """Every benchmark x measure x model; those that cannot be fitted come back as FitSkipped."""
    out: list[Fit | FitSkipped] = []
    for b in benchmarks:
        for m in measures:
            for mod in models:
                try:
                    out.append(fit(frame, b, m, mod, exclude_flagged, label))
                except HarnessError as exc:
                    out.append(FitSkipped(b, m, mod, label, str(exc)))
    return out
