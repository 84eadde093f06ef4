"""One report row per record: the headline figures of `harness.pipeline.summary.headline` plus
what the report shows beside them (labels, the regression's coordinates, the basis of each
projected figure), and the footer every report figure carries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.console import fmt_num
from harness.errors import HarnessError
from harness.pipeline.record import Measurement
from harness.pipeline.summary import headline
from harness.sweep.store import ResultStore, default_db_path
from harness.vocab import ESTIMATED_TDP

TINY_NOTE = (
    "(tiny) = reduced CPU test variant: its counts and times are not the published network's"
)


def load_records(db: str | Path | None = None) -> tuple[Path, list[Measurement]]:
    """Every record of the database; an absent or empty database is a HarnessError."""
    path = Path(db).expanduser() if db is not None else default_db_path()
    hint = f"run `harness measure NAME --db {path}` (or `make measure`) first"
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        raise HarnessError(f"no measurements in {path}; {hint}")
    with ResultStore(path, readonly=True) as store:
        records = store.load()
    if not records:
        raise HarnessError(f"no measurements in {path}; {hint}")
    return path, records


def report_row(record: Measurement) -> dict[str, Any]:
    """headline() plus what the report needs beside it: label, regression coordinates, bases."""
    h = headline(record)
    b, c = record.burden, record.counts
    at_size = f" @{h['size']}" if h["off_size"] and not h["tiny"] else ""
    h["label"] = f"{h['architecture']}{' (tiny)' if h['tiny'] else at_size}"
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
    h["usd_basis"] = " ".join(
        t for t in (b.get("price_source") or "", b.get("cost_routes_note") or "") if t
    )
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
    h["reference_basis"] = record.architecture.get("reference_citation") or ""
    h["on_trend"] = not h["off_size"]  # a tiny or other-size run is never on the paper's trend
    return h


def devices(rows: Iterable[dict[str, Any]]) -> str:
    """The devices of the rows, by name."""
    names = sorted({str(r["device"]) for r in rows if r["device"]})
    return ", ".join(names) or "none"


def provenances(rows: Iterable[dict[str, Any]]) -> str:
    """The energy provenances of the rows; an estimate is called one."""
    provs = sorted({r["energy_provenance"] for r in rows})
    return ", ".join(p + (" (ESTIMATE, not measured)" if p == ESTIMATED_TDP else "") for p in provs)


def figure_footer(rows: Sequence[dict[str, Any]]) -> str:
    """The devices and energy provenance of the rows a figure shows, and a tiny-variant note."""
    text = f"device(s): {devices(rows)} | energy provenance: {provenances(rows) or 'none'}"
    if any(r["tiny"] for r in rows):
        text += f"\n{TINY_NOTE}"
    return text
