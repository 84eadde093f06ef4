"""The measured matmul peak checked against the step it is the peak of.

A training step cannot sustain more FLOP/s than a matmul peak of the same arithmetic, so a step
that does (utilisation > 1) shows the measured peak is unreliable: a machine busy with other
work during the microbenchmark, a clock that fell before it ran, or a size that missed the
fast kernels. The peak is then measured once more with a longer window; if the step still
beats it, the figure is kept but marked unreliable, and every utilisation against it is
withheld (`harness.cost.utilisation.bounded_mfu`), never shown above 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from harness.console import fmt_si

LONGER = 3.0  # the remeasure sustains each size this many times longer

Remeasure = Callable[[float], dict[str, Any]]  # seconds per size -> peak figures


def achieved_rate(counts: Any, median_s: float | None) -> float | None:
    """Counted training-step FLOPs over the median step time (None where either is missing)."""
    flops = getattr(counts, "train_step_flops", None) if counts is not None else None
    if not flops or not median_s or median_s <= 0:
        return None
    return float(flops) / median_s


def check_measured_peak(
    peak: dict[str, Any],
    achieved: float | None,
    remeasure: Remeasure,
    *,
    seconds: float,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`peak` (from `peak_figures`), remeasured once with `LONGER` x `seconds` per size where the
    achieved rate beats it; the result says whether the measured figure is reliable."""
    first = peak.get("measured_flop_per_s")
    if not first or not achieved or achieved <= first:
        return {**peak, "measured_reliable": None if not first else True, "measured_note": None}
    say = say or _stderr
    longer = LONGER * seconds
    say(
        f"the measured matmul peak {fmt_si(first, 'FLOP/s')} is below the achieved "
        f"{fmt_si(achieved, 'FLOP/s')}: unreliable; measuring it again for {longer:g} s per size"
    )
    try:
        again = remeasure(longer)
    except Exception as exc:  # the first figure stays, marked; the record is not lost
        again = {"measured_flop_per_s": None, "measured_source": f"remeasure failed: {exc}"}
    second = again.get("measured_flop_per_s") or 0.0
    best = again if second > first else peak
    value = best["measured_flop_per_s"]
    if value >= achieved:
        note = (
            f"the first measured peak ({fmt_si(first, 'FLOP/s')}) was below the achieved rate; "
            f"remeasured for {longer:g} s per size: {fmt_si(second, 'FLOP/s')}"
        )
        return {**best, "measured_reliable": True, "measured_note": note}
    note = (
        f"measured matmul peak unreliable: {fmt_si(first, 'FLOP/s')}, then "
        f"{fmt_si(second, 'FLOP/s')} over {longer:g} s per size, both below the achieved "
        f"{fmt_si(achieved, 'FLOP/s')}; utilisation against it is withheld"
    )
    say(note)
    marked = {**best, "measured_reliable": False, "measured_note": note}
    if peak.get("device_kind") == "cpu" and marked.get("burden_peak_flop_per_s") == value:
        marked["burden_peak_source"] = f"{marked['burden_peak_source']} [unreliable: {note}]"
    return marked


def _stderr(msg: str) -> None:
    print(f"harness: {msg}", file=sys.stderr, flush=True)
