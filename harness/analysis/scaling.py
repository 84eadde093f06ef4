"""The paper's scaling-law regressions, their confidence intervals, and extrapolation tables.

Direction (as in Thompson et al. 2020): performance is regressed on compute, never the reverse.
With P = 1/error and C the compute (per-pass FLOP or hardware-burden FLOP):

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

Extrapolated quantities are kept as log10 values, since the exponential model's targets can lie
hundreds of orders of magnitude out (beyond a float's range).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.catalog.published import BLEU_CAVEAT, POINT_COLUMNS
from harness.cost.conversions import LBS_PER_KG, PaperConversion
from harness.errors import HarnessError
from harness.vocab import BENCHMARKS

ALPHA = 0.05
MODELS = ("polynomial", "exponential")
MEASURES = {"per-pass": "per_pass_flops", "burden": "burden_flops"}
MEASURE_TITLES = {"per-pass": "per-pass compute (FLOP)", "burden": "hardware burden (FLOP)"}
DIRECTION = (
    "regression of performance on compute, as in Thompson et al. (2020): "
    "polynomial log10(1/error) = a + b log10(C), exponential 1/error = a + b log10(C); "
    "k = 1/b. k_reverse = R^2 x k is what the reverse regression (compute on performance) gives."
)
PER_PASS_NOT_COST = (
    "per-pass compute is the cost of one forward pass, not of training: no CO2 or dollars"
)
# Paper's ImageNet targets (Thompson et al. 2020, extrapolation figure): 5% and 1% top-1 error.
# Other benchmarks: half and a tenth of today's best error in the fitted data (harness choice).
PAPER_TARGETS = {"imagenet": (0.05, 0.01)}
DEFAULT_TARGET_FRACTIONS = (0.5, 0.1)
MEASURED_COLUMNS = ("benchmark", "model", "error", "per_pass_flops", "burden_flops")


def transform(model: str, error: np.ndarray | float) -> np.ndarray | float:
    """The regression's y for an error: log10(1/error) (polynomial) or 1/error (exponential)."""
    perf = 1.0 / np.asarray(error, dtype=float)
    if model == "polynomial":
        return np.log10(perf)
    if model == "exponential":
        return perf
    raise HarnessError(f"unknown model '{model}' (use one of: {', '.join(MODELS)})")


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

    def log10_compute_for(self, error: float) -> tuple[float, float, float]:
        """(estimate, low, high) of log10 compute at which the fit reaches `error` (Fieller)."""
        _check_error(error, "target error")
        y0 = float(transform(self.model, error))
        d = y0 - self.intercept
        x0 = d / self.slope
        (vaa, vab), (_, vbb) = self.cov
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


def _check_error(error: float, what: str) -> None:
    if not (isinstance(error, (int, float)) and math.isfinite(error) and 0 < error < 1):
        raise HarnessError(
            f"{what} {error!r} is outside (0, 1): give errors as fractions (5% -> 0.05)"
        )


def _validate(frame: pd.DataFrame, column: str, where: str) -> None:
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
    if measure not in MEASURES:
        raise HarnessError(f"unknown measure '{measure}' (use one of: {', '.join(MEASURES)})")
    column = MEASURES[measure]
    rows = frame[frame["benchmark"] == benchmark]
    if rows.empty:
        raise HarnessError(
            f"no data for benchmark '{benchmark}' (benchmarks with data: "
            f"{', '.join(sorted(frame['benchmark'].unique())) or 'none'})"
        )
    _validate(rows, column, benchmark)
    rows = rows[rows[column].notna()].copy()
    rows["compute_flops"] = rows[column].astype(float)
    if "flagged" not in rows:
        rows["flagged"], rows["flag_reason"] = False, ""
    if measure == "burden" and "burden_flagged" in rows:
        rows["flagged"] = rows["burden_flagged"].astype(bool)
        rows["flag_reason"] = rows["burden_flag_reason"]
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
) -> Fit:
    """OLS of the model's y on log10(compute_flops) over `points` (from select_points)."""
    where = f"{benchmark} {measure} ({label})"
    n = len(points)
    if n < 3:
        raise HarnessError(
            f"{where}: {n} point(s) with {measure} compute; a fit needs at least 3"
            + (" (flagged rows were excluded)" if excluded_flagged else "")
        )
    x = np.log10(points["compute_flops"].to_numpy(dtype=float))
    y = np.asarray(transform(model, points["error"].to_numpy(dtype=float)))
    if np.ptp(x) == 0:
        raise HarnessError(f"{where}: every point has the same compute; the slope is undefined")
    import statsmodels.api as sm
    from scipy import stats

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = sm.OLS(y, sm.add_constant(x)).fit()
        ci = np.asarray(res.conf_int(ALPHA))
        cov = np.asarray(res.cov_params())
        pval = float(res.pvalues[1])
    if not np.isfinite(pval) or cov[1, 1] <= 0:
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
        intercept=float(res.params[0]),
        slope=float(res.params[1]),
        intercept_ci=(float(ci[0, 0]), float(ci[0, 1])),
        slope_ci=(float(ci[1, 0]), float(ci[1, 1])),
        cov=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        df_resid=int(res.df_resid),
        t_crit=float(stats.t.ppf(1 - ALPHA / 2, res.df_resid)),
        r_squared=float(res.rsquared),
        p_value=pval,
        x_range=(float(x.min()), float(x.max())),
        best_error=float(points["error"].iloc[best]),
        best_model=str(points["model"].iloc[best]),
        best_flops=float(points["compute_flops"].iloc[best]),
    )


def fit(
    frame: pd.DataFrame,
    benchmark: str,
    measure: str,
    model: str = "polynomial",
    exclude_flagged: bool = False,
    label: str = "published",
) -> Fit:
    """Fit one model to one benchmark and measure of a point frame."""
    pts = select_points(frame, benchmark, measure, exclude_flagged)
    return fit_points(pts, model, benchmark, measure, label, exclude_flagged)


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


# --- measured points --------------------------------------------------------------------------


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
        _validate(df.assign(**{"compute": df[col]}), "compute", "measured points")
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
    return df[list(POINT_COLUMNS)]


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


# --- extrapolation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Compute (and, for hardware burden, CO2 and dollars) implied by one target error."""

    benchmark: str
    measure: str
    model: str
    label: str  # "Today", "Target 1", ...
    error: float
    log10_flops: float
    log10_flops_lo: float  # -inf / +inf when the band is unbounded
    log10_flops_hi: float
    observed_flops: float | None = None  # compute of today's best point
    points: str = "published"
    conversion: PaperConversion | None = field(default=None, repr=False)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.log10_flops_lo) and math.isfinite(self.log10_flops_hi)

    @property
    def is_cost(self) -> bool:
        return self.measure == "burden" and self.conversion is not None

    def _shift(self, log10_per_flop: float) -> tuple[float, float, float]:
        return (
            self.log10_flops + log10_per_flop,
            self.log10_flops_lo + log10_per_flop,
            self.log10_flops_hi + log10_per_flop,
        )

    def log10_co2_lbs(self) -> tuple[float, float, float] | None:
        if not self.is_cost:
            return None
        return self._shift(math.log10(self.conversion.lbs_per_flop))

    def log10_co2_kg(self) -> tuple[float, float, float] | None:
        if not self.is_cost:
            return None
        return self._shift(math.log10(self.conversion.lbs_per_flop / LBS_PER_KG))

    def log10_usd(self) -> tuple[float, float] | None:
        """(low price, high price) dollars at the estimate, in log10."""
        if not self.is_cost:
            return None
        return (
            self.log10_flops + math.log10(self.conversion.usd_low_per_flop),
            self.log10_flops + math.log10(self.conversion.usd_high_per_flop),
        )

    def log10_usd_band(self) -> tuple[float, float] | None:
        """(low price x band low, high price x band high): the widest dollar range."""
        if not self.is_cost:
            return None
        return (
            self.log10_flops_lo + math.log10(self.conversion.usd_low_per_flop),
            self.log10_flops_hi + math.log10(self.conversion.usd_high_per_flop),
        )


def default_targets(benchmark: str, today_error: float) -> list[tuple[str, float]]:
    """Today's best, then the paper's targets (ImageNet) or half and a tenth of today's error."""
    targets = PAPER_TARGETS.get(benchmark) or tuple(
        today_error * f for f in DEFAULT_TARGET_FRACTIONS
    )
    return [("Today", today_error)] + [(f"Target {i}", e) for i, e in enumerate(targets, 1)]


def extrapolate(
    fit_: Fit,
    targets: Sequence[float] | None = None,
    conversion: PaperConversion | None = None,
    allow_insignificant: bool = False,
) -> list[Projection]:
    """Today / Target 1 / Target 2 ... rows for one fit (targets: error fractions).

    A fit whose slope is not significantly positive implies no compute for any target: it is
    refused (HarnessError) unless `allow_insignificant`, and then every band is unbounded.
    """
    if not allow_insignificant and (not fit_.significant or fit_.slope <= 0):
        why = "not significant" if not fit_.significant else "performance falls with compute"
        raise HarnessError(
            f"{fit_.benchmark} {fit_.measure} {fit_.model} ({fit_.points}): {why} "
            f"(slope {fit_.slope:.3g}, p = {fit_.p_value:.2g}); no extrapolation"
        )
    conv = conversion or PaperConversion.strubell()
    rows = default_targets(fit_.benchmark, fit_.best_error)
    if targets:
        for t in targets:
            _check_error(t, "target error")
        rows = rows[:1] + [(f"Target {i}", float(t)) for i, t in enumerate(targets, 1)]
    out = []
    for label, err in rows:
        x0, lo, hi = fit_.log10_compute_for(err)
        out.append(
            Projection(
                benchmark=fit_.benchmark,
                measure=fit_.measure,
                model=fit_.model,
                label=label,
                error=err,
                log10_flops=x0,
                log10_flops_lo=lo,
                log10_flops_hi=hi,
                observed_flops=fit_.best_flops if label == "Today" else None,
                points=fit_.points,
                conversion=conv if fit_.measure == "burden" else None,
            )
        )
    return out


# --- presentation -----------------------------------------------------------------------------


def fmt_log10(v: float, digits: int = 2) -> str:
    """10**v as text without overflow: 22.5 -> '3.2e+22'; +-inf -> 'unbounded'."""
    if not math.isfinite(v):
        return "unbounded"
    e = math.floor(v)
    m = 10 ** (v - e)
    if round(m, digits - 1) >= 10:
        m, e = m / 10, e + 1
    if -3 <= e < 6:
        value = 10**v
        return f"{value:,.0f}" if value >= 100 else f"{value:.{digits}g}"
    return f"{m:.{digits - 1}f}e{e:+03d}"


def fmt_range(lo: float, hi: float) -> str:
    """A log10 interval as text; a side at infinity is open ('> x', '< x', 'unbounded')."""
    if not math.isfinite(lo) and not math.isfinite(hi):
        return "unbounded"
    if not math.isfinite(hi):
        return f"> {fmt_log10(lo)} (no upper bound)"
    if not math.isfinite(lo):
        return f"< {fmt_log10(hi)} (no lower bound)"
    return f"{fmt_log10(lo)} - {fmt_log10(hi)}"


def fmt_ci(lo: float, hi: float, digits: int = 3) -> str:
    def one(v: float) -> str:
        if math.isinf(v):
            return "+inf" if v > 0 else "-inf"
        return f"{v:.{digits}g}"

    return f"[{one(lo)}, {one(hi)}]"


def fit_rows(results: Iterable[Fit | FitSkipped]) -> list[dict[str, Any]]:
    """Rows for console.format_table: one per fit; skipped fits say why."""
    rows = []
    for r in results:
        base = {"benchmark": r.benchmark, "measure": r.measure, "model": r.model}
        if isinstance(r, FitSkipped):
            reason = r.reason.split("): ", 1)[-1]  # the row already names benchmark and measure
            rows.append({**base, "points": r.points, "verdict": f"no fit: {reason}"})
            continue
        pts = f"{r.points} {r.n}"
        if r.n_flagged:
            pts += f" ({r.n_flagged} flagged)"
        elif r.excluded_flagged:
            pts += " (flagged excluded)"
        k_lo, k_hi = r.k_ci
        rows.append(
            {
                **base,
                "points": pts,
                "slope": f"{r.slope:.3g} {fmt_ci(*r.slope_ci)}",
                "k": f"{r.k:.3g} {fmt_ci(k_lo, k_hi)}" + ("" if r.k_bounded else " unbounded"),
                "k_reverse": f"{r.k_reverse:.3g}",
                "R2": f"{r.r_squared:.2f}",
                "p": f"{r.p_value:.2g}",
                "verdict": r.verdict,
            }
        )
    return rows


FIT_COLUMNS = ("benchmark", "measure", "model", "points", "slope", "k", "k_reverse", "R2", "p")
FIT_HEADERS = {"slope": "slope [95% CI]", "k": "k = 1/slope [95% CI]", "R2": "R^2"}


def projection_rows(projections: Iterable[Projection]) -> list[dict[str, Any]]:
    """Rows shaped like the paper's extrapolation figure (Today / Target 1 / Target 2)."""
    rows = []
    for p in projections:
        row: dict[str, Any] = {
            "benchmark": p.benchmark,
            "measure": p.measure,
            "model": p.model,
            "points": p.points,
            "row": p.label,
            "error": f"{100 * p.error:.3g}%",
            "compute": fmt_log10(p.log10_flops),
            "band": fmt_range(p.log10_flops_lo, p.log10_flops_hi),
            "observed": fmt_log10(math.log10(p.observed_flops)) if p.observed_flops else "",
        }
        if p.is_cost:
            lbs, kg, usd, usd_band = (
                p.log10_co2_lbs(),
                p.log10_co2_kg(),
                p.log10_usd(),
                p.log10_usd_band(),
            )
            row["co2_lbs"] = f"{fmt_log10(lbs[0])} ({fmt_range(lbs[1], lbs[2])})"
            row["co2_kg"] = fmt_log10(kg[0])
            row["usd"] = f"{fmt_range(*usd)} ({fmt_range(*usd_band)})"
        else:
            row["co2_lbs"] = row["co2_kg"] = row["usd"] = "n/a (per-pass)"
        rows.append(row)
    return rows


PROJECTION_COLUMNS = (
    "benchmark",
    "measure",
    "model",
    "row",
    "error",
    "compute",
    "band",
    "observed",
    "co2_lbs",
    "co2_kg",
    "usd",
)
PROJECTION_HEADERS = {
    "compute": "compute FLOP",
    "band": "95% band",
    "observed": "best point's compute",
    "co2_lbs": "CO2 lbs (95% band)",
    "co2_kg": "CO2 kg",
    "usd": "$ price range (95% band)",
}


def notes_for(results: Iterable[Fit | FitSkipped]) -> list[str]:
    """Caveats a reader of the fit table needs: MT errors, non-significant fits."""
    notes = [f"Direction: {DIRECTION}"]
    results = list(results)
    if any(r.benchmark.startswith("wmt") for r in results):
        notes.append(f"WMT: {BLEU_CAVEAT}.")
    for r in results:
        if isinstance(r, Fit) and not r.significant:
            notes.append(
                f"{r.benchmark} {r.measure} {r.model} ({r.points}): not significant "
                f"(p = {r.p_value:.2g}); k's interval is unbounded, read no exponent from it."
            )
    return notes


def to_jsonable(obj: Any) -> Any:
    """Fits and projections as plain JSON values (infinities and NaN become null)."""
    if isinstance(obj, Fit):
        d = {k: to_jsonable(v) for k, v in obj.__dict__.items()}
        d.update(
            k=to_jsonable(obj.k),
            k_ci=to_jsonable(obj.k_ci),
            k_bounded=obj.k_bounded,
            k_reverse=to_jsonable(obj.k_reverse),
            significant=obj.significant,
            direction=DIRECTION,
        )
        return d
    if isinstance(obj, FitSkipped):
        return {**obj.__dict__, "skipped": True}
    if isinstance(obj, Projection):
        d = {k: to_jsonable(v) for k, v in obj.__dict__.items() if k != "conversion"}
        d["co2_lbs_log10"] = to_jsonable(obj.log10_co2_lbs())
        d["co2_kg_log10"] = to_jsonable(obj.log10_co2_kg())
        d["usd_log10"] = to_jsonable(obj.log10_usd())
        d["usd_band_log10"] = to_jsonable(obj.log10_usd_band())
        if not obj.is_cost:
            d["note"] = PER_PASS_NOT_COST if obj.measure == "per-pass" else None
        else:
            d["conversion"] = obj.conversion.basis
        return d
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (np.floating, np.integer)):
        return to_jsonable(obj.item())
    return obj


# --- plots ------------------------------------------------------------------------------------


def plot_fit(
    points: pd.DataFrame, fits: Sequence[Fit], path_stem: str, title: str | None = None
) -> list[str]:
    """Log-log scatter of performance (1/error) against compute with each fitted curve and its
    95% band; published points filled, flagged hollow, measured marked with crosses.
    Writes path_stem + .png and .svg and returns the two paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    src = points["source"] if "source" in points else pd.Series(["published"] * len(points))
    flagged = points["flagged"].astype(bool) if "flagged" in points else src == ""
    perf = 1.0 / points["error"].to_numpy(dtype=float)
    comp = points["compute_flops"].to_numpy(dtype=float)
    pub = (src == "published").to_numpy()
    fl = flagged.to_numpy()
    ax.scatter(comp[pub & ~fl], perf[pub & ~fl], c="C0", label="published")
    if (pub & fl).any():
        ax.scatter(
            comp[pub & fl],
            perf[pub & fl],
            facecolors="none",
            edgecolors="C0",
            label="published, flagged (unconfirmed)",
        )
    if (~pub).any():
        ax.scatter(comp[~pub], perf[~pub], marker="x", c="C3", s=60, label="measured")
    x_all = np.log10(comp)
    pad = 0.15 * max(np.ptp(x_all), 1.0)
    xs = np.linspace(x_all.min() - pad, x_all.max() + pad, 200)
    for i, f in enumerate(fits):
        lo, hi = f.band(xs)
        mid = f.predict(xs)
        if f.model == "polynomial":
            mid, lo, hi = 10**mid, 10**lo, 10**hi
        ok = (mid > 0) & (lo > 0) & (hi > 0)
        colour = f"C{i + 1}"
        k_lo, k_hi = f.k_ci
        ax.plot(
            10 ** xs[ok],
            mid[ok],
            color=colour,
            label=f"{f.model} ({f.points}): k = {f.k:.3g} {fmt_ci(k_lo, k_hi)}, R^2 = {f.r_squared:.2f}",
        )
        ax.fill_between(10 ** xs[ok], lo[ok], hi[ok], color=colour, alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    measure = fits[0].measure if fits else "per-pass"
    ax.set_xlabel(MEASURE_TITLES.get(measure, measure))
    ax.set_ylabel("performance = 1 / error")
    ax.set_title(title or f"{fits[0].benchmark}: performance regressed on {measure} compute")
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out = []
    for ext in ("png", "svg"):
        p = f"{path_stem}.{ext}"
        fig.savefig(p, dpi=120)
        out.append(p)
    plt.close(fig)
    return out
