"""The fit plot of `harness fit --plot`: performance against compute on log-log axes, each fitted
curve with its line's 95% confidence band and the 95% prediction interval for a new network,
published, flagged and measured points told apart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.fit import MEASURE_TITLES, Fit, select_points
from harness.analysis.fit_report import FitReport
from harness.analysis.tables import fmt_ci
from harness.output_files import ensure_folder
from harness.present.figure_files import save_figure
from harness.present.report_figures import draw_bands


def points_footer(points: pd.DataFrame, source: str | None = None) -> str:
    """Where a fit's points came from: how many published (flagged among them) and measured."""
    src = points["source"] if "source" in points else pd.Series(["published"] * len(points))
    flagged = points["flagged"].astype(bool) if "flagged" in points else src == ""
    n_pub = int((src == "published").sum())
    text = (
        f"points: {n_pub} published (from the models' own papers; "
        f"{int(flagged[src == 'published'].sum())} flagged as unconfirmed)"
    )
    n_meas = len(points) - n_pub
    if n_meas:
        text += f", {n_meas} measured" + (f" (from {source})" if source else "")
    return text


def plot_fit(
    points: pd.DataFrame,
    fits: Sequence[Fit],
    path_stem: str,
    title: str | None = None,
    source: str | None = None,
) -> list[str]:
    """Log-log scatter of performance (1/error) against compute with each fitted curve, its
    line's 95% confidence band and the 95% prediction interval for a new network; published
    points filled, flagged hollow, measured marked with crosses.
    Writes path_stem + .png and .svg and returns the two paths; `source` names the file the
    measured points came from, for the footer."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter

    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
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
        if f.quantile is None and f.model != "polynomial":  # log axes: positive bands only
            ok &= f.prediction_band(xs)[0] > 0
        colour = f"C{i + 1}"
        k_lo, k_hi = f.k_ci
        ax.plot(
            10 ** xs[ok],
            mid[ok],
            color=colour,
            label=f"{f.model} ({f.points}): k = {f.k:.3g} {fmt_ci(k_lo, k_hi)}, R^2 = {f.r_squared:.2f}",
        )
        prefix = f"{f.model} ({f.points}): " if len(fits) > 1 else ""
        draw_bands(ax, f, xs[ok], colour, log_y=f.model == "polynomial", prefix=prefix)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    measure = fits[0].measure if fits else "per-pass"
    ax.set_xlabel(MEASURE_TITLES.get(measure, measure))
    ax.set_ylabel("performance = 1 / error")
    ax.set_title(title or f"{fits[0].benchmark}: performance regressed on {measure} compute")
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    return [str(p) for p in save_figure(fig, Path(path_stem), points_footer(points, source))]


def write_fit_plots(report: FitReport, out_dir: str | Path) -> list[str]:
    """One plot per benchmark and measure of the report (pooled points when measured ones were
    given, else published), written under out_dir as fit_<benchmark>_<measure>.{png,svg}."""
    out = ensure_folder(out_dir, "--plot folder", "pass another --plot")
    label = "pooled" if report.with_measured else "published"
    paths: list[str] = []
    for b in report.benchmarks:
        for m in report.measures:
            fits = [
                r
                for r in report.results
                if isinstance(r, Fit) and (r.benchmark, r.measure, r.points) == (b, m, label)
            ]
            if not fits:
                continue
            pts = select_points(report.frame(label), b, m, report.request.exclude_flagged)
            stem = out / f"fit_{b}_{m}"
            paths.extend(plot_fit(pts, fits, str(stem), source=report.measured_source))
    return paths
