"""Extrapolation: the compute a fit implies for a target error, with its 95% band (Fieller), and
for hardware-burden fits the CO2 and dollars of the paper's linear conversion.

Extrapolated quantities are kept as log10 values, since the exponential model's targets can lie
hundreds of orders of magnitude out (beyond a float's range).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.analysis.fit import Fit, check_error
from harness.cost.conversions import PaperConversion
from harness.errors import HarnessError
from harness.vocab import LBS_PER_KG

PER_PASS_NOT_COST = (
    "per-pass compute is the cost of one forward pass, not of training: no CO2 or dollars"
)
# Paper's ImageNet targets (Thompson et al. 2020, extrapolation figure): 5% and 1% top-1 error.
# Other benchmarks: half and a tenth of today's best error in the fitted data (harness choice).
PAPER_TARGETS = {"imagenet": (0.05, 0.01)}
DEFAULT_TARGET_FRACTIONS = (0.5, 0.1)


@dataclass(frozen=True)
class Projection:
    """Compute (and, for hardware burden, CO2 and dollars) implied by one target error."""

    benchmark: str
    measure: str
    model: str
    label: str  # "Today", "Target 1", ...
    error: float
    log10_flops: float
    log10_flops_lo: float  # -inf / +inf when the band is unbounded
    log10_flops_hi: float
    observed_flops: float | None = None  # compute of today's best point
    points: str = "published"
    conversion: PaperConversion | None = field(default=None, repr=False)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.log10_flops_lo) and math.isfinite(self.log10_flops_hi)

    @property
    def is_cost(self) -> bool:
        return self.measure == "burden" and self.conversion is not None

    def _shift(self, log10_per_flop: float) -> tuple[float, float, float]:
        return (
            self.log10_flops + log10_per_flop,
            self.log10_flops_lo + log10_per_flop,
            self.log10_flops_hi + log10_per_flop,
        )

    def log10_co2_lbs(self) -> tuple[float, float, float] | None:
        if not self.is_cost:
            return None
        return self._shift(math.log10(self.conversion.lbs_per_flop))

    def log10_co2_kg(self) -> tuple[float, float, float] | None:
        if not self.is_cost:
            return None
        return self._shift(math.log10(self.conversion.lbs_per_flop / LBS_PER_KG))

    def log10_usd(self) -> tuple[float, float] | None:
        """(low price, high price) dollars at the estimate, in log10."""
        if not self.is_cost:
            return None
        return (
            self.log10_flops + math.log10(self.conversion.usd_low_per_flop),
            self.log10_flops + math.log10(self.conversion.usd_high_per_flop),
        )

    def log10_usd_band(self) -> tuple[float, float] | None:
        """(low price x band low, high price x band high): the widest dollar range."""
        if not self.is_cost:
            return None
        return (
            self.log10_flops_lo + math.log10(self.conversion.usd_low_per_flop),
            self.log10_flops_hi + math.log10(self.conversion.usd_high_per_flop),
        )


def default_targets(benchmark: str, today_error: float) -> list[tuple[str, float]]:
    """Today's best, then the paper's targets (ImageNet) or half and a tenth of today's error."""
    targets = PAPER_TARGETS.get(benchmark) or tuple(
        today_error * f for f in DEFAULT_TARGET_FRACTIONS
    )
    return [("Today", today_error)] + [(f"Target {i}", e) for i, e in enumerate(targets, 1)]


def extrapolate(
    fit_: Fit,
    targets: Sequence[float] | None = None,
    conversion: PaperConversion | None = None,
    allow_insignificant: bool = False,
) -> list[Projection]:
    """Today / Target 1 / Target 2 ... rows for one fit (targets: error fractions).

    A fit whose slope is not significantly positive implies no compute for any target: it is
    refused (HarnessError) unless `allow_insignificant`, and then every band is unbounded.
    """
    if not allow_insignificant and (not fit_.significant or fit_.slope <= 0):
        why = "not significant" if not fit_.significant else "performance falls with compute"
        raise HarnessError(
            f"{fit_.benchmark} {fit_.measure} {fit_.model} ({fit_.points}): {why} "
            f"(slope {fit_.slope:.3g}, p = {fit_.p_value:.2g}); no extrapolation"
        )
    conv = conversion or PaperConversion.strubell()
    rows = default_targets(fit_.benchmark, fit_.best_error)
    if targets:
        for t in targets:
            check_error(t, "target error")
        rows = rows[:1] + [(f"Target {i}", float(t)) for i, t in enumerate(targets, 1)]
    out = []
    for label, err in rows:
        x0, lo, hi = fit_.log10_compute_for(err)
        out.append(
            Projection(
                benchmark=fit_.benchmark,
                measure=fit_.measure,
                model=fit_.model,
                label=label,
                error=err,
                log10_flops=x0,
                log10_flops_lo=lo,
                log10_flops_hi=hi,
                observed_flops=fit_.best_flops if label == "Today" else None,
                points=fit_.points,
                conversion=conv if fit_.measure == "burden" else None,
            )
        )
    return out
