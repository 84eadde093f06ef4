"""Statistics of per-step samples: quantiles, median, IQR, and the noise flag."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

NOISY_IQR_RATIO = 0.1  # IQR/median above this flags a run as noisy (torch.utils.benchmark)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of sorted data (numpy's default method)."""
    if not sorted_xs:
        raise ValueError("quantile of no samples")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class SampleStats:
    """Summary of per-step times in seconds."""

    n: int
    median_s: float
    mean_s: float
    iqr_s: float
    p90_s: float
    min_s: float
    max_s: float

    @property
    def iqr_ratio(self) -> float:
        return self.iqr_s / self.median_s if self.median_s > 0 else math.inf

    @property
    def noisy(self) -> bool:
        return self.iqr_ratio > NOISY_IQR_RATIO


def summarize(samples: Sequence[float]) -> SampleStats:
    xs = sorted(float(x) for x in samples)
    if not xs:
        raise ValueError("no samples to summarise")
    return SampleStats(
        n=len(xs),
        median_s=quantile(xs, 0.5),
        mean_s=math.fsum(xs) / len(xs),
        iqr_s=quantile(xs, 0.75) - quantile(xs, 0.25),
        p90_s=quantile(xs, 0.9),
        min_s=xs[0],
        max_s=xs[-1],
    )
