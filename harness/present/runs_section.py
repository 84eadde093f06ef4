"""The report's section on published training runs: a table of the audits and one figure,
counted training compute against what the published hardware could deliver (GPU-hours x dense
peak), one point per run, with lines of constant utilisation."""

from __future__ import annotations

from pathlib import Path

from harness.analysis.audit import RunAudit
from harness.present.audit_text import LEGEND, SUMMARY_COLUMNS, summary_row
from harness.present.figure_files import save_figure

CAPTION = "Published training runs: counted training compute vs published device-hours x dense peak"
UTILISATION_LINES = (1.0, 0.5, 0.2, 0.1)


def runs_table(audits: list[RunAudit]) -> tuple[list[str], list[list[tuple]]]:
    """(headers, cells) of the audits' summary rows (text, sort value, basis)."""
    rows = [summary_row(a) for a in audits]
    cells = [
        [(r[c], r[c], LEGEND if c != "run" else a.run.source) for c in SUMMARY_COLUMNS]
        for r, a in zip(rows, audits, strict=True)
    ]
    return list(SUMMARY_COLUMNS), cells


def plotted(audits: list[RunAudit]) -> list[tuple[str, float, float, bool]]:
    """(run, capacity, compute, counted?) of each run with both figures; the published compute
    stands in (hollow marker) where the model is not in the zoo."""
    out = []
    for a in audits:
        capacity = a.value("hardware capacity")
        counted = a.value("training compute (counted)")
        compute = counted if counted is not None else a.value("training compute (published)")
        if capacity and compute:
            out.append((a.run.run, capacity, compute, counted is not None))
    return out


def runs_figure(audits: list[RunAudit], stem: Path) -> list[Path]:
    """Counted (filled) or published (hollow) compute against hardware capacity, log-log."""
    from matplotlib.figure import Figure

    points = plotted(audits)
    fig = Figure(figsize=(8, 6.5))
    ax = fig.subplots()
    xs = [p[1] for p in points] or [1e20, 1e25]
    lo, hi = min(xs) / 3, max(xs) * 3
    for u in UTILISATION_LINES:
        ax.plot([lo, hi], [lo * u, hi * u], color="grey", lw=0.7, ls="--")
        ax.text(hi, hi * u, f" {u:.0%}", fontsize=7, va="center", color="grey")
    for run, capacity, compute, counted in points:
        ax.scatter(
            capacity, compute, s=36, color="C0" if counted else "white", edgecolor="C0", zorder=3
        )
        ax.annotate(run, (capacity, compute), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("published device-hours x 3600 x dense datasheet peak (FLOP)")
    ax.set_ylabel("training compute (FLOP)")
    ax.grid(True, which="major", alpha=0.3)
    fig.suptitle("Counted compute against what the published hardware could deliver")
    footer = (
        "filled: counted (harness per-token training FLOPs x published tokens); hollow: the "
        "source's own compute estimate (model not in the zoo). Dashed: constant utilisation. "
        "Sources: harness/data/reference/published_runs.csv (flagged rows recalled, not confirmed)"
    )
    return save_figure(fig, stem, footer)
