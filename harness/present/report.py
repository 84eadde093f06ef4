"""The report: one HTML page, a Markdown summary and the figures (PNG and SVG) of a results database.

It presents, it does not measure: each row's figures come from `harness.pipeline.summary.headline`, the
published points and the paper's polynomial fits from `harness.catalog.published` and `harness.analysis.scaling`.
Every figure names the device(s) and the energy provenance of the rows it shows, tiny variants
are marked as such (their counts are not the published networks'), and an energy estimate is
never drawn or printed like a measurement.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__
from harness.console import fmt_num
from harness.errors import HarnessError
from harness.paths import reports_dir
from harness.pipeline.record import Measurement
from harness.pipeline.summary import headline
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
TINY_NOTE = (
    "(tiny) = reduced CPU test variant: its counts and times are not the published network's"
)


@dataclass(frozen=True)
class ReportPaths:
    """What `write_report` wrote."""

    html: Path
    markdown: Path
    figures: list[Path]


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def load_records(db: str | Path | None = None) -> tuple[Path, list[Measurement]]:
    """Every record of the database; an absent or empty database is a HarnessError."""
    from harness.sweep.store import ResultStore, default_db_path

    path = Path(db).expanduser() if db is not None else default_db_path()
    hint = f"run `harness measure NAME --db {path}` (or `make measure`) first"
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        raise HarnessError(f"no measurements in {path}; {hint}")
    with ResultStore(path, readonly=True) as store:
        records = store.load()
    if not records:
        raise HarnessError(f"no measurements in {path}; {hint}")
    return path, records


def _row(record: Measurement) -> dict[str, Any]:
    """headline() plus what the report needs beside it: label, regression coordinates, bases."""
    h = headline(record)
    b, c = record.burden, record.counts
    h["label"] = f"{h['architecture']}{' (tiny)' if h['tiny'] else ''}"
    h["long_label"] = f"{h['label']} · {h['device']} {h['precision']} bs{h['batch']}"
    h["energy_provenance"] = h["energy_provenance"] or "unavailable"
    macs = c.get("forward_macs_per_example")
    h["per_pass_flops"] = 2.0 * macs if isinstance(macs, (int, float)) and macs > 0 else None
    h["burden_per_run_flop"] = b.get("burden_per_run_flop")
    ref = h["reference_value"]
    h["ref_error"] = 1.0 - ref / 100.0 if isinstance(ref, (int, float)) and 0 < ref < 100 else None
    grid = b.get("grid") or {}
    h["co2_basis"] = (
        f"{b.get('kwh_provenance') or h['energy_provenance']}; PUE {b.get('pue', '-')}; "
        f"{grid.get('source', 'no grid intensity')}"
        if b
        else ""
    )
    h["usd_basis"] = b.get("price_source") or ""
    h["projection_basis"] = b.get("projection_basis") or ""
    h["peak_source"] = b.get("peak_source") or ""
    h["paper_basis"] = b.get("paper_basis") or ""
    h["energy_reason"] = b.get("energy_reason") or record.energy.get("reason") or ""
    h["device_kind"] = str(record.config.get("device", "cpu")).split(":")[0]
    prov, e = h["energy_provenance"], h["energy_per_example_j"]
    h["energy_text"] = f"{fmt_num(e)} [{prov}{': ESTIMATE' if prov == ESTIMATED_TDP else ''}]"
    h["mfu_any_pct"] = h["mfu_pct"] if h["mfu_pct"] is not None else h["mfu_measured_pct"]
    h["mfu_text"] = fmt_num(h["mfu_any_pct"]) + (
        " (vs measured peak)" if h["mfu_pct"] is None and h["mfu_measured_pct"] is not None else ""
    )
    lo, hi = h["paper_usd_low_per_run"], h["paper_usd_high_per_run"]
    h["usd_paper_text"] = "-" if lo is None else f"{fmt_num(lo)} - {fmt_num(hi)}"
    h["error_text"] = h["error"] or ""
    return h


def _devices(rows: Iterable[dict[str, Any]]) -> str:
    names = sorted({str(r["device"]) for r in rows if r["device"]})
    return ", ".join(names) or "none"


def _provenances(rows: Iterable[dict[str, Any]]) -> str:
    provs = sorted({r["energy_provenance"] for r in rows})
    return ", ".join(p + (" (ESTIMATE, not measured)" if p == ESTIMATED_TDP else "") for p in provs)


def _footer(rows: Sequence[dict[str, Any]]) -> str:
    text = f"device(s): {_devices(rows)} | energy provenance: {_provenances(rows) or 'none'}"
    if any(r["tiny"] for r in rows):
        text += f"\n{TINY_NOTE}"
    return text


# --------------------------------------------------------------------------------------------
# Fits (the paper's polynomial, over the published points)
# --------------------------------------------------------------------------------------------


def _paper_fits(published: Any) -> dict[tuple[str, str], Any]:
    """(benchmark, measure) -> Fit or FitSkipped, polynomial model, published points only."""
    from harness.analysis.scaling import fit_all

    return {(f.benchmark, f.measure): f for f in fit_all(published, models=("polynomial",))}


def _extrapolation(fits: dict[tuple[str, str], Any]) -> tuple[list[dict], list[dict], list[str]]:
    """(fit rows, projection rows, notes) for the page; a fit that cannot be used is a note."""
    from harness.analysis.scaling import Fit, extrapolate, fit_rows, notes_for, projection_rows

    results = list(fits.values())
    projections, notes = [], notes_for(results)
    for f in results:
        if not isinstance(f, Fit):
            notes.append(f"{f.benchmark} {f.measure}: no fit ({f.reason})")
            continue
        try:
            projections.extend(extrapolate(f))
        except HarnessError as exc:
            if f.significant:  # notes_for already names the non-significant fits
                notes.append(str(exc))
    return fit_rows(results), projection_rows(projections), notes


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _save(fig: Any, stem: Path, footer: str, labels: Sequence[str] = ()) -> list[Path]:
    """Footer, fixed margins (tight_layout costs a whole extra draw), then PNG and SVG."""
    fig.text(0.01, 0.01, footer, fontsize=7, va="bottom", ha="left", color="#333333")
    w, h = fig.get_size_inches()
    left_in = 0.06 * max((len(s) for s in labels), default=0) + 0.8  # room for bar labels
    bottom_in = 0.75 + 0.13 * footer.count("\n")
    fig.subplots_adjust(
        left=left_in / w, right=0.98, bottom=bottom_in / h, top=1 - 0.75 / h, wspace=0.2
    )
    out = []
    for ext in ("png", "svg"):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=100, metadata={"Date": None} if ext == "svg" else None)
        out.append(path)
    return out


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _plain_log_ticks(ax: Any) -> None:
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


def _scaling_figure(
    benchmark: str, rows: list[dict], published: Any, fits: dict, stem: Path
) -> list[Path]:
    """Performance (1/error) against per-pass compute and against hardware burden, one panel
    each: published points, the paper's polynomial fit with its 95% band, measured points."""
    import numpy as np
    from matplotlib.figure import Figure

    from harness.analysis.scaling import MEASURE_TITLES, Fit, fmt_ci, select_points
    from harness.catalog.published import TITLES

    fig = Figure(figsize=(12, 5.2))
    axes = fig.subplots(1, 2)
    for ax, measure, column in zip(
        axes, ("per-pass", "burden"), ("per_pass_flops", "burden_per_run_flop"), strict=True
    ):
        xs_all: list[float] = []  # the fit line spans these (tiny points stay outside it)
        try:
            pts = select_points(published, benchmark, measure) if published is not None else None
        except HarnessError:  # a benchmark the paper has no points for
            pts = None
        if pts is not None:
            flagged = pts["flagged"].astype(bool).to_numpy()
            comp, perf = pts["compute_flops"].to_numpy(), 1.0 / pts["error"].to_numpy()
            for mask, style in ((~flagged, _PUBLISHED), (flagged, _FLAGGED)):
                if mask.any():
                    ax.scatter(comp[mask], perf[mask], s=22, **style)
            xs_all += list(comp)
        pts_m = [r for r in rows if r[column] and r["ref_error"]]
        for tiny, style in ((False, _MEASURED), (True, _MEASURED_TINY)):
            sel = [r for r in pts_m if bool(r["tiny"]) == tiny]
            if not sel:
                continue
            xy = [(r[column], 1 / r["ref_error"]) for r in sel]
            ax.scatter(*zip(*xy, strict=True), zorder=3, **style)
            for r, point in zip(sel, xy, strict=True):
                ax.annotate(r["label"], point, xytext=(3, 3), textcoords="offset points", size=6)
            if not tiny:
                xs_all += [r[column] for r in sel]
        f = fits.get((benchmark, measure))
        if isinstance(f, Fit) and xs_all:
            lx = np.log10(xs_all)
            xs = np.linspace(lx.min() - 0.2, lx.max() + 0.2, 200)
            lo, hi = f.band(xs)
            ax.plot(
                10**xs,
                10 ** f.predict(xs),
                color="C2",
                label=f"paper's polynomial fit, published points, 95% band: k = {f.k:.3g} "
                f"{fmt_ci(*f.k_ci)}, R² {f.r_squared:.2f}, n {f.n}"
                + ("" if f.significant else f", NOT significant (p {f.p_value:.2g})"),
            )
            ax.fill_between(10**xs, 10**lo, 10**hi, color="C2", alpha=0.15)
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
            _plain_log_ticks(ax)
            ax.legend(fontsize=6, loc="upper left")
        ax.set_xlabel(
            MEASURE_TITLES[measure] + (" (measured: projected run)" * (column != "per_pass_flops"))
        )
        ax.set_ylabel("performance = 1 / error")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{TITLES.get(benchmark, benchmark)}: performance vs compute")
    return _save(fig, stem, _footer(rows))


def _utilisation_figure(rows: list[dict], stem: Path) -> list[Path]:
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
    return _save(fig, stem, _footer(rows), [r["long_label"] for r in rows])


def _energy_figure(rows: list[dict], stem: Path) -> list[Path]:
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
    return _save(fig, stem, _footer(rows), [r["long_label"] for r in rows])


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _cell(r: dict, key: str, text_key: str | None, basis_key: str | None) -> tuple:
    """(text, sort value, hover basis) of one table cell."""
    text = r[text_key] if text_key else fmt_num(r[key])
    return text, r[key], (r[basis_key] or "") if basis_key else ""


# (header, value key, text key or None for fmt_num of the value, basis key shown on hover)
TABLE: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("architecture", "label", None, None),
    ("status", "status", None, None),
    ("benchmark", "benchmark", None, None),
    ("device", "device", None, None),
    ("precision", "precision", None, None),
    ("batch", "batch", None, None),
    ("params (M)", "params_m", None, None),
    ("GMACs / pass (counted)", "gmacs_per_pass", None, None),
    ("train-step GFLOP (counted)", "train_step_gflops", None, None),
    ("median step (ms)", "step_ms", None, None),
    ("throughput (examples/s)", "samples_per_s", None, None),
    ("achieved TFLOP/s", "achieved_tflop_per_s", None, None),
    ("MFU %", "mfu_any_pct", "mfu_text", "peak_source"),
    ("energy / example (J) [provenance]", "energy_per_example_j", "energy_text", "energy_reason"),
    ("hardware burden / run (FLOP, projected)", "burden_per_run_flop", None, "projection_basis"),
    ("CO2e / run (kg, energy route)", "co2_kg_per_run", None, "co2_basis"),
    ("CO2e / run (lbs, paper's conversion)", "paper_co2_lbs_per_run", None, "paper_basis"),
    ("$ / run (device-hours x price)", "usd_per_run", None, "usd_basis"),
    (
        "$ / run (paper's conversion, low - high)",
        "paper_usd_low_per_run",
        "usd_paper_text",
        "paper_basis",
    ),
    ("error", "error", "error_text", None),
)
BASIS = (
    ("architecture", "label"),
    ("device", "device"),
    ("projected run", "projection_basis"),
    ("peak rate", "peak_source"),
    ("CO2e (energy route)", "co2_basis"),
    ("$ (device-hours)", "usd_basis"),
)


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _html_table(headers: Sequence[str], cells: list[list[tuple]], cls: str = "") -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = []
    for row in cells:
        tds = []
        for text, sort, title in row:
            v = sort if isinstance(sort, (int, float)) and not isinstance(sort, bool) else text
            tip = f' title="{_esc(title)}"' if title else ""
            tds.append(f'<td data-v="{_esc(v)}"{tip}>{_esc(text)}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _plain(rows: list[dict], columns: Sequence[str]) -> list[list[tuple]]:
    return [
        [("" if r.get(c) is None else fmt_num(r[c]), r.get(c), "") for c in columns] for r in rows
    ]


def _md_table(headers: Sequence[str], cells: list[list[tuple]]) -> str:
    def clean(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(clean(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(clean(t) for t, _, _ in row) + " |" for row in cells]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1600px}
table{border-collapse:collapse;font-size:12px;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e0e8f0}
td[data-v="error"],td[data-v="timeout"],td[data-v="crashed"],td[data-v="interrupted"]{color:#b00;font-weight:bold}
.scroll{overflow-x:auto}.note{background:#fff8e0;border-left:4px solid #e0a000;padding:.4em .8em;margin:.4em 0}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}figcaption{font-size:12px;color:#555}"""

JS = """document.querySelectorAll('table.sortable th').forEach((th,i)=>th.addEventListener('click',()=>{
const tb=th.closest('table').tBodies[0],rows=[...tb.rows],asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
const key=r=>{const v=r.cells[i].dataset.v;return v===''||v==='None'?null:(isNaN(v)?v.toLowerCase():parseFloat(v));};
rows.sort((a,b)=>{const x=key(a),y=key(b);if(x===null)return 1;if(y===null)return -1;return (x<y?-1:x>y?1:0)*(asc?1:-1);});
rows.forEach(r=>tb.appendChild(r));}));"""


@dataclass(frozen=True)
class _Page:
    """Everything both renderings show, computed once."""

    summary: list[str]
    warnings: list[str]
    cells: list[list[tuple]]
    figures: list[tuple[str, Path, Path]]  # caption, PNG, SVG (relative to the page)
    fit_headers: list[str]
    fit_cells: list[list[tuple]]
    proj_headers: list[str]
    proj_cells: list[list[tuple]]
    basis_cells: list[list[tuple]]
    paper_bases: list[str]
    notes: list[str]


def _render_html(p: _Page) -> str:
    h = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Harness report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Computational cost of deep learning: measurement report</h1>",
        *(f"<p>{_esc(s)}</p>" for s in p.summary),
        *(f"<div class='note'>{_esc(w)}</div>" for w in p.warnings),
        "<h2>Measurements</h2><p>Click a column to sort; hover a cell for its basis.</p>",
        f"<div class='scroll'>{_html_table([t[0] for t in TABLE], p.cells, 'sortable')}</div>",
        "<h2>Figures</h2>",
    ]
    for cap, png, svg in p.figures:
        h.append(
            f"<figure><img src='{_esc(png.as_posix())}' alt='{_esc(cap)}'><figcaption>"
            f"{_esc(cap)} (<a href='{_esc(svg.as_posix())}'>SVG</a>)</figcaption></figure>"
        )
    if not p.figures:
        h.append("<p>No figures: no successful measurement.</p>")
    h.append("<h2>The paper's polynomial fits over the published points</h2>")
    h.append(_html_table(p.fit_headers, p.fit_cells, "sortable") if p.fit_cells else "<p>None.</p>")
    h.append("<h2>Extrapolation (polynomial model, published points)</h2>")
    h.append(
        _html_table(p.proj_headers, p.proj_cells, "sortable")
        if p.proj_cells
        else "<p>No fit to extrapolate.</p>"
    )
    h.append("<h2>Bases of the projected figures</h2>")
    h.append(_html_table([b[0] for b in BASIS], p.basis_cells) if p.basis_cells else "<p>None.</p>")
    h += [f"<p>Paper's conversion: {_esc(b)}</p>" for b in p.paper_bases]
    h.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_esc(n)}</li>" for n in p.notes) + "</ul>")
    h.append(f"<script>{JS}</script></body></html>")
    return "\n".join(h)


def _render_markdown(p: _Page) -> str:
    md = ["# Measurement report", "", *(f"- {s}" for s in p.summary)]
    md += [f"- **{w}**" for w in p.warnings]
    md += ["", "## Measurements", "", _md_table([t[0] for t in TABLE], p.cells), ""]
    md += ["## The paper's polynomial fits over the published points", ""]
    md += [_md_table(p.fit_headers, p.fit_cells) if p.fit_cells else "None.", ""]
    md += ["## Extrapolation (polynomial model, published points)", ""]
    md += [_md_table(p.proj_headers, p.proj_cells) if p.proj_cells else "No fit to extrapolate."]
    md += ["", "## Figures", ""]
    md += [f"- [{c}]({png.as_posix()}) ([SVG]({svg.as_posix()}))" for c, png, svg in p.figures]
    md += [] if p.figures else ["None."]
    md += ["", "## Notes", "", *(f"- Paper's conversion: {b}" for b in p.paper_bases)]
    return "\n".join([*md, *(f"- {n}" for n in p.notes), ""])


def write_report(
    db: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    include_published: bool = True,
) -> ReportPaths:
    """Write report.html, report.md and figures/ (PNG + SVG) under `out_dir` (default reports/)."""
    from harness.analysis.scaling import (
        FIT_COLUMNS,
        FIT_HEADERS,
        PROJECTION_COLUMNS,
        PROJECTION_HEADERS,
    )

    db_path, records = load_records(db)
    out = Path(out_dir).expanduser() if out_dir is not None else reports_dir()
    fig_dir = out / "figures"
    try:
        fig_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create report folder {fig_dir}: {exc.strerror}") from None

    rows = [_row(r) for r in records]
    ok = [r for r in rows if r["status"] == "ok"]
    notes: list[str] = []
    published, fits, fit_tab, proj_tab = None, {}, [], []
    if include_published:
        from harness.catalog.published import load_published

        published = load_published()
        fits = _paper_fits(published)
        fit_tab, proj_tab, fit_notes = _extrapolation(fits)
        notes += fit_notes
    else:
        notes.append("published points left out: no paper fit and no extrapolation table")

    figures: list[tuple[str, list[Path]]] = []
    for bench in sorted({r["benchmark"] for r in ok if r["benchmark"]}):
        b_rows = [r for r in ok if r["benchmark"] == bench]
        if not any(r["ref_error"] for r in b_rows):
            notes.append(f"{bench}: no measured row has a reference metric to plot")
        cap = f"{bench}: performance (1/error) vs per-pass compute and vs hardware burden"
        figures.append(
            (cap, _scaling_figure(bench, b_rows, published, fits, fig_dir / f"scaling_{bench}"))
        )
    if any(r["achieved_tflop_per_s"] is not None for r in ok):
        cap = "Achieved FLOP/s and MFU per measurement"
        figures.append((cap, _utilisation_figure(ok, fig_dir / "utilisation")))
    if ok:
        cap = "Energy per training example, by provenance"
        figures.append((cap, _energy_figure(ok, fig_dir / "energy_per_example")))
    else:
        notes.append("no successful measurement: nothing to plot; the failed rows are in the table")

    status = Counter(r["status"] for r in rows)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
    warnings = []
    if ok and all(r["device_kind"] == "cpu" for r in ok):
        warnings.append("no GPU rows: every successful measurement ran on a CPU")
    if any(r["tiny"] for r in rows):
        warnings.append(TINY_NOTE)
    n_est = sum(r["energy_provenance"] == ESTIMATED_TDP for r in ok)
    if n_est:
        warnings.append(
            f"the energy of {n_est} row(s) is an ESTIMATE (estimated-tdp: a TDP/load model), "
            "not a measurement, and so is the energy-route CO2e derived from it"
        )
    fit_columns = (*FIT_COLUMNS, "verdict")
    page = _Page(
        summary=[
            f"Database: {db_path} ({len(rows)} rows: {counts})",
            f"Device(s): {_devices(rows)}; energy provenance: {_provenances(ok) or 'none'}",
            f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by harness {__version__}",
        ],
        warnings=warnings,
        cells=[[_cell(r, *spec[1:]) for spec in TABLE] for r in rows],
        figures=[(c, ps[0].relative_to(out), ps[1].relative_to(out)) for c, ps in figures],
        fit_headers=[FIT_HEADERS.get(c, c) for c in fit_columns],
        fit_cells=_plain(fit_tab, fit_columns),
        proj_headers=[PROJECTION_HEADERS.get(c, c) for c in PROJECTION_COLUMNS],
        proj_cells=_plain(proj_tab, PROJECTION_COLUMNS),
        basis_cells=[[(str(r[k] or ""), r[k], "") for _, k in BASIS] for r in ok],
        paper_bases=sorted({r["paper_basis"] for r in ok if r["paper_basis"]}),
        notes=notes,
    )
    html_path, md_path = out / "report.html", out / "report.md"
    try:
        html_path.write_text(_render_html(page), encoding="utf-8")
        md_path.write_text(_render_markdown(page), encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write the report under {out}: {exc.strerror}") from None
    return ReportPaths(html_path, md_path, [p for _, ps in figures for p in ps])
