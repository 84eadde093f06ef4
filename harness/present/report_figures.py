"""The report's figures: performance against compute per benchmark (published points, the
paper's fit and the measured rows), achieved throughput and MFU, and energy per example.

Every figure names the devices and the energy provenance of the rows it shows, tiny variants are
marked as such (their counts are not the published networks'), and an energy estimate is never
drawn like a measurement.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

from harness.analysis.fit import MEASURE_TITLES, Fit, FitSkipped, select_points
from harness.analysis.tables import fmt_ci
from harness.catalog.published import TITLES
from harness.errors import HarnessError
from harness.present.figure_files import save_figure
from harness.present.rows import figure_footer
from harness.vocab import ESTIMATED_TDP, MEASURED_PROVENANCES

PROVENANCE_COLOURS = {
    "nvml-counter": "#1b7837",
    "nvml-sampled": "#5aae61",
    "rapl": "#2166ac",
    ESTIMATED_TDP: "#e08214",
    "unavailable": "#999999",
}
_SMALL = {"va": "center", "fontsize": 7}
_NOTE = {"fontsize": 6, "color": "C3"}
_PUBLISHED = {"c": "C0", "label": "published"}
_FLAGGED = {"facecolors": "none", "edgecolors": "C0", "label": "published, flagged (unconfirmed)"}
_MEASURED = {"marker": "X", "c": "C3", "s": 70, "label": "measured (error = reference metric)"}
_MEASURED_TINY = {
    "marker": "D",
    "facecolors": "none",
    "edgecolors": "C1",
    "s": 50,
    "label": "measured, tiny variant: not the published network (error = reference metric)",
}

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain_log_ticks(ax: Any) -> None:
    """Tick labels without mathtext (10⁶, not $10^{6}$; 3, not 3x10^0): mathtext layout made
    a figure take seconds."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    def power(v: float, _pos: Any) -> str:
        e = round(math.log10(v)) if v > 0 else 0
        return f"10{str(e).translate(_SUPERSCRIPT)}" if v > 0 and math.isclose(v, 10.0**e) else ""

    ax.xaxis.set_major_formatter(FuncFormatter(power))
    ax.xaxis.set_minor_formatter(NullFormatter())
    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)


def _published_panel(ax: Any, published: Any, benchmark: str, measure: str) -> Any:
    """The paper's points of one measure (flagged ones hollow); None if it has none."""
    try:
        pts = select_points(published, benchmark, measure) if published is not None else None
    except HarnessError:  # a benchmark the paper has no points for
        return None
    if pts is not None:
        flagged = pts["flagged"].astype(bool).to_numpy()
        comp, perf = pts["compute_flops"].to_numpy(), 1.0 / pts["error"].to_numpy()
        for mask, style in ((~flagged, _PUBLISHED), (flagged, _FLAGGED)):
            if mask.any():
                ax.scatter(comp[mask], perf[mask], s=22, **style)
    return pts


def _measured_panel(ax: Any, pts_m: list[dict], column: str) -> list[float]:
    """The measured rows with this compute (tiny variants apart), a burden with the range of its
    timing spread (burden x (1 -+ IQR / 2 / median)); their full-size compute."""
    xs: list[float] = []
    for tiny, style in ((False, _MEASURED), (True, _MEASURED_TINY)):
        sel = [r for r in pts_m if bool(r["tiny"]) == tiny]
        if not sel:
            continue
        xy = [(r[column], 1 / r["ref_error"]) for r in sel]
        ax.scatter(*zip(*xy, strict=True), zorder=3, **style)
        if column == "burden_per_run_flop":  # a timed burden: the timing spread as a range
            spread = [(r["iqr_pct"] or 0.0) / 200 * r[column] for r in sel]
            x, y = zip(*xy, strict=True)
            ax.errorbar(x, y, xerr=spread, fmt="none", ecolor="C3", elinewidth=0.8, zorder=2)
        for r, point in zip(sel, xy, strict=True):
            text = r["label"] + (" (claimed)" if r["reference_claimed"] else "")
            ax.annotate(text, point, xytext=(3, 3), textcoords="offset points", size=6)
        if not tiny:
            xs += [r[column] for r in sel]
    return xs


def _fit_line(ax: Any, f: Fit, xs_all: list[float]) -> None:
    """The paper's polynomial fit with both its bands, spanning the points' compute."""
    import numpy as np

    lx = np.log10(xs_all)
    xs = np.linspace(lx.min() - 0.2, lx.max() + 0.2, 200)
    ax.plot(
        10**xs,
        10 ** f.predict(xs),
        color="C2",
        label=f"paper's polynomial fit, published points: k = {f.k:.3g} "
        f"{fmt_ci(*f.k_ci)}, R² {f.r_squared:.2f}, n {f.n}"
        + ("" if f.significant else f", NOT significant (p {f.p_value:.2g})"),
    )
    draw_bands(ax, f, xs, "C2", log_y=True)


def draw_bands(ax: Any, f: Fit, xs: Any, colour: str, *, log_y: bool, prefix: str = "") -> None:
    """The line's 95% confidence band (where the trend is) and the 95% prediction interval for
    a new network (where one falls), each labelled with what it is."""
    lo, hi = f.band(xs)
    p_lo, p_hi = f.prediction_band(xs) if f.quantile is None else (None, None)
    if log_y:
        lo, hi = 10**lo, 10**hi
        p_lo, p_hi = (None, None) if p_lo is None else (10**p_lo, 10**p_hi)
    ax.fill_between(
        10**xs,
        lo,
        hi,
        color=colour,
        alpha=0.3,
        label=f"{prefix}95% confidence band of the line (where the trend is)",
    )
    if p_lo is not None:
        ax.fill_between(
            10**xs,
            p_lo,
            p_hi,
            color=colour,
            alpha=0.08,
            linestyle="--",
            label=f"{prefix}95% prediction interval for a new network (where one falls)",
        )


def plotted_rows(rows: list[dict], column: str) -> list[dict]:
    """The measured rows a scaling panel shows: those with this compute and an error; a run at
    another size than its published metric's is left out (tiny variants keep their own marker)."""
    return [r for r in rows if r[column] and r["ref_error"] and (r["on_trend"] or r["tiny"])]


def _scaling_panel(
    ax: Any,
    benchmark: str,
    measure: str,
    column: str,
    rows: list[dict],
    published: Any,
    f: Fit | FitSkipped | None,
) -> None:
    """One panel: published points, the paper's fit (or why there is none), measured points."""
    pts = _published_panel(ax, published, benchmark, measure)
    # the fit line spans these (tiny points stay outside it)
    xs_all: list[float] = [] if pts is None else list(pts["compute_flops"].to_numpy())
    pts_m = plotted_rows(rows, column)
    xs_all += _measured_panel(ax, pts_m, column)
    if isinstance(f, Fit) and xs_all:
        _fit_line(ax, f, xs_all)
    else:
        note = None if published is None else "the paper has no points for this benchmark"
        if pts is not None and f is not None and not isinstance(f, Fit):
            note = f"no paper fit: {f.reason}"
        if note:
            ax.text(0.02, 0.02, textwrap.fill(note, 80), transform=ax.transAxes, **_NOTE)
    if not (xs_all or any(r["tiny"] for r in pts_m)):
        ax.text(0.5, 0.5, "no points with this compute measure", transform=ax.transAxes)
    else:
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax)
        ax.legend(fontsize=6, loc="upper left")
    ax.set_xlabel(
        MEASURE_TITLES[measure] + (" (measured: projected run)" * (column != "per_pass_flops"))
    )
    ax.set_ylabel("performance = 1 / error")
    ax.grid(True, which="both", alpha=0.3)


def scaling_figure(
    benchmark: str, rows: list[dict], published: Any, fits: dict, stem: Path
) -> list[Path]:
    """Performance (1/error) against per-pass compute and against hardware burden, one panel
    each: published points, the paper's polynomial fit with the line's 95% confidence band and
    the 95% prediction interval for a new network, measured points."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5.2))
    axes = fig.subplots(1, 2)
    for ax, measure, column in zip(
        axes, ("per-pass", "burden"), ("per_pass_flops", "burden_per_run_flop"), strict=True
    ):
        f = fits.get((benchmark, measure))
        _scaling_panel(ax, benchmark, measure, column, rows, published, f)
    fig.suptitle(f"{TITLES.get(benchmark, benchmark)}: performance vs compute")
    return save_figure(fig, stem, figure_footer(rows))


def utilisation_figure(rows: list[dict], stem: Path) -> list[Path]:
    """Achieved TFLOP/s and MFU per measured row (MFU against the datasheet peak where there is
    one, else hatched against the measured matmul peak)."""
    from matplotlib.figure import Figure

    rows = [r for r in rows if r["achieved_tflop_per_s"] is not None]
    n = len(rows)
    fig = Figure(figsize=(14, 1.9 + 0.38 * n))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    ys = list(range(n))
    tflops = [r["achieved_tflop_per_s"] for r in rows]
    scale, unit = (1.0, "TFLOP/s") if max(tflops) >= 0.1 else (1e3, "GFLOP/s")
    ax1.barh(ys, [v * scale for v in tflops], color="C0")
    for y, v in zip(ys, tflops, strict=True):
        ax1.text(v * scale, y, f" {v * scale:.3g}", **_SMALL)
    ax1.set_xlim(0, max(tflops) * scale * 1.25 or 1)
    ax1.set_yticks(ys, [r["long_label"] for r in rows], fontsize=7)
    ax1.set_xlabel(f"achieved {unit}")
    ax1.set_title("counted training-step FLOP / median step time", fontsize=8)
    top = 0.0
    for y, r in zip(ys, rows, strict=True):
        sheet = r["mfu_pct"]
        value = sheet if sheet is not None else r["mfu_measured_pct"]
        if value is None:
            ax2.text(0, y, " no peak", **_SMALL)
            continue
        solid = sheet is not None
        ax2.barh(
            y,
            value,
            color="C2" if solid else "white",
            edgecolor="C2",
            hatch=None if solid else "//",
        )
        ax2.text(value, y, f" {value:.3g}%" + ("" if solid else " (vs measured peak)"), **_SMALL)
        top = max(top, value)
    ax2.set_xlim(0, top * 1.6 or 1)
    ax2.set_xlabel("MFU %")
    ax2.set_title("solid: vs datasheet peak; hatched: vs measured matmul peak", fontsize=8)
    for ax in (ax1, ax2):
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Achieved throughput and model FLOP utilisation")
    return save_figure(fig, stem, figure_footer(rows), [r["long_label"] for r in rows])


def energy_figure(rows: list[dict], stem: Path) -> list[Path]:
    """Energy per example, coloured by provenance; estimates hatched and labelled ESTIMATE."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    n = len(rows)
    fig = Figure(figsize=(11, 1.9 + 0.38 * n))
    ax = fig.subplots()
    values = [r["energy_per_example_j"] for r in rows]
    known = [v for v in values if v]
    if known and max(known) / min(known) > 100:
        ax.set_xscale("log")
        ax.set_xlim(min(known) / 2, max(known) * 30)
    elif known:
        ax.set_xlim(0, max(known) * 1.6)
    for y, (r, v) in enumerate(zip(rows, values, strict=True)):
        prov = r["energy_provenance"]
        if not v:
            ax.text(min(known) if known else 0, y, f" unavailable ({prov})", **_SMALL)
            continue
        est = prov not in MEASURED_PROVENANCES
        ax.barh(
            y,
            v,
            hatch="//" if est else None,
            edgecolor="black",
            linewidth=0.4,
            color=PROVENANCE_COLOURS.get(prov, "#777777"),
        )
        ax.text(v, y, f" {v:.3g} J [{prov}]" + (" ESTIMATE" if est else ""), **_SMALL)
    ax.set_yticks(range(n), [r["long_label"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("energy per training example (J, over the timed steps; provenance in brackets)")
    used = sorted({r["energy_provenance"] for r in rows})
    patches = [
        Patch(
            facecolor=PROVENANCE_COLOURS.get(p, "#777777"),
            hatch=None if m else "//",
            label=p + ("" if m else " (estimate)"),
        )
        for p, m in ((p, p in MEASURED_PROVENANCES) for p in used)
    ]
    ax.legend(handles=patches, fontsize=7, loc="upper right")
    ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Energy per training example")
    return save_figure(fig, stem, figure_footer(rows), [r["long_label"] for r in rows])
