"""The published points of Thompson et al.'s benchmarks, read from harness/data/reference/.

The one reader of the benchmark tables (`<benchmark>.csv`): raw rows, by benchmark and by model
name, for the zoo's citations; and `load_published`, the frame analysis fits, with one row per
published model: its error as a fraction, its per-pass compute (2 x GMACs x 1e9 FLOP) and its
hardware burden (processors x peak FLOP/s x training seconds), each carrying the row's citation.
A flag word (harness.catalog.flags) in the citation or notes flags the field its clause is
about: the error, the per-pass compute or the burden (a flag on the parameter count flags no
fitted field). `per_pass_flagged` and `burden_flagged` say whether a row's per-pass or burden
fit point is doubtful (its error or that compute); burden is also flagged when the processor's
peak rate or the alias mapping is itself unconfirmed. Where an alias says a counted unit may be
a board of several dies (`dies_per_unit=N`, the K80), the burden is the board reading, flagged,
and `burden_flops_alt` holds the die reading (1/N of it).

SQuAD 1.1: the authors' code fits the EM score, the table's `value` is F1; `squad_metric`
chooses, EM by default (the paper's choice), read from an `em=N` token in the notes. Rows with
no EM figure are left out of EM fits (`squad_rows_without_em`).

Peak rate precision: a `precision=fp16|bf16|tf32|fp32` token in the notes wins; otherwise fp32
(the paper's choice for the pre-2018 points, and the stated-nothing default for later GPU
points, marked `precision_assumed`), and the bf16 rate for processors with no fp32 figure
(TPUs). Where a paper gives only TPU core-days (`core_days=N` in the notes), burden =
N x 86,400 s x the per-core peak.

pandas is imported by `load_published` only: the zoo reads rows here at import time.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from harness.catalog.flags import field_flags
from harness.catalog.processors import alias_table, processor_table
from harness.data import REFERENCE_DIR
from harness.errors import HarnessError
from harness.vocab import BENCHMARKS

if TYPE_CHECKING:
    import pandas as pd

TITLES = {
    "imagenet": "ImageNet top-1",
    "coco": "MS COCO box AP",
    "squad11": "SQuAD 1.1 (EM by default; F1 with --squad-metric f1)",
    "conll03": "CoNLL-2003 NER F1",
    "wmt14_en_fr": "WMT14 En-Fr BLEU",
    "wmt14_en_de": "WMT14 En-De BLEU",
}
SQUAD_METRICS = ("em", "f1")
DEFAULT_SQUAD_METRIC = "em"  # the authors' code fits the EM score
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
    "per_pass_flagged",
    "per_pass_flag_reason",
    "burden_flagged",
    "burden_flag_reason",
    "citation",
)

# ProcessorSpec attribute holding the dense peak at each precision.
_PEAK_FIELDS = {
    "fp32": "fp32_flop_per_s",
    "tf32": "tf32_flop_per_s",
    "fp16": "tensor16_flop_per_s",
    "bf16": "tensor16_flop_per_s",
    "fp8": "fp8_flop_per_s",
}

Row = Mapping[str, str]


# --------------------------------------------------------------------------------------------
# Raw rows
# --------------------------------------------------------------------------------------------


@cache
def _table(benchmark: str, reference_dir: Path) -> tuple[Row, ...]:
    path = reference_dir / f"{benchmark}.csv"
    if not path.exists():
        known = ", ".join(BENCHMARKS)
        raise HarnessError(f"no published points for benchmark '{benchmark}' (known: {known})")
    with open(path, newline="", encoding="utf-8") as f:
        return tuple(MappingProxyType(row) for row in csv.DictReader(f))


def benchmark_rows(benchmark: str, reference_dir: Path = REFERENCE_DIR) -> tuple[Row, ...]:
    """Every row of `<benchmark>.csv`, cells as written (read once, read-only)."""
    return _table(benchmark, Path(reference_dir))


@cache
def _by_model(benchmark: str, reference_dir: Path) -> Mapping[str, Row]:
    return {row["model"]: row for row in _table(benchmark, reference_dir)}


def benchmark_row(benchmark: str, model: str, reference_dir: Path = REFERENCE_DIR) -> Row:
    """One row of `<benchmark>.csv` by its `model` column."""
    try:
        return _by_model(benchmark, Path(reference_dir))[model]
    except KeyError:
        raise KeyError(
            f"harness/data/reference/{benchmark}.csv has no row for model {model!r}"
        ) from None


def _number(cell: str | None) -> float:
    """A numeric cell as a float; NaN where blank."""
    return float(cell) if cell and cell.strip() else math.nan


# --------------------------------------------------------------------------------------------
# Peak rates and burden
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peak:
    """A processor's peak rate at one precision, with where it came from."""

    processor: str
    precision: str
    flop_per_s: float
    assumed_precision: bool
    flagged: bool
    source: str
    dies_per_unit: int | None = None  # the counted unit may be a board of this many dies


def processor_peak(
    name: str, precision: str | None = None, reference_dir: Path = REFERENCE_DIR
) -> Peak | None:
    """Peak FLOP/s of a processor named as in the benchmark files (alias -> processors.csv).

    None when the processor is unknown or has no rate at a usable precision.
    """
    aliases, specs = alias_table(Path(reference_dir)), processor_table(Path(reference_dir))
    name = (name or "").strip()
    if not name:
        return None
    if name in aliases:
        target, alias_note = aliases[name].processor_type, aliases[name].note
    elif name in specs:
        target, alias_note = name, ""
    else:
        return None
    spec = specs.get(target) if target else None
    if spec is None:
        return None
    order = [precision] if precision else ["fp32", "bf16"]
    for prec in order:
        field = _PEAK_FIELDS.get(prec)
        value = getattr(spec, field) if field else None
        if value is not None:
            return Peak(
                processor=spec.name,
                precision=prec,
                flop_per_s=value,
                assumed_precision=precision is None,
                flagged=spec.flagged or "flag" in alias_note.lower(),
                source=spec.source + (f"; alias: {alias_note}" if alias_note else ""),
                dies_per_unit=int(dies) if (dies := _token(alias_note, "dies_per_unit")) else None,
            )
    return None


def _token(notes: str, key: str) -> str | None:
    m = re.search(rf"\b{key}\s*=\s*([A-Za-z0-9.]+)", notes)
    return m.group(1) if m else None


def _burden(row: Row, reference_dir: Path) -> tuple[float | None, str, Peak | None]:
    """(burden FLOP or None, how it was computed or why not, the peak used)."""
    notes = row.get("notes") or ""
    ptype = row.get("processor_type") or ""
    if not ptype:
        return None, "no training hardware", None
    prec = _token(notes, "precision")
    peak = processor_peak(ptype, prec.lower() if prec else None, reference_dir)
    if peak is None:
        return None, f"processor '{ptype}' has no peak rate", None
    count, hours = _number(row.get("processor_count")), _number(row.get("train_hours"))
    core_days = _token(notes, "core_days")
    if core_days is not None:
        seconds_units = float(core_days) * 86400.0
        how = f"{core_days} core-days x {peak.flop_per_s / 1e12:g} TFLOPS ({peak.precision})"
    elif not (math.isnan(count) or math.isnan(hours)):
        seconds_units = count * hours * 3600.0
        how = f"{count:g} x {peak.flop_per_s / 1e12:g} TFLOPS ({peak.precision}) x {hours:g} h"
    else:
        return None, "processor count or training time not reported", peak
    return seconds_units * peak.flop_per_s, how, peak


# --------------------------------------------------------------------------------------------
# The frame of published points
# --------------------------------------------------------------------------------------------


def _error_fields(benchmark: str, squad_metric: str) -> tuple[str, ...]:
    """The flag fields that doubt a row's error: every score, or SQuAD's chosen one."""
    if benchmark == "squad11":
        return ("error", squad_metric)
    return ("error", "em", "f1")


def _score(benchmark: str, row: Row, squad_metric: str) -> tuple[str, float] | None:
    """(metric, error fraction) of a row; None for a SQuAD row without the chosen score."""
    if benchmark == "squad11" and squad_metric == "em":
        em = _token(row.get("notes") or "", "em")
        return ("em", 1.0 - float(em) / 100.0) if em is not None else None
    return row.get("metric") or "", float(row["error"]) / 100.0


def _point(
    benchmark: str, row: Row, reference_dir: Path, squad_metric: str = DEFAULT_SQUAD_METRIC
) -> dict[str, Any] | None:
    """One published row as a point: error fraction, compute, burden, flags by field, citation."""
    score = _score(benchmark, row, squad_metric)
    if score is None:
        return None
    citation, notes = row.get("source") or "", row.get("notes") or ""
    flags = field_flags(citation=citation, notes=notes)
    err = _error_fields(benchmark, squad_metric)
    burden, how, peak = _burden(row, reference_dir)
    b_reasons = list(flags.of(*err, "burden"))
    alt = math.nan
    if peak is not None and peak.dies_per_unit and burden is not None:
        alt = burden / peak.dies_per_unit
        b_reasons.append(
            f"{peak.processor}: the count may be boards or dies; board reading {burden:.3g} "
            f"FLOP (used), die reading {alt:.3g} FLOP"
        )
    elif peak is not None and peak.flagged:
        b_reasons.append(f"peak rate of {peak.processor} is unconfirmed")
    year, gmacs = _number(row.get("year")), _number(row.get("gmacs_per_pass"))
    fitted = flags.of(*err, "per_pass", "burden")
    return {
        "benchmark": benchmark,
        "model": row.get("model") or "",
        "year": int(year) if not math.isnan(year) else None,
        "metric": score[0],
        "error": score[1],
        "per_pass_flops": 2.0 * gmacs * 1e9 if not math.isnan(gmacs) else math.nan,
        "burden_flops": burden if burden is not None else math.nan,
        "source": "published",
        "flagged": bool(fitted),
        "flag_reason": "; ".join(fitted),
        "per_pass_flagged": flags.any(*err, "per_pass"),
        "per_pass_flag_reason": "; ".join(flags.of(*err, "per_pass")),
        "burden_flagged": bool(b_reasons),
        "burden_flag_reason": "; ".join(b_reasons),
        "error_flagged": flags.any(*err),
        "other_flag_reason": "; ".join(flags.of("other")),
        "citation": citation,
        "burden_basis": how,
        "burden_flops_alt": alt,
        "precision": peak.precision if peak else "",
        "precision_assumed": bool(peak.assumed_precision) if peak else False,
    }


def check_squad_metric(squad_metric: str) -> str:
    if squad_metric not in SQUAD_METRICS:
        raise HarnessError(
            f"unknown SQuAD metric '{squad_metric}' (use one of: {', '.join(SQUAD_METRICS)})"
        )
    return squad_metric


def squad_rows_without_em(reference_dir: Path = REFERENCE_DIR) -> list[str]:
    """The SQuAD rows with no EM figure (`em=` token), left out of EM fits."""
    rows = _table("squad11", Path(reference_dir))
    return [r["model"] for r in rows if _token(r.get("notes") or "", "em") is None]


def load_published(
    benchmark: str | None = None,
    reference_dir: Path = REFERENCE_DIR,
    squad_metric: str = DEFAULT_SQUAD_METRIC,
) -> pd.DataFrame:
    """The published points of one benchmark (or all six) as a frame of POINT_COLUMNS + extras.

    `error` is a fraction; `per_pass_flops` = 2 x GMACs x 1e9; `burden_flops` may be NaN.
    SQuAD's error is from EM or F1 (`squad_metric`); rows without that score are left out.
    """
    check_squad_metric(squad_metric)
    import pandas as pd

    reference_dir = Path(reference_dir)
    names = BENCHMARKS if benchmark is None else (benchmark,)
    frames = [
        pd.DataFrame(
            [
                p
                for row in _table(name, reference_dir)
                if (p := _point(name, row, reference_dir, squad_metric)) is not None
            ]
        )
        for name in names
    ]
    return pd.concat(frames, ignore_index=True)
