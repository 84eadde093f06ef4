"""The report: one HTML page, a Markdown summary and the figures (PNG and SVG) of a results
database.

It presents, it does not measure: each row's figures come from `harness.pipeline.summary.headline`,
the published points and the paper's polynomial fits from `harness.catalog.published` and
`harness.analysis.fit`. Rows are built in `rows`, figures drawn in `report_figures`, and the page
rendered by `html_page` and `markdown_page`; this module puts them together.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import __version__
from harness.analysis.extrapolate import extrapolate
from harness.analysis.fit import Fit, FitSkipped, fit_all
from harness.analysis.tables import (
    FIT_COLUMNS,
    FIT_HEADERS,
    PROJECTION_COLUMNS,
    PROJECTION_HEADERS,
    fit_rows,
    notes_for,
    projection_rows,
)
from harness.errors import HarnessError
from harness.output_files import ensure_folder, write_files
from harness.paths import reports_dir
from harness.pipeline.summary import NOISY_ADVICE
from harness.present.html_page import render_html
from harness.present.markdown_page import render_markdown
from harness.present.page import BASIS, TABLE, Page, cell, plain_cells
from harness.present.report_figures import energy_figure, scaling_figure, utilisation_figure
from harness.present.rows import TINY_NOTE, devices, load_records, provenances, report_row
from harness.vocab import ESTIMATED_TDP

FIT_TABLE_COLUMNS = (*FIT_COLUMNS, "verdict")
_HINT = "free some space or pass another --out"


@dataclass(frozen=True)
class ReportPaths:
    """What `write_report` wrote."""

    html: Path
    markdown: Path
    figures: list[Path]


@dataclass(frozen=True)
class _PaperFits:
    """The paper's polynomial fits over the published points, as the page shows them."""

    published: Any  # the published points frame, or None when left out
    fits: dict[tuple[str, str], Fit | FitSkipped]
    fit_rows: list[dict]
    projection_rows: list[dict]


def _paper_fits(
    include_published: bool, notes: list[str], published_from: str | None = None
) -> _PaperFits:
    """(benchmark, measure) -> Fit or FitSkipped, polynomial model, published points only, with
    their table rows; a fit that cannot be used becomes a note."""
    if not include_published:
        notes.append("published points left out: no paper fit and no extrapolation table")
        return _PaperFits(None, {}, [], [])
    from harness.analysis.authors_fit import published_points

    published = published_points(None, published_from)
    fits = {(f.benchmark, f.measure): f for f in fit_all(published, models=("polynomial",))}
    results = list(fits.values())
    projections = []
    notes += notes_for(results)
    for f in results:
        if not isinstance(f, Fit):
            notes.append(f"{f.benchmark} {f.measure}: no fit ({f.reason})")
            continue
        try:
            projections.extend(extrapolate(f))
        except HarnessError as exc:
            if f.significant:  # notes_for already names the non-significant fits
                notes.append(str(exc))
    return _PaperFits(published, fits, fit_rows(results), projection_rows(projections))


def _figures(
    ok: list[dict], paper: _PaperFits, fig_dir: Path, notes: list[str]
) -> list[tuple[str, list[Path]]]:
    """(caption, [PNG, SVG]) of every figure: one scaling figure per benchmark, then utilisation
    and energy."""
    figures: list[tuple[str, list[Path]]] = []
    for bench in sorted({r["benchmark"] for r in ok if r["benchmark"]}):
        b_rows = [r for r in ok if r["benchmark"] == bench]
        if not any(r["ref_error"] for r in b_rows):
            notes.append(f"{bench}: no measured row has a reference metric to plot")
        cap = f"{bench}: performance (1/error) vs per-pass compute and vs hardware burden"
        stem = fig_dir / f"scaling_{bench}"
        figures.append((cap, scaling_figure(bench, b_rows, paper.published, paper.fits, stem)))
    if any(r["achieved_tflop_per_s"] is not None for r in ok):
        cap = "Achieved FLOP/s and MFU per measurement"
        figures.append((cap, utilisation_figure(ok, fig_dir / "utilisation")))
    if ok:
        cap = "Energy per training example, by provenance"
        figures.append((cap, energy_figure(ok, fig_dir / "energy_per_example")))
    else:
        notes.append("no successful measurement: nothing to plot; the failed rows are in the table")
    return figures


def _warnings(rows: list[dict], ok: list[dict]) -> list[str]:
    """What a reader must not miss: CPU-only results, tiny variants, estimated energy."""
    warnings = []
    if ok and all(r["device_kind"] == "cpu" for r in ok):
        warnings.append("no GPU rows: every successful measurement ran on a CPU")
    if any(r["tiny"] for r in rows):
        warnings.append(TINY_NOTE)
    warnings += _trust_warnings(ok)
    n_est = sum(r["energy_provenance"] == ESTIMATED_TDP for r in ok)
    if n_est:
        warnings.append(
            f"the energy of {n_est} row(s) is an ESTIMATE (estimated-tdp: a TDP/load model), "
            "not a measurement, and so is the energy-route CO2e derived from it"
        )
    return warnings


def _trust_warnings(ok: list[dict]) -> list[str]:
    """Rows whose figures are not what they seem: noisy times, other sizes, claimed metrics."""
    out = []
    noisy = [r["label"] for r in ok if r["noisy"]]
    if noisy:
        out.append(f"{len(noisy)} row(s) NOISY: {', '.join(noisy)}; {NOISY_ADVICE}")
    sized = [f"{r['label']} ({r['size_text']})" for r in ok if r["off_size"] and not r["tiny"]]
    if sized:
        out.append(
            "measured at a size other than the published metric's, so not placed on the paper's "
            f"trend: {', '.join(sized)}"
        )
    claimed = [r["label"] for r in ok if r["reference_claimed"]]
    if claimed:
        out.append(f"metric CLAIMED by the user, not published: {', '.join(claimed)}")
    return out


def _page(
    db_path: Path,
    rows: list[dict],
    paper: _PaperFits,
    figures: list[tuple[str, list[Path]]],
    out: Path,
    notes: list[str],
) -> Page:
    ok = [r for r in rows if r["status"] == "ok"]
    status = Counter(r["status"] for r in rows)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
    return Page(
        summary=[
            f"Database: {db_path} ({len(rows)} rows: {counts})",
            f"Device(s): {devices(rows)}; energy provenance: {provenances(ok) or 'none'}",
            f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} by harness {__version__}",
        ],
        warnings=_warnings(rows, ok),
        cells=[[cell(r, *spec[1:]) for spec in TABLE] for r in rows],
        figures=[(c, ps[0].relative_to(out), ps[1].relative_to(out)) for c, ps in figures],
        fit_headers=[FIT_HEADERS.get(c, c) for c in FIT_TABLE_COLUMNS],
        fit_cells=plain_cells(paper.fit_rows, FIT_TABLE_COLUMNS),
        proj_headers=[PROJECTION_HEADERS.get(c, c) for c in PROJECTION_COLUMNS],
        proj_cells=plain_cells(paper.projection_rows, PROJECTION_COLUMNS),
        basis_cells=[[(str(r[k] or ""), r[k], "") for _, k in BASIS] for r in ok],
        paper_bases=sorted({r["paper_basis"] for r in ok if r["paper_basis"]}),
        notes=notes,
    )


def write_report(
    db: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    include_published: bool = True,
    published_from: str | None = None,
    run_audits: list | None = None,
) -> ReportPaths:
    """Write report.html, report.md and figures/ (PNG + SVG) under `out_dir` (default reports/).

    `run_audits` (harness.analysis.audit_inputs.audit_all) adds the published-runs section.

    Figures first, then both pages together, every file atomically: a failure (a full disk)
    is a one-line HarnessError and leaves the previous report.html and report.md whole.
    """
    db_path, records = load_records(db)
    out = Path(out_dir).expanduser() if out_dir is not None else reports_dir()
    fig_dir = ensure_folder(out / "figures", "report folder", _HINT)

    rows = [report_row(r) for r in records]
    ok = [r for r in rows if r["status"] == "ok"]
    notes: list[str] = []
    paper = _paper_fits(include_published, notes, published_from)
    figures = _figures(ok, paper, fig_dir, notes)
    page = _page(db_path, rows, paper, figures, out, notes)
    if run_audits:  # published training runs: `harness audit --all` as a section and a figure
        from dataclasses import replace

        from harness.present.runs_section import CAPTION, runs_figure, runs_table

        paths = runs_figure(run_audits, fig_dir / "published_runs")
        figures.append((CAPTION, paths))
        headers, cells = runs_table(run_audits)
        shown = [(CAPTION, paths[0].relative_to(out), paths[1].relative_to(out))]
        page = replace(page, runs_headers=headers, runs_cells=cells, figures=page.figures + shown)
    html_path, md_path = out / "report.html", out / "report.md"
    write_files({html_path: render_html(page), md_path: render_markdown(page)}, _HINT)
    return ReportPaths(html_path, md_path, [p for _, ps in figures for p in ps])
