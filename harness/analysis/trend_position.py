"""Where one measured network sits relative to the paper's fitted trend, and what may be said.

Two bands, two questions (see `harness.analysis.fit`):

* the line's 95% CONFIDENCE band (Fieller) says where the trend line is. Most published networks
  lie outside it (22 of the 34 ImageNet per-pass points), so being outside it is no finding;
* the 95% PREDICTION interval for a new network adds the scatter of networks about the line:
  the compute range in which a network of this error falls 95% of the time (33 of the 34).
  Only a network whose compute lies wholly below (or above) it is cheaper (dearer) than the
  ordinary scatter.

The network's own compute is uncertain too: a hardware burden is a step time (median, spread
IQR) times a peak rate, so its range is burden x (1 -+ IQR / 2 / median); on a CPU the peak is a
measured matmul rate that moves several-fold between runs, so no verdict rests on it. A fit
that is not significant (p >= 0.05) gives numbers only, never a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.analysis.estimator import ALPHA
from harness.analysis.fit import Fit
from harness.pipeline.record import Measurement
from harness.pipeline.summary import metric_claimed, off_published_size, size_text

CPU_PEAK_CAVEAT = (
    "its burden rests on a measured CPU matmul peak (no datasheet figure), which moves "
    "several-fold between runs"
)


@dataclass(frozen=True)
class TrendPosition:
    """One network's compute beside the compute the paper's trend gives for its error."""

    architecture: str
    measure: str  # "per-pass" or "burden"
    error: float
    compute_used_flop: float
    compute_used_low_flop: float  # the timing spread's range (equal to used for per-pass)
    compute_used_high_flop: float
    compute_at_trend_flop: float
    trend_low_flop: float  # the LINE's 95% confidence band (Fieller), inverted at the error
    trend_high_flop: float
    predicted_low_flop: float  # 95% prediction interval for a NEW network of this error
    predicted_high_flop: float
    fit: str  # "k=9.7 (n=34, R2=0.63, p=2.5e-08, published imagenet points)"
    p_value: float
    claimed: bool = False  # the error comes from a claimed metric, not a published one
    compute_caveat: str = ""  # why the compute itself cannot carry a verdict, if it cannot

    @property
    def ratio(self) -> float:
        return self.compute_used_flop / self.compute_at_trend_flop

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def place(self) -> str:
        """'inside', 'below', 'above' or 'straddles' the prediction interval (the ordinary
        scatter of published networks), judged on the whole range of the network's compute."""
        lo, hi = self.compute_used_low_flop, self.compute_used_high_flop
        if hi < self.predicted_low_flop:
            return "below"
        if lo > self.predicted_high_flop:
            return "above"
        if lo >= self.predicted_low_flop and hi <= self.predicted_high_flop:
            return "inside"
        return "straddles"

    def verdict(self) -> str:
        """One sentence a reader can act on; none at all where the numbers cannot carry one."""
        r = self.ratio
        times, side = (1 / r, "less") if r < 1 else (r, "more")
        line = f"{times:.3g}x {side} compute than the trend line at this error"
        if not self.significant:
            return (
                f"NO VERDICT: the {self.measure} fit is not significant (p = {self.p_value:.2g} "
                f">= {ALPHA:g}); numbers only ({line})"
            )
        if self.compute_caveat:
            return f"NO VERDICT: {self.compute_caveat} ({line})"
        band = (
            f"the 95% prediction interval for a new network of this error, "
            f"{_flop(self.predicted_low_flop)} - {_flop(self.predicted_high_flop)} FLOP"
        )
        used = _flop(self.compute_used_flop)
        if self.compute_used_high_flop > self.compute_used_low_flop:
            used = f"{_flop(self.compute_used_low_flop)} - {_flop(self.compute_used_high_flop)}"
        text = {
            "inside": f"INSIDE the ordinary scatter of published networks: its compute ({used}) "
            f"lies within {band}; {line}, which is no evidence either way",
            "below": f"CHEAPER than the ordinary scatter of published networks: its compute "
            f"({used}) lies below {band}; {line}",
            "above": f"DEARER than the ordinary scatter of published networks: its compute "
            f"({used}) lies above {band}; {line}",
            "straddles": f"NO VERDICT: the range of its compute ({used}, from the timing spread) "
            f"crosses an edge of {band}; {line}",
        }[self.place]
        return text + (
            " (error from a CLAIMED metric, not a published one)" if self.claimed else ""
        )


def _flop(x: float) -> str:
    return f"{x:.2g}" if math.isfinite(x) else ("inf" if x > 0 else "0")


def _pow10(x: float) -> float:
    return 10**x if math.isfinite(x) else (math.inf if x > 0 else 0.0)


def not_placed(record: Measurement) -> str | None:
    """Why a record is kept off the trend (a tiny variant, another size), or None."""
    name = record.config.get("architecture")
    if record.config.get("tiny"):
        return f"{name} (tiny): a reduced test variant, not the published network"
    if off_published_size(record):
        return f"{name} at {size_text(record)}: the published metric is for another size"
    return None


def compute_used(record: Measurement, measure: str) -> tuple[float, float, float, str] | None:
    """(compute, low, high, caveat) of one record: per-pass compute is counted (exact);
    a burden is timed, so it carries the timing spread and, on a CPU, the peak's caveat."""
    if measure == "per-pass":
        macs = record.counts.get("forward_macs_per_example")
        return (2.0 * macs, 2.0 * macs, 2.0 * macs, "") if macs else None
    burden = record.burden.get("burden_per_run_flop")
    if not burden:
        return None
    t = record.timing_view
    half = (t.iqr_ratio or 0.0) / 2
    caveat = ""
    if t.peak.datasheet_flop_per_s is None and t.peak.device_kind == "cpu":
        caveat = CPU_PEAK_CAVEAT
    return burden, burden * max(1 - half, 0.0), burden * (1 + half), caveat


def position(record: Measurement, f: Fit, desc: str) -> TrendPosition | None:
    """The record on fit `f`, or None when it has no error or no compute of this measure."""
    value = record.architecture.get("reference_value")
    used = compute_used(record, f.measure)
    if not record.ok or value is None or used is None:
        return None
    error = 1 - float(value) / 100
    x0, lo, hi = f.log10_compute_for(error)
    _, plo, phi = f.log10_compute_predicted(error)
    return TrendPosition(
        architecture=record.config["architecture"],
        measure=f.measure,
        error=error,
        compute_used_flop=used[0],
        compute_used_low_flop=used[1],
        compute_used_high_flop=used[2],
        compute_at_trend_flop=10**x0,
        trend_low_flop=_pow10(lo),
        trend_high_flop=_pow10(hi),
        predicted_low_flop=_pow10(plo),
        predicted_high_flop=_pow10(phi),
        fit=desc,
        p_value=f.p_value,
        claimed=metric_claimed(record),
        compute_caveat=used[3],
    )
