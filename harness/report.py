"""The report: one HTML page, a Markdown summary and the figures (PNG and SVG) of a results database.

It presents, it does not measure: each row's figures come from `harness.summary.headline`, the
published points and the paper's polynomial fits from `harness.reference` and `harness.scaling`.
Every figure names the device(s) and the energy provenance of the rows it shows, tiny variants
are marked as such (their counts are not the published networks'), and an energy estimate is
never drawn or printed like a measurement.
"""

from __future__ import annotations

import html
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
from harness.records import Measurement
from harness.summary import headline

MEASURED_PROVENANCE = ("nvml-counter", "nvml-sampled", "rapl")
ESTIMATE = "estimated-tdp"
PROVENANCE_COLOURS = {
    "nvml-counter": "#1b7837",
    "nvml-sampled": "#5aae61",
    "rapl": "#2166ac",
    ESTIMATE: "#e08214",
    "unavailable": "#999999",
}
TINY_NOTE = "(tiny) = reduced CPU test variant: its counts and times are not the published network's"


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
    from harness.store import ResultStore, default_db_path

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
    return h


def _devices(rows: Iterable[dict[str, Any]]) -> str:
    names = sorted({str(r["device"]) for r in rows if r["device"]})
    return ", ".join(names) or "none"


def _provenances(rows: Iterable[dict[str, Any]]) -> str:
    provs = sorted({r["energy_provenance"] for r in rows})
    return ", ".join(p + (" (ESTIMATE, not measured)" if p == ESTIMATE else "") for p in provs)


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
    from harness.scaling import fit_all

    return {(f.benchmark, f.measure): f for f in fit_all(published, models=("polynomial",))}


def _extrapolation(fits: dict[tuple[str, str], Any]) -> tuple[list[dict], list[dict], list[str]]:
    """(fit rows, projection rows, notes) for the page; a fit that cannot be used is a note."""
    from harness.scaling import Fit, extrapolate, fit_rows, notes_for, projection_rows

    results = list(fits.values())
    projections, notes = [], notes_for(results)
    for f in results:
        if not isinstance(f, Fit):
            notes.append(f"{f.benchmark} {f.measure}: no fit ({f.reason})")
            continue
        try:
            projections.extend(extrapolate(f))
        except HarnessError as exc:
            notes.append(str(exc))
    return fit_rows(results), projection_rows(projections), notes


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _save(fig: Any, stem: Path, footer: str) -> list[Path]:
    fig.text(0.01, 0.01, footer, fontsize=7, va="bottom", ha="left", color="#333333")
    fig.tight_layout(rect=(0, 0.03 + 0.025 * footer.count("\n"), 1, 1))
    out = []
    for ext in ("png", "svg"):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=110, metadata={"Date": None} if ext == "svg" else None)
        out.append(path)
    return out


def _scaling_figure(
    benchmark: str, rows: list[dict], published: Any, fits: dict, stem: Path
) -> list[Path]:
    """Performance (1/error) against per-pass compute and against hardware burden, one panel
    each: published points, the paper's polynomial fit with its 95% band, measured points."""
    import numpy as np
    from matplotlib.figure import Figure

    from harness.reference import TITLES
    from harness.scaling import MEASURE_TITLES, Fit, fmt_ci, select_points

    fig = Figure(figsize=(12, 5.2))
    axes = fig.subplots(1, 2)
    for ax, measure, column in zip(
        axes, ("per-pass", "burden"), ("per_pass_flops", "burden_per_run_flop"), strict=True
    ):
        xs_all: list[float] = []
        if published is not None:
            try:
                pts = select_points(published, benchmark, measure)
            except HarnessError:
                pts = published.iloc[0:0]
            if len(pts):
                flagged = pts["flagged"].astype(bool).to_numpy()
                comp, perf = pts["compute_flops"].to_numpy(), 1.0 / pts["error"].to_numpy()
                ax.scatter(comp[~flagged], perf[~flagged], c="C0", s=22, label="published")
                if flagged.any():
                    ax.scatter(comp[flagged], perf[flagged], facecolors="none", edgecolors="C0",
                               s=22, label="published, flagged (unconfirmed)")
                xs_all += list(comp)
        pts_m = [r for r in rows if r[column] and r["ref_error"]]
        for tiny, style in ((False, dict(marker="X", c="C3", s=70)),
                            (True, dict(marker="D", facecolors="none", edgecolors="C1", s=50))):
            sel = [r for r in pts_m if bool(r["tiny"]) == tiny]
            if not sel:
                continue
            label = "measured, tiny variant (not the published network)" if tiny else "measured"
            ax.scatter([r[column] for r in sel], [1 / r["ref_error"] for r in sel],
                       label=f"{label} (error = reference metric)", zorder=3, **style)
            for r in sel:
                ax.annotate(r["label"], (r[column], 1 / r["ref_error"]), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
            xs_all += [r[column] for r in sel]
        f = fits.get((benchmark, measure))
        if isinstance(f, Fit) and xs_all:
            lx = np.log10(xs_all)
            xs = np.linspace(lx.min() - 0.2, lx.max() + 0.2, 200)
            lo, hi = f.band(xs)
            ax.plot(10**xs, 10 ** f.predict(xs), color="C2",
                    label=f"paper's polynomial fit: k = {f.k:.3g} {fmt_ci(*f.k_ci)}, "
                    f"R² = {f.r_squared:.2f}, n = {f.n}")
            ax.fill_between(10**xs, 10**lo, 10**hi, color="C2", alpha=0.15)
        elif f is not None and not isinstance(f, Fit):
            ax.text(0.02, 0.02, f"no paper fit: {f.reason}"[:110], transform=ax.transAxes,
                    fontsize=6, color="C3", wrap=True)
        if not xs_all:
            ax.text(0.5, 0.5, "no points with this compute measure", ha="center",
                    transform=ax.transAxes)
        else:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.legend(fontsize=6, loc="upper left")
        title = MEASURE_TITLES[measure] + (" (measured: projected run)" if measure == "burden" else "")
        ax.set_xlabel(title)
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
    fig = Figure(figsize=(12, 1.6 + 0.38 * n))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    ys = list(range(n))
    ax1.barh(ys, [r["achieved_tflop_per_s"] for r in rows], color="C0")
    ax1.set_yticks(ys, [r["long_label"] for r in rows], fontsize=7)
    ax1.set_xlabel("achieved TFLOP/s (counted training-step FLOP / median step time)")
    for y, r in zip(ys, rows, strict=True):
        sheet = r["mfu_pct"]
        value = sheet if sheet is not None else r["mfu_measured_pct"]
        if value is None:
            ax2.text(0, y, " no peak", va="center", fontsize=7)
            continue
        ax2.barh(y, value, color="C2" if sheet is not None else "white", edgecolor="C2",
                 hatch=None if sheet is not None else "//")
        ax2.text(value, y, f" {value:.3g}%" + ("" if sheet is not None else " (vs measured peak)"),
                 va="center", fontsize=7)
    ax2.set_xlabel("MFU % (solid: datasheet peak; hatched: measured matmul peak)")
    for ax in (ax1, ax2):
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Achieved throughput and model FLOP utilisation")
    return _save(fig, stem, _footer(rows))


def _energy_figure(rows: list[dict], stem: Path) -> list[Path]:
    """Energy per example, coloured by provenance; estimates hatched and labelled ESTIMATE."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    n = len(rows)
    fig = Figure(figsize=(10, 1.6 + 0.38 * n))
    ax = fig.subplots()
    values = [r["energy_per_example_j"] for r in rows]
    known = [v for v in values if v]
    if known and max(known) / min(known) > 100:
        ax.set_xscale("log")
    for y, (r, v) in enumerate(zip(rows, values, strict=True)):
        prov = r["energy_provenance"]
        if not v:
            ax.text(min(known) if known else 0, y, f" unavailable ({prov})", va="center", fontsize=7)
            continue
        est = prov not in MEASURED_PROVENANCE
        ax.barh(y, v, color=PROVENANCE_COLOURS.get(prov, "#777777"), hatch="//" if est else None,
                edgecolor="black", linewidth=0.4)
        ax.text(v, y, f" {v:.3g} J [{prov}]" + (" ESTIMATE" if est else ""), va="center", fontsize=7)
    ax.set_yticks(range(n), [r["long_label"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("energy per training example (J, measured device(s) over the timed steps)")
    used = sorted({r["energy_provenance"] for r in rows})
    ax.legend(handles=[Patch(facecolor=PROVENANCE_COLOURS.get(p, "#777777"),
                             hatch=None if p in MEASURED_PROVENANCE else "//",
                             label=p + ("" if p in MEASURED_PROVENANCE else " (estimate)"))
                       for p in used], fontsize=7, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Energy per training example")
    return _save(fig, stem, _footer(rows))


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _num(key: str, header: str) -> tuple[str, Any]:
    return header, lambda r: (fmt_num(r[key]), r[key], "")


def _text(key: str, header: str) -> tuple[str, Any]:
    return header, lambda r: ("" if r[key] is None else str(r[key]), r[key], "")


def _energy_cell(r: dict) -> tuple[str, Any, str]:
    prov, v = r["energy_provenance"], r["energy_per_example_j"]
    if v is None:
        return f"- [{prov}]", None, r.get("energy_reason") or ""
    return f"{fmt_num(v)} [{prov}{': ESTIMATE' if prov == ESTIMATE else ''}]", v, ""


def _usd_paper(r: dict) -> tuple[str, Any, str]:
    lo, hi = r["paper_usd_low_per_run"], r["paper_usd_high_per_run"]
    text = "-" if lo is None else f"{fmt_num(lo)} - {fmt_num(hi)}"
    return text, lo, r["paper_basis"]


TABLE: tuple[tuple[str, Any], ...] = (
    _text("label", "architecture"),
    _text("status", "status"),
    _text("benchmark", "benchmark"),
    _text("device", "device"),
    _text("precision", "precision"),
    _num("batch", "batch"),
    _num("params_m", "params (M)"),
    _num("gmacs_per_pass", "GMACs / pass (counted)"),
    _num("train_step_gflops", "train-step GFLOP (counted)"),
    _num("step_ms", "median step (ms)"),
    _num("samples_per_s", "throughput (examples/s)"),
    _num("achieved_tflop_per_s", "achieved TFLOP/s"),
    ("MFU %", lambda r: (fmt_num(r["mfu_pct"]), r["mfu_pct"], "vs datasheet peak")
     if r["mfu_pct"] is not None else (
        f"{fmt_num(r['mfu_measured_pct'])} (vs measured peak)" if r["mfu_measured_pct"] is not None
        else "-", r["mfu_measured_pct"], r["peak_source"])),
    ("energy / example (J) [provenance]", _energy_cell),
    ("hardware burden / run (FLOP, projected)",
     lambda r: (fmt_num(r["burden_per_run_flop"]), r["burden_per_run_flop"], r["projection_basis"])),
    ("CO2e / run (kg, energy route)",
     lambda r: (fmt_num(r["co2_kg_per_run"]), r["co2_kg_per_run"], r["co2_basis"])),
    ("CO2e / run (lbs, paper)",
     lambda r: (fmt_num(r["paper_co2_lbs_per_run"]), r["paper_co2_lbs_per_run"], r["paper_basis"])),
    ("$ / run (device-hours x price)",
     lambda r: (fmt_num(r["usd_per_run"]), r["usd_per_run"], r["usd_basis"])),
    ("$ / run (paper, low - high)", _usd_paper),
    _text("error", "error"),
)

BASIS_COLUMNS = ("label", "device", "projection_basis", "peak_source", "co2_basis", "usd_basis")
BASIS_HEADERS = ("architecture", "device", "projected run", "peak rate", "CO2e (energy route)",
                 "$ (device-hours)")


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _html_table(headers: Sequence[str], cells: list[list[tuple[str, Any, str]]], cls: str = "") -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = []
    for row in cells:
        tds = []
        for text, sort, title in row:
            v = sort if isinstance(sort, (int, float)) and not isinstance(sort, bool) else text
            tip = f' title="{_esc(title)}"' if title else ""
            tds.append(f'<td data-v="{_esc(v)}"{tip}>{_esc(text)}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<table class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _plain(rows: list[dict], columns: Sequence[str]) -> list[list[tuple[str, Any, str]]]:
    return [[(fmt_num(r.get(c, "")) if r.get(c) is not None else "", r.get(c), "") for c in columns]
            for r in rows]


def _md_table(headers: Sequence[str], cells: list[list[tuple[str, Any, str]]]) -> str:
    def clean(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(clean(h) for h in headers) + " |",
             "|" + "---|" * len(headers)]
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


def write_report(
    db: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    include_published: bool = True,
) -> ReportPaths:
    """Write report.html, report.md and figures/ (PNG + SVG) under `out_dir` (default reports/)."""
    from harness.scaling import FIT_COLUMNS, FIT_HEADERS, PROJECTION_COLUMNS, PROJECTION_HEADERS

    db_path, records = load_records(db)
    out = Path(out_dir).expanduser() if out_dir is not None else reports_dir()
    fig_dir = out / "figures"
    try:
        fig_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create report folder {fig_dir}: {exc.strerror}; pass --out") from None

    rows = [_row(r) for r in records]
    ok = [r for r in rows if r["status"] == "ok"]
    notes: list[str] = []
    published, fits = None, {}
    if include_published:
        from harness.reference import load_published

        published = load_published()
        fits = _paper_fits(published)

    figures: list[tuple[str, list[Path]]] = []
    for bench in sorted({r["benchmark"] for r in ok if r["benchmark"]}):
        b_rows = [r for r in ok if r["benchmark"] == bench]
        if not any(r["ref_error"] for r in b_rows):
            notes.append(f"{bench}: no measured row has a reference metric, so none is plotted")
        paths = _scaling_figure(bench, b_rows, published, fits, fig_dir / f"scaling_{bench}")
        figures.append((f"{bench}: performance (1/error) vs per-pass compute and vs hardware "
                        "burden", paths))
    if any(r["achieved_tflop_per_s"] is not None for r in ok):
        figures.append(("Achieved TFLOP/s and MFU per measurement",
                        _utilisation_figure(ok, fig_dir / "utilisation")))
    if ok:
        figures.append(("Energy per training example, by provenance",
                        _energy_figure(ok, fig_dir / "energy_per_example")))
    else:
        notes.append("no successful measurement in the database: there is nothing to plot; "
                     "the failed rows and their errors are in the table")
    if any(r["benchmark"] and r["benchmark"].startswith("wmt") for r in ok):
        from harness.reference import BLEU_CAVEAT

        notes.append(f"WMT: {BLEU_CAVEAT}")
    if include_published:
        fit_tab, proj_tab, fit_notes = _extrapolation(fits)
        notes += fit_notes
    else:
        fit_tab, proj_tab = [], []
        notes.append("published points not included: no paper fit and no extrapolation table")

    status = Counter(r["status"] for r in rows)
    summary = [
        f"Database: {db_path} ({len(rows)} rows: "
        + ", ".join(f"{n} {s}" for s, n in sorted(status.items())) + ")",
        f"Device(s): {_devices(rows)}; energy provenance: {_provenances(ok) or 'none'}",
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by harness {__version__}",
    ]
    warn = []
    if not any(r["device"] and "cpu" not in str(r["device"]).lower() for r in ok) and ok:
        warn.append("no GPU rows: every successful measurement ran on a CPU")
    if any(r["tiny"] for r in rows):
        warn.append(TINY_NOTE)
    n_est = sum(r["energy_provenance"] == ESTIMATE for r in ok)
    if n_est:
        warn.append(f"energy of {n_est} row(s) is an ESTIMATE (estimated-tdp: a TDP/load model), "
                    "not a measurement; their CO2 inherits that")

    headers = [h for h, _ in TABLE]
    cells = [[fn(r) for _, fn in TABLE] for r in rows]
    basis_cells = [[(str(r[c] or ""), r[c], "") for c in BASIS_COLUMNS] for r in ok]
    paper_bases = sorted({r["paper_basis"] for r in ok if r["paper_basis"]})
    fit_headers = [FIT_HEADERS.get(c, c) for c in (*FIT_COLUMNS, "verdict")]
    proj_headers = [PROJECTION_HEADERS.get(c, c) for c in PROJECTION_COLUMNS]
    rel = [(cap, [p.relative_to(out) for p in ps]) for cap, ps in figures]

    h = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Harness report</title>",
         f"<style>{CSS}</style></head><body><h1>Computational cost of deep learning: "
         "measurement report</h1>"]
    h += [f"<p>{_esc(s)}</p>" for s in summary]
    h += [f"<div class='note'>{_esc(w)}</div>" for w in warn]
    h.append("<h2>Measurements</h2><p>Click a column to sort; hover a cell for its basis.</p>")
    h.append(f"<div class='scroll'>{_html_table(headers, cells, 'sortable')}</div>")
    h.append("<h2>Figures</h2>")
    for cap, ps in rel:
        png = next(p for p in ps if p.suffix == ".png")
        svg = next(p for p in ps if p.suffix == ".svg")
        h.append(f"<figure><img src='{_esc(png.as_posix())}' alt='{_esc(cap)}'><figcaption>"
                 f"{_esc(cap)} (<a href='{_esc(svg.as_posix())}'>SVG</a>)</figcaption></figure>")
    if not rel:
        h.append("<p>No figures: no successful measurement.</p>")
    h.append("<h2>The paper's fits over the published points</h2>")
    h.append(_html_table(fit_headers, _plain(fit_tab, (*FIT_COLUMNS, "verdict")), "sortable")
             if fit_tab else "<p>None.</p>")
    h.append("<h2>Extrapolation (polynomial model, published points)</h2>")
    h.append(_html_table(proj_headers, _plain(proj_tab, PROJECTION_COLUMNS), "sortable")
             if proj_tab else "<p>No fit to extrapolate.</p>")
    h.append("<h2>Bases of the projected figures</h2>")
    h.append(_html_table(BASIS_HEADERS, basis_cells) if basis_cells else "<p>None.</p>")
    h += [f"<p>Paper's conversion: {_esc(p)}</p>" for p in paper_bases]
    h.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    h.append(f"<script>{JS}</script></body></html>")

    md = ["# Measurement report", "", *(f"- {s}" for s in summary), *(f"- **{w}**" for w in warn),
          "", "## Measurements", "", _md_table(headers, cells), "",
          "## Extrapolation (polynomial model, published points)", "",
          _md_table(proj_headers, _plain(proj_tab, PROJECTION_COLUMNS)) if proj_tab
          else "No fit to extrapolate.", "", "## Figures", ""]
    md += [f"- [{cap}]({ps[0].as_posix()}) ([SVG]({ps[1].as_posix()}))" for cap, ps in rel] or ["None."]
    md += ["", "## Notes", "", *(f"- {p}" for p in paper_bases), *(f"- {n}" for n in notes), ""]

    html_path, md_path = out / "report.html", out / "report.md"
    try:
        html_path.write_text("\n".join(h), encoding="utf-8")
        md_path.write_text("\n".join(md), encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot write the report under {out}: {exc.strerror}; pass --out") from None
    return ReportPaths(html=html_path, markdown=md_path, figures=[p for _, ps in figures for p in ps])
