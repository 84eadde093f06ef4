"""Achieved FLOP/s and model FLOP utilisation (MFU): counted FLOPs over measured time, against a peak."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Utilisation:
    """Achieved FLOP/s and model FLOP utilisation against the datasheet and the measured peak."""

    train_step_flops: float | None
    median_s: float
    achieved_flop_per_s: float | None
    datasheet_peak_flop_per_s: float | None
    mfu: float | None  # achieved / datasheet peak at the precision used
    measured_peak_flop_per_s: float | None
    mfu_measured: float | None  # achieved / measured matmul peak

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mfu(
    achieved_flop_per_s: float | None, peak_flop_per_s: float | None, devices: int = 1
) -> float | None:
    """Model FLOP utilisation: achieved FLOP/s over the peak of every device used (None where
    either is unknown or zero)."""
    if not achieved_flop_per_s or not peak_flop_per_s:
        return None
    return achieved_flop_per_s / (peak_flop_per_s * devices)


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

    return Utilisation(
        train_step_flops=train_step_flops,
        median_s=median_s,
        achieved_flop_per_s=achieved,
        datasheet_peak_flop_per_s=datasheet_peak_flop_per_s,
        mfu=mfu(achieved, datasheet_peak_flop_per_s, devices),
        measured_peak_flop_per_s=measured_peak_flop_per_s,
        mfu_measured=mfu(achieved, measured_peak_flop_per_s, devices),
    )
