"""Audits of published runs as tables: one run's labelled figures, or every run in a row each."""

from __future__ import annotations

from harness.analysis.audit import AuditFigure, RunAudit
from harness.console import fmt_si

FIGURE_COLUMNS: tuple[str, ...] = ("figure", "value", "kind", "basis")
SUMMARY_COLUMNS: tuple[str, ...] = (
    "run",
    "counted compute",
    "published compute",
    "capacity",
    "implied util.",
    "util. (published)",
    "MWh pub.",
    "MWh P x h",
    "tCO2e pub.",
    "tCO2e ours",
    "flag",
)


def format_value(f: AuditFigure) -> str:
    if f.value is None:
        return "-"
    if f.unit == "":
        return f"{f.value:.1%}"
    if f.unit == "FLOP":
        return f"{f.value:.3g} FLOP"  # totals span 1e19 to 1e25: beyond the SI prefixes
    if f.unit == "FLOP/s":
        return fmt_si(f.value, f.unit)
    if f.unit == "tokens":
        return f"{f.value:.3g} tokens"
    return f"{f.value:,.4g} {f.unit}"


def figure_rows(a: RunAudit, basis_width: int = 90) -> list[dict[str, str]]:
    """Each figure with its label (counted, published, derived) and where it came from."""
    rows = []
    for f in a.figures:
        basis = f.basis if len(f.basis) <= basis_width else f.basis[: basis_width - 3] + "..."
        rows.append({"figure": f.name, "value": format_value(f), "kind": f.kind, "basis": basis})
    return rows


def summary_row(a: RunAudit) -> dict[str, str]:
    def v(name: str) -> str:
        f = a.figure(name)
        return format_value(f) if f is not None else "-"

    return {
        "run": a.run.run,
        "counted compute": v("training compute (counted)"),
        "published compute": v("training compute (published)"),
        "capacity": v("hardware capacity"),
        "implied util.": v("implied utilisation (counted)"),
        "util. (published)": v("implied utilisation (published compute)"),
        "MWh pub.": v("energy (published)"),
        "MWh P x h": v("energy (power x hours)"),
        "tCO2e pub.": v("CO2e (published)"),
        "tCO2e ours": v("CO2e (our grid route)"),
        "flag": "memory" if a.run.flagged else "",
    }


LEGEND = (
    "counted: the harness's FLOP count x published tokens; published: the run's source or a "
    "datasheet; derived: arithmetic on both. util. = compute / (device-hours x 3600 x dense "
    "peak). 'memory': some published figures of the row are recalled, not confirmed "
    "(harness/data/reference/published_runs.md)."
)
