"""The extrapolation table in the paper's shape, with the paper's published figures beside ours.

Thompson et al. (2022 revision of arXiv:2007.05558) tabulate, per benchmark and model, the
computation (GFLOPs), carbon (lbs CO2e) and dollars implied by today's error and by target errors.
Our rows come from the hardware-burden fits of this repository's reference points; the paper's
figures come from `paper_extrapolations.csv`, one cited row per figure. A figure that file does
not hold is "not found", never filled in. The difference is in orders of magnitude (ours minus
the paper's), with the causes this data set can show.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from harness.analysis.extrapolate import Projection, extrapolate
from harness.analysis.fit import MODELS, Fit, fit
from harness.analysis.tables import fmt_log10
from harness.catalog.flags import is_flagged
from harness.data import REFERENCE_DIR
from harness.errors import HarnessError
from harness.vocab import BENCHMARKS

PAPER_FILE = "paper_extrapolations.csv"
QUANTITIES = ("gflops", "co2_lbs", "usd")
NOT_FOUND = "not found"
POST_2020 = 2020  # the paper's data end about here; later rows are newer than its fits


@dataclass(frozen=True)
class PaperFigure:
    """One published figure of the paper's extrapolation table, with its citation."""

    benchmark: str
    measure: str
    model: str
    row: str
    error: float | None
    quantity: str
    log10_value: float
    citation: str
    notes: str

    @property
    def flagged(self) -> bool:
        return is_flagged(self.notes) or is_flagged(self.citation)


@cache
def paper_figures(reference_dir: Path = REFERENCE_DIR) -> tuple[PaperFigure, ...]:
    """Every row of `paper_extrapolations.csv` (the one reader of that file)."""
    path = Path(reference_dir) / PAPER_FILE
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        if r["quantity"] not in QUANTITIES:
            raise HarnessError(f"{path}: unknown quantity {r['quantity']!r}")
        if not r["citation"].strip():
            raise HarnessError(f"{path}: a figure without a citation ({r['row']})")
        out.append(
            PaperFigure(
                benchmark=r["benchmark"],
                measure=r["measure"],
                model=r["model"],
                row=r["row"],
                error=float(r["error"]) if r["error"].strip() else None,
                quantity=r["quantity"],
                log10_value=float(r["log10_value"]),
                citation=r["citation"],
                notes=r["notes"],
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class PaperRow:
    """One row of the table: our projection, the paper's figures beside it, the difference."""

    projection: Projection
    ours: dict[str, float | None]  # quantity -> log10 value
    paper: dict[str, PaperFigure | None]
    cause: str

    def difference(self, quantity: str) -> float | None:
        """Ours minus the paper's, in orders of magnitude; None where either is missing."""
        mine, theirs = self.ours.get(quantity), self.paper.get(quantity)
        if mine is None or theirs is None or not math.isfinite(mine):
            return None
        return mine - theirs.log10_value

    def to_row(self) -> dict[str, str]:
        p = self.projection
        row = {
            "benchmark": p.benchmark,
            "model": p.model,
            "row": p.label,
            "error": f"{100 * p.error:.3g}%",
        }
        for q in QUANTITIES:
            mine, theirs = self.ours.get(q), self.paper.get(q)
            row[f"ours_{q}"] = fmt_log10(mine) if mine is not None else "n/a"
            row[f"paper_{q}"] = (
                NOT_FOUND
                if theirs is None
                else f"1e{theirs.log10_value:g}" + (" (flagged)" if theirs.flagged else "")
            )
            d = self.difference(q)
            row[f"diff_{q}"] = "" if d is None else f"{d:+.1f}"
        row["cause"] = self.cause
        row["citation"] = "; ".join(sorted({f.citation for f in self.paper.values() if f}))
        return row


def _ours(p: Projection) -> dict[str, float | None]:
    co2, usd = p.log10_co2_lbs(), p.log10_usd()
    return {
        "gflops": p.log10_flops - 9.0,
        "co2_lbs": co2[0] if co2 else None,
        "usd": (usd[0] + usd[1]) / 2 if usd else None,  # middle of the price range, in log10
    }


def _cause(f: Fit, points: pd.DataFrame, found: bool) -> str:
    """What this data set can say about a difference from the paper."""
    if not found:
        return "paper figure not found: no comparison"
    years = pd.to_numeric(points["year"], errors="coerce")
    late = int((years > POST_2020).sum())
    parts = [
        f"our fit: {f.n} points, k = {f.k:.3g}",
        f"{late} of them after {POST_2020} (no date cut-off)" if late else "no post-2020 rows",
        "burden from this table's processors' datasheet peaks, not the authors' data set",
    ]
    if f.n_flagged:
        parts.append(f"{f.n_flagged} flagged rows included")
    return "; ".join(parts)


def paper_table(
    published: pd.DataFrame,
    benchmarks: tuple[str, ...] = BENCHMARKS,
    exclude_flagged: bool = False,
    reference_dir: Path = REFERENCE_DIR,
) -> tuple[list[PaperRow], list[str]]:
    """(rows, why some fits have no rows) for the hardware-burden fits of `benchmarks`."""
    figures = paper_figures(Path(reference_dir))
    rows: list[PaperRow] = []
    skipped: list[str] = []
    for b in benchmarks:
        for model in MODELS:
            try:
                f = fit(published, b, "burden", model, exclude_flagged)
                projections = extrapolate(f)
            except HarnessError as exc:
                skipped.append(str(exc))
                continue
            pts = published[(published["benchmark"] == b) & published["burden_flops"].notna()]
            for p in projections:
                paper = {
                    q: next(
                        (
                            x
                            for x in figures
                            if (x.benchmark, x.measure, x.model, x.row, x.quantity)
                            == (b, "burden", model, p.label, q)
                        ),
                        None,
                    )
                    for q in QUANTITIES
                }
                found = any(v is not None for v in paper.values())
                rows.append(PaperRow(p, _ours(p), paper, _cause(f, pts, found)))
    return rows, skipped


PAPER_TABLE_COLUMNS = (
    "benchmark",
    "model",
    "row",
    "error",
    "ours_gflops",
    "paper_gflops",
    "diff_gflops",
    "ours_co2_lbs",
    "paper_co2_lbs",
    "ours_usd",
    "paper_usd",
    "cause",
)
PAPER_TABLE_HEADERS = {
    "ours_gflops": "ours GFLOPs",
    "paper_gflops": "paper GFLOPs",
    "diff_gflops": "diff (orders)",
    "ours_co2_lbs": "ours lbs CO2e",
    "paper_co2_lbs": "paper lbs CO2e",
    "ours_usd": "ours $ (mid)",
    "paper_usd": "paper $",
    "cause": "likely cause of the difference",
}


def paper_table_text(rows: list[PaperRow], skipped: list[str], squad_metric: str) -> str:
    """The table, then the citations of the paper's figures and why some fits have no rows."""
    from harness.console import format_table

    out = [
        "Extrapolation in the paper's shape (hardware burden; Thompson et al. 2022 revision "
        "beside ours; diff = ours - paper in orders of magnitude)",
        format_table([r.to_row() for r in rows], PAPER_TABLE_COLUMNS, PAPER_TABLE_HEADERS),
        f"SQuAD 1.1 error from {squad_metric.upper()}.",
        "Paper figures:",
    ]
    cited = {f.citation: f.notes for r in rows for f in r.paper.values() if f}
    out += [f"- {c} ({n})" if n else f"- {c}" for c, n in cited.items()] or ["- none found"]
    out += ["Not extrapolated:"] + [f"- {s}" for s in skipped] if skipped else []
    return "\n".join(out)


def paper_table_json(rows: list[PaperRow], skipped: list[str], squad_metric: str) -> dict:
    return {
        "rows": [r.to_row() for r in rows],
        "not_extrapolated": skipped,
        "squad_metric": squad_metric,
    }
