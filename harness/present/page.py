"""What the report page shows, computed once for both renderings (HTML and Markdown): the
measurement table's columns with the basis of each cell, and the page's sections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.console import fmt_num


def cell(r: dict, key: str, text_key: str | None, basis_key: str | None) -> tuple:
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
    ("size (px / tokens)", "size", "size_text", None),
    ("reference metric %", "reference_value", "reference_text", "reference_basis"),
    ("params (M)", "params_m", None, None),
    ("GMACs / pass (counted)", "gmacs_per_pass", None, None),
    ("train-step GFLOP (counted)", "train_step_gflops", None, None),
    ("median step (ms)", "step_ms", None, None),
    ("step spread (IQR % of median)", "iqr_pct", "spread_text", None),
    ("throughput (examples/s)", "samples_per_s", None, None),
    ("achieved TFLOP/s", "achieved_tflop_per_s", None, None),
    ("MFU %", "mfu_any_pct", "mfu_text", "peak_source"),
    ("energy / example (J) [provenance]", "energy_per_example_j", "energy_text", "energy_reason"),
    ("hardware burden / run (FLOP, projected)", "burden_per_run_flop", None, "projection_basis"),
    ("CO2e / run (kg, energy route)", "co2_kg_per_run", None, "co2_basis"),
    ("CO2e / run (kg, paper's conversion)", "paper_co2_kg_per_run", None, "paper_basis"),
    ("$ / run (device-hours x hourly price)", "usd_per_run", None, "usd_basis"),
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


def plain_cells(rows: list[dict], columns: Sequence[str]) -> list[list[tuple]]:
    """Cells of table rows whose values are shown as they are (numbers by fmt_num)."""
    return [
        [("" if r.get(c) is None else fmt_num(r[c]), r.get(c), "") for c in columns] for r in rows
    ]


@dataclass(frozen=True)
class Page:
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
    runs_headers: list[str] = field(default_factory=list)  # published training runs (audits)
    runs_cells: list[list[tuple]] = field(default_factory=list)
