"""`harness fit` as console text: the fit table with its caveats, the extrapolation table, and the
points behind each fit."""

from __future__ import annotations

from collections.abc import Sequence

from harness.analysis.extrapolate import PER_PASS_NOT_COST
from harness.analysis.fit_report import FitReport, PointTable
from harness.analysis.tables import (
    FIT_COLUMNS,
    FIT_HEADERS,
    PROJECTION_COLUMNS,
    PROJECTION_HEADERS,
    fit_rows,
    projection_rows,
)
from harness.console import format_table

INTRO = (
    "Scaling-law fits (OLS, 95% CIs). Direction: performance regressed on compute, as in "
    "Thompson et al. (2020); k = 1/slope; k_reverse = R^2 x k is what regressing compute on "
    "performance would give."
)


def _intro(report: FitReport) -> str:
    """The estimator named as it was used: OLS, or the quantile regression asked for."""
    q = getattr(report.request, "quantile", None)
    if q is None:
        return INTRO
    return INTRO.replace("(OLS, 95% CIs)", f"(quantile regression at q = {q:g}, 95% CIs)")


def _fit_section(report: FitReport) -> list[str]:
    lines = [_intro(report), ""]
    lines.append(format_table(fit_rows(report.results), [*FIT_COLUMNS, "verdict"], FIT_HEADERS))
    lines.append("")
    lines += [f"- {note}" for note in report.notes[1:]]
    if report.request.exclude_flagged:
        lines.append("- Flagged rows ('memory'/'flag': unconfirmed values) were excluded.")
    else:
        lines.append(
            "- Counts in brackets are flagged rows ('memory'/'flag': unconfirmed values); "
            "--exclude-flagged leaves them out."
        )
    return lines


def _projection_section(report: FitReport) -> list[str]:
    lines = [
        "",
        "Extrapolation (compute implied by each target error; 95% band by Fieller's method)",
    ]
    columns = list(PROJECTION_COLUMNS)
    if report.with_measured:
        columns.insert(3, "points")
    lines.append(format_table(projection_rows(report.projections), columns, PROJECTION_HEADERS))
    lines.append(f"- CO2 and dollars: hardware-burden fits only, {report.conversion.basis}.")
    lines.append(f"- Per-pass fits: {PER_PASS_NOT_COST}.")
    lines += [f"- {msg}" for msg in report.not_extrapolated]
    return lines


def _year(value: object) -> str:
    """A year cell: blank for a missing year (None or NaN)."""
    return str(value) if value is not None and value == value else ""


def _points_section(table: PointTable) -> list[str]:
    pts = table.points
    rows = [
        {
            "model": r["model"],
            "year": _year(r["year"]),
            "error": f"{100 * r['error']:.3g}%",
            "compute FLOP": f"{r['compute_flops']:.3g}",
            "source": r["source"],
            "flag": r["flag_reason"] if r["flagged"] else "",
        }
        for r in pts.to_dict("records")
    ]
    title = f"Points: {table.benchmark}, {table.measure} compute, {table.label} ({len(pts)})"
    return ["", title, format_table(rows)]


def fit_report_text(report: FitReport, plots: Sequence[str] = ()) -> str:
    """The whole console output; point tables when asked for or when one benchmark is fitted."""
    lines = _fit_section(report) + _projection_section(report)
    if report.request.list_points or report.request.benchmark:
        for table in report.point_tables:
            lines += _points_section(table)
    lines += [f"wrote {path}" for path in plots]
    return "\n".join(lines)
