"""Fits and projections as table rows, notes and JSON: the forms every output shares.

Numbers are formatted from log10 values so that extrapolations far beyond a float's range still
print, and an unbounded interval reads as such instead of as inf or nan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from harness.analysis.dependent import DEFAULT_DEPENDENT, SCORE_MEANING, describe
from harness.analysis.estimator import describe_estimator
from harness.analysis.extrapolate import PER_PASS_NOT_COST, Projection
from harness.analysis.fit import DIRECTION, Fit, FitSkipped
from harness.catalog.published import BLEU_CAVEAT, squad_rows_without_em


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
                **_kind_cells(r),
            }
        )
    return rows


def _kind_cells(r: Fit) -> dict[str, str]:
    """The cells that differ for another dependent variable or a quantile line: the model
    names its y and estimator; k is the paper's exponent only for OLS on 1/error."""
    if r.paper_performance and r.quantile is None:
        return {}
    cells = {"model": f"{r.model}: {describe(r.model, r.dependent)}"}
    if r.quantile is not None:
        cells["model"] += f", quantile {r.quantile:g}"
        cells["R2"] = f"{r.r_squared:.3f} (pseudo)"
        cells["k_reverse"] = "n/a (OLS only)"
    else:
        cells["R2"] = f"{r.r_squared:.3f}"
    if not r.paper_performance:
        cells["k"] = cells["k_reverse"] = "n/a (y is not 1/error)"
    return cells


def fit_kind_note(dependent: str, quantile: float | None) -> str:
    """What a fit regressed and how, when it is not the paper's OLS of performance."""
    y = " or ".join(describe(m, dependent) for m in ("polynomial", "exponential"))
    text = (
        f"Dependent variable: {y} (polynomial or exponential model) regressed on log10 compute, "
        f"estimator: {describe_estimator(quantile)}"
    )
    if quantile is not None:
        text += (
            "; the slope, intercept and intervals are the quantile line's (robust intervals), "
            "R^2 is Koenker and Machado's pseudo-R^2"
        )
    if dependent == "score":
        text += f"; {SCORE_MEANING}"
    if dependent != DEFAULT_DEPENDENT:
        text += "; k = 1/slope is the paper's exponent only for y = 1/error, so it is not given"
    return text + "."


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
    "band": "95% band of the line (Fieller)",
    "observed": "best point's compute",
    "co2_lbs": "CO2 lbs (95% band)",
    "co2_kg": "CO2 kg",
    "usd": "$ price range (95% band)",
}


POOLED_NOTE = (
    "Pooled fits are exploratory: a measured burden is today's hardware running the published "
    "recipe (at the fp32 peak, the published convention), a published burden is the hardware "
    "of its year; one measured point per architecture."
)


def notes_for(results: Iterable[Fit | FitSkipped], squad_metric: str | None = None) -> list[str]:
    """Caveats a reader of the fit table needs: MT errors, the SQuAD score, pooled fits,
    non-significant fits."""
    notes = [f"Direction: {DIRECTION}"]
    results = list(results)
    if any(r.benchmark.startswith("wmt") for r in results):
        notes.append(f"WMT: {BLEU_CAVEAT}.")
    if squad_metric and any(r.benchmark == "squad11" for r in results):
        notes.append(squad_note(squad_metric))
    if any(r.points == "pooled" for r in results):
        notes.append(POOLED_NOTE)
    for r in results:
        if isinstance(r, Fit) and not r.significant:
            notes.append(
                f"{r.benchmark} {r.measure} {r.model} ({r.points}): not significant "
                f"(p = {r.p_value:.2g}); k's interval is unbounded, read no exponent from it."
            )
    return notes


def squad_note(squad_metric: str) -> str:
    """Which SQuAD score the error is from, and the rows an EM fit leaves out."""
    if squad_metric == "f1":
        return "SQuAD 1.1: error = 1 - F1/100 (--squad-metric f1; the paper's code fits EM)."
    lacking = ", ".join(squad_rows_without_em()) or "none"
    return (
        "SQuAD 1.1: error = 1 - EM/100 (the paper's choice; --squad-metric f1 for F1); "
        f"rows without an EM figure, left out: {lacking}."
    )


def _fit_json(fit: Fit) -> dict[str, Any]:
    """A fit's fields and derived values; the dependent variable and estimator are keys only
    when they are not the paper's (so the paper's fits read as they always have)."""
    paper = fit.paper_performance and fit.quantile is None
    hidden = ("dependent", "quantile") if paper else ()
    d = {k: to_jsonable(v) for k, v in fit.__dict__.items() if k not in hidden}
    d.update(
        k=to_jsonable(fit.k),
        k_ci=to_jsonable(fit.k_ci),
        k_bounded=fit.k_bounded,
        k_reverse=to_jsonable(fit.k_reverse),
        significant=fit.significant,
        direction=DIRECTION,
    )
    if paper:
        return d
    d.update(y=describe(fit.model, fit.dependent), estimator=describe_estimator(fit.quantile))
    if fit.quantile is not None:
        d.update(k_reverse=None, r_squared_kind="pseudo (Koenker-Machado)")
    if not fit.paper_performance:
        d.update(k=None, k_ci=None, k_bounded=None, k_reverse=None)
    return d


def to_jsonable(obj: Any) -> Any:
    """Fits and projections as plain JSON values (infinities and NaN become null)."""
    if isinstance(obj, Fit):
        return _fit_json(obj)
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
