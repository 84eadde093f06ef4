"""Achieved FLOP/s and model FLOP utilisation (MFU): counted FLOPs over measured time, against a peak.

A utilisation above 1 is not a result: the step cannot do more arithmetic than the hardware's
peak, so such a figure means the peak (or the FLOP count) is wrong. It is withheld (None) with
a note saying why, never shown as a fact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.console import fmt_si


@dataclass(frozen=True)
class Utilisation:
    """Achieved FLOP/s and model FLOP utilisation against the datasheet and the measured peak."""

    train_step_flops: float | None
    median_s: float
    achieved_flop_per_s: float | None
    datasheet_peak_flop_per_s: float | None
    mfu: float | None  # achieved / datasheet peak at the precision used; None above 1
    measured_peak_flop_per_s: float | None
    mfu_measured: float | None  # achieved / measured matmul peak; None above 1
    mfu_note: str | None = None  # why `mfu` is withheld
    mfu_measured_note: str | None = None  # why `mfu_measured` is withheld

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mfu(
    achieved_flop_per_s: float | None, peak_flop_per_s: float | None, devices: int = 1
) -> float | None:
    """Model FLOP utilisation: achieved FLOP/s over the peak of every device used (None where
    either is unknown or zero). Unbounded: `bounded_mfu` is what a record shows."""
    if not achieved_flop_per_s or not peak_flop_per_s:
        return None
    return achieved_flop_per_s / (peak_flop_per_s * devices)


def bounded_mfu(
    achieved_flop_per_s: float | None,
    peak_flop_per_s: float | None,
    devices: int = 1,
    *,
    peak_name: str = "peak",
    cause: str = "the peak is unreliable",
) -> tuple[float | None, str | None]:
    """(MFU, None), or (None, why) where it would exceed 1."""
    value = mfu(achieved_flop_per_s, peak_flop_per_s, devices)
    if value is None or value <= 1.0:
        return value, None
    times = f"{devices} x " if devices != 1 else ""
    return None, (
        f"withheld: the achieved {fmt_si(achieved_flop_per_s, 'FLOP/s')} exceeds the "
        f"{peak_name} {times}{fmt_si(peak_flop_per_s, 'FLOP/s')} (utilisation {value:.2f} > 1): "
        f"{cause}"
    )


def utilisation(
    train_step_flops: float | None,
    median_s: float,
    *,
    datasheet_peak_flop_per_s: float | None = None,
    measured_peak_flop_per_s: float | None = None,
    devices: int = 1,
) -> Utilisation:
    """Achieved = counted training-step FLOPs / median step time; MFU = achieved / peak.

    `devices` multiplies the per-device peaks (a data-parallel step over that many devices).
    """
    if median_s <= 0:
        raise ValueError("median step time must be positive")
    achieved = train_step_flops / median_s if train_step_flops else None
    sheet, sheet_note = bounded_mfu(
        achieved,
        datasheet_peak_flop_per_s,
        devices,
        peak_name="datasheet peak",
        cause="the FLOP count or the datasheet figure is wrong",
    )
    measured, measured_note = bounded_mfu(
        achieved,
        measured_peak_flop_per_s,
        devices,
        peak_name="measured matmul peak",
        cause="the measured peak is unreliable",
    )
    return Utilisation(
        train_step_flops=train_step_flops,
        median_s=median_s,
        achieved_flop_per_s=achieved,
        datasheet_peak_flop_per_s=datasheet_peak_flop_per_s,
        mfu=sheet,
        measured_peak_flop_per_s=measured_peak_flop_per_s,
        mfu_measured=measured,
        mfu_note=sheet_note,
        mfu_measured_note=measured_note,
    )
