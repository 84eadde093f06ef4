"""The published points of Thompson et al.'s benchmarks, read from harness/data/reference/.

One row per published model with its error as a fraction, its per-pass compute (2 x GMACs x 1e9
FLOP) and its hardware burden (processors x peak FLOP/s x training seconds), each carrying the
row's citation. Rows whose citation or notes say "memory" or "flag" (the reference README's
marker for a value not confirmed in a primary source) are flagged, with the reason; burden is
also flagged when the processor's peak rate or the alias mapping is itself unconfirmed.

Peak rate precision: a `precision=fp16|bf16|tf32|fp32` token in the notes wins; otherwise fp32
(the paper's choice for the pre-2018 points, and the stated-nothing default for later GPU
points, marked `precision_assumed`), and the bf16 rate for processors with no fp32 figure
(TPUs). Where a paper gives only TPU core-days (`core_days=N` in the notes), burden =
N x 86,400 s x the per-core peak.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from harness.data import REFERENCE_DIR
from harness.errors import HarnessError
from harness.vocab import BENCHMARKS

TITLES = {
    "imagenet": "ImageNet top-1",
    "coco": "MS COCO box AP",
    "squad11": "SQuAD 1.1 F1",
    "conll03": "CoNLL-2003 NER F1",
    "wmt14_en_fr": "WMT14 En-Fr BLEU",
    "wmt14_en_de": "WMT14 En-De BLEU",
}
FLAG_WORDS = ("memory", "flag")
BLEU_CAVEAT = "error = 1 - BLEU/100 is not an error rate (reference README); read MT fits with care"

# Columns of the frame load_published() returns (and measured rows are normalised to).
POINT_COLUMNS = (
    "benchmark",
    "model",
    "year",
    "metric",
    "error",
    "per_pass_flops",
    "burden_flops",
    "source",
    "flagged",
    "flag_reason",
    "burden_flagged",
    "burden_flag_reason",
    "citation",
)

_PRECISION_COLUMNS = {
    "fp32": "fp32_tflops",
    "tf32": "tf32_tflops_dense",
    "fp16": "fp16_or_bf16_tensor_tflops_dense",
    "bf16": "fp16_or_bf16_tensor_tflops_dense",
    "fp8": "fp8_tflops_dense",
}


@dataclass(frozen=True)
class Peak:
    """A processor's peak rate at one precision, with where it came from."""

    processor: str
    precision: str
    flop_per_s: float
    assumed_precision: bool
    flagged: bool
    source: str


def _flag_words(text: str) -> list[str]:
    low = (text or "").lower()
    return [w for w in FLAG_WORDS if w in low]


def _flag_snippets(field: str, text: str) -> list[str]:
    """Where a flag word sits in a field, with a little context, for a reader to judge."""
    low = (text or "").lower()
    out = []
    for w in FLAG_WORDS:
        i = low.find(w)
        if i >= 0:
            a, b = max(0, i - 35), min(len(text), i + len(w) + 15)
            out.append(f"{field}: ...{text[a:b].strip()}...")
    return out


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


@cache
def _processor_tables(reference_dir: Path) -> tuple[dict, dict]:
    aliases = pd.read_csv(reference_dir / "processor_aliases.csv", dtype=str).fillna("")
    procs = pd.read_csv(reference_dir / "processors.csv")
    alias_map = {r.alias: (r.processor_type, r.note) for r in aliases.itertuples()}
    proc_map = {r["processor_type"]: r for r in procs.to_dict("records")}
    return alias_map, proc_map


def processor_peak(
    name: str, precision: str | None = None, reference_dir: Path = REFERENCE_DIR
) -> Peak | None:
    """Peak FLOP/s of a processor named as in the benchmark files (alias -> processors.csv).

    None when the processor is unknown or has no rate at a usable precision. This reads the
    same CSVs as harness.catalog.processors.lookup_processor, kept here so published points stay
    loadable on their own.
    """
    alias_map, proc_map = _processor_tables(Path(reference_dir))
    name = (name or "").strip()
    if not name:
        return None
    if name in alias_map:
        target, alias_note = alias_map[name]
    elif name in proc_map:
        target, alias_note = name, ""
    else:
        return None
    row = proc_map.get(target)
    if not target or row is None:
        return None
    assumed = precision is None
    order = [precision] if precision else ["fp32", "bf16"]
    for prec in order:
        col = _PRECISION_COLUMNS.get(prec)
        value = row.get(col) if col else None
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            src = _text(row.get("source"))
            return Peak(
                processor=target,
                precision=prec,
                flop_per_s=float(value) * 1e12,
                assumed_precision=assumed,
                flagged=bool(_flag_words(src) or "flag" in alias_note.lower()),
                source=src + (f"; alias: {alias_note}" if alias_note else ""),
            )
    return None


def _token(notes: str, key: str) -> str | None:
    m = re.search(rf"\b{key}\s*=\s*([A-Za-z0-9.]+)", notes)
    return m.group(1) if m else None


def _burden(row: dict, reference_dir: Path) -> tuple[float | None, str, Peak | None]:
    """(burden FLOP or None, how it was computed or why not, the peak used)."""
    notes = _text(row.get("notes"))
    ptype = _text(row.get("processor_type"))
    if not ptype:
        return None, "no training hardware", None
    prec = _token(notes, "precision")
    peak = processor_peak(ptype, prec.lower() if prec else None, reference_dir)
    if peak is None:
        return None, f"processor '{ptype}' has no peak rate", None
    count, hours = row.get("processor_count"), row.get("train_hours")
    core_days = _token(notes, "core_days")
    if core_days is not None:
        seconds_units = float(core_days) * 86400.0
        how = f"{core_days} core-days x {peak.flop_per_s / 1e12:g} TFLOPS ({peak.precision})"
    elif count is not None and hours is not None and not (math.isnan(count) or math.isnan(hours)):
        seconds_units = float(count) * float(hours) * 3600.0
        how = f"{count:g} x {peak.flop_per_s / 1e12:g} TFLOPS ({peak.precision}) x {hours:g} h"
    else:
        return None, "processor count or training time not reported", peak
    return seconds_units * peak.flop_per_s, how, peak


def load_published(
    benchmark: str | None = None, reference_dir: Path = REFERENCE_DIR
) -> pd.DataFrame:
    """The published points of one benchmark (or all six) as a frame of POINT_COLUMNS + extras.

    `error` is a fraction; `per_pass_flops` = 2 x GMACs x 1e9; `burden_flops` may be NaN.
    """
    names = BENCHMARKS if benchmark is None else (benchmark,)
    frames = []
    for name in names:
        path = Path(reference_dir) / f"{name}.csv"
        if not path.exists():
            known = ", ".join(BENCHMARKS)
            raise HarnessError(f"no published points for benchmark '{name}' (known: {known})")
        raw = pd.read_csv(path)
        rows = []
        for r in raw.to_dict("records"):
            citation, notes = _text(r.get("source")), _text(r.get("notes"))
            reasons = _flag_snippets("citation", citation) + _flag_snippets("notes", notes)
            burden, how, peak = _burden(r, Path(reference_dir))
            b_reasons = list(reasons)
            if peak is not None and peak.flagged:
                b_reasons.append(f"peak rate of {peak.processor} is unconfirmed")
            gmacs = r.get("gmacs_per_pass")
            rows.append(
                {
                    "benchmark": name,
                    "model": _text(r.get("model")),
                    "year": int(r["year"]) if not math.isnan(r["year"]) else None,
                    "metric": _text(r.get("metric")),
                    "error": float(r["error"]) / 100.0,
                    "per_pass_flops": 2.0 * float(gmacs) * 1e9
                    if gmacs is not None and not math.isnan(gmacs)
                    else math.nan,
                    "burden_flops": burden if burden is not None else math.nan,
                    "source": "published",
                    "flagged": bool(reasons),
                    "flag_reason": "; ".join(reasons),
                    "burden_flagged": bool(b_reasons),
                    "burden_flag_reason": "; ".join(b_reasons),
                    "citation": citation,
                    "burden_basis": how,
                    "precision": peak.precision if peak else "",
                    "precision_assumed": bool(peak.assumed_precision) if peak else False,
                }
            )
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames, ignore_index=True)
