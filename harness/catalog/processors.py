"""Processor specifications: datasheet peaks per precision, each with its citation.

The one reader of `processors.csv` and `processor_aliases.csv`; published points
(harness.catalog.published) and live devices both look processors up here.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from harness.catalog.flags import is_flagged
from harness.data import REFERENCE_DIR
from harness.vocab import check_precision_name

# --------------------------------------------------------------------------------------------
# Datasheet peaks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessorSpec:
    """One row of processors.csv: dense peak rates in FLOP/s and TDP, with the citation."""

    name: str
    year: int | None
    fp32_flop_per_s: float | None
    tensor16_flop_per_s: float | None  # fp16/bf16 tensor-core rate, dense
    tf32_flop_per_s: float | None
    fp8_flop_per_s: float | None
    tdp_watts: float | None
    source: str
    sms: int | None = None  # streaming multiprocessors (NVIDIA) or compute units (AMD) per device

    def peak_flop_per_s(self, precision: str) -> float | None:
        """Dense datasheet peak at `precision`; None where the table has no figure."""
        p = "fp8" if precision.strip().lower() == "fp8" else check_precision_name(precision)
        return {
            "fp32": self.fp32_flop_per_s,
            "tf32": self.tf32_flop_per_s,
            "bf16": self.tensor16_flop_per_s,
            "fp16": self.tensor16_flop_per_s,
            "fp8": self.fp8_flop_per_s,
        }[p]

    @property
    def flagged(self) -> bool:
        """The source marks a figure as not confirmed in a primary source."""
        return is_flagged(self.source)


@dataclass(frozen=True)
class ProcessorAlias:
    """One row of processor_aliases.csv: a name as papers write it, and the row it means."""

    alias: str
    processor_type: str | None  # None: known, but no processors.csv row fits
    note: str


def _tflops(cell: str) -> float | None:
    cell = cell.strip()
    return float(cell) * 1e12 if cell else None


@functools.cache
def processor_table(reference_dir: Path = REFERENCE_DIR) -> dict[str, ProcessorSpec]:
    """processors.csv, keyed by processor_type."""
    out: dict[str, ProcessorSpec] = {}
    with open(Path(reference_dir) / "processors.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["processor_type"]] = ProcessorSpec(
                name=row["processor_type"],
                year=int(row["year"]) if row["year"].strip() else None,
                fp32_flop_per_s=_tflops(row["fp32_tflops"]),
                tensor16_flop_per_s=_tflops(row["fp16_or_bf16_tensor_tflops_dense"]),
                tf32_flop_per_s=_tflops(row["tf32_tflops_dense"]),
                fp8_flop_per_s=_tflops(row["fp8_tflops_dense"]),
                tdp_watts=float(row["tdp_watts"]) if row["tdp_watts"].strip() else None,
                source=row["source"],
                sms=int(row["sms"]) if (row.get("sms") or "").strip() else None,
            )
    return out


@functools.cache
def alias_table(reference_dir: Path = REFERENCE_DIR) -> dict[str, ProcessorAlias]:
    """processor_aliases.csv, keyed by the alias exactly as written."""
    out: dict[str, ProcessorAlias] = {}
    with open(Path(reference_dir) / "processor_aliases.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["alias"]] = ProcessorAlias(
                alias=row["alias"],
                processor_type=row["processor_type"].strip() or None,
                note=row["note"] or "",
            )
    return out


@functools.cache
def _aliases() -> dict[str, str | None]:
    """Aliases by normalised name (case, dashes and spacing ignored)."""
    return {_norm(a.alias): a.processor_type for a in alias_table().values()}


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[-_]", " ", name.lower())).strip()


# What torch.cuda.get_device_name returns -> a processors.csv row (None: known, but no row with
# the right figures, so no peak rather than a wrong one). First match wins.
_DEVICE_NAME_RULES: tuple[tuple[str, str | None], ...] = (
    (r"\bgh200\b", "GH200 (GPU)"),  # "NVIDIA GH200 480GB": the superchip's Hopper GPU
    (r"\bgb200\b", "GB200 (per GPU)"),  # "NVIDIA GB200"
    (r"\bh100\b.*\bnvl\b", "H100 NVL"),  # "NVIDIA H100 NVL": lower clocks and TDP than SXM5
    (r"\bh100\b.*\bpcie\b", "H100 PCIe"),
    (r"\bh100\b", "H100 SXM5"),  # "NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"
    (r"\bh200\b.*\bnvl\b", "H200 NVL"),
    (r"\bh200\b", "H200 SXM"),  # "NVIDIA H200"
    (r"\bh800\b.*\bpcie\b", None),  # H800 PCIe: no confirmed figures
    (r"\bh800\b", "H800 SXM5"),  # "NVIDIA H800"
    (r"\bh20\b", "H20"),  # "NVIDIA H20": a row without confirmed figures
    (r"\bb300\b", "B300 (HGX)"),
    (r"\bb200\b", "B200 (HGX, 1000 W)"),
    (r"\ba100\b.*\b80 ?gb\b.*\bpcie\b", "A100 80GB PCIe"),  # "NVIDIA A100 80GB PCIe"
    (r"\ba100\b.*\bpcie\b", "A100 40GB PCIe"),  # "NVIDIA A100-PCIE-40GB"
    (r"\ba100\b.*\b80 ?gb\b", "A100 80GB SXM4"),  # "NVIDIA A100-SXM4-80GB"
    (r"\ba100\b", "A100 40GB SXM4"),  # "NVIDIA A100-SXM4-40GB"
    (r"\bv100\b.*\bpcie\b", "V100 PCIe"),  # "Tesla V100-PCIE-16GB" (not V100S)
    (r"\bv100\b", "V100 SXM2"),  # "Tesla V100-SXM2-16GB"
    (r"\bp100\b.*\bpcie\b", "P100 PCIe 16GB"),
    (r"\bp100\b", "P100 SXM2"),
    (r"\bt4\b", "T4"),  # "Tesla T4"
    (r"\ba10g\b", "A10G"),  # "NVIDIA A10G" (AWS): a row without confirmed figures
    (r"\ba10\b", "A10"),  # "NVIDIA A10"
    (r"\bl4\b", "L4"),
    (r"\bl40s\b", "L40S"),
    (r"\bl40\b", "L40"),
    (r"\bmi300x\b", "MI300X"),  # "AMD Instinct MI300X"
    # "AMD Instinct MI250X/MI250": one GCD; an MI250's (104 CUs) rate is its share of the row's
    (r"\bmi250x?\b", "MI250X (per GCD)"),
    (r"\brtx 4090\b(?! d\b)", "RTX 4090"),  # "NVIDIA GeForce RTX 4090" (not 4090 D)
    (r"\brtx 3090\b(?! ti\b)", "RTX 3090"),
    (r"\bgtx 1080\b(?! ti\b)", "GTX 1080"),
    (r"\btitan x \(pascal\)", "Titan X (Pascal)"),
    (r"\bgtx titan x\b", "Titan X (Maxwell)"),
    (r"\btitan black\b", "GTX Titan Black"),
    (r"\bgtx 580\b", "GTX 580"),
    (r"\bk80\b", None),  # CUDA sees one GK210, half of the board the table row describes
    (r"\bk40[cm]?\b", "K40"),
    (r"\bk20[cm]?\b", "K20 (K20c/K20m)"),
    (r"\bm40\b", "M40"),
)


def lookup_processor(name: str) -> ProcessorSpec | None:
    """A table row by its name, an alias, or a CUDA device name; None when none fits."""
    table = processor_table()
    n = _norm(name)
    for key, spec in table.items():
        if _norm(key) == n:
            return spec
    aliases = _aliases()
    if n in aliases:
        target = aliases[n]
        return table.get(target) if target else None
    for pattern, target in _DEVICE_NAME_RULES:
        if re.search(pattern, n):
            return table.get(target) if target else None
    return None
