"""`harness compare` as console text: the architectures side by side, then where each sits on the
paper's fitted trend (both bands, each saying what it is), the verdict, and any failure or note."""

from __future__ import annotations

from harness.analysis.comparison import Comparison
from harness.analysis.trend_position import TrendPosition
from harness.console import print_table
from harness.pipeline.summary import NOISY_ADVICE, comparison_rows

BANDS_LEGEND = (
    "line_95CI: where the trend LINE is (95% confidence band of the fit, Fieller) - most "
    "published networks lie outside it; new_net_95PI: where a NEW network of this error falls "
    "95% of the time (prediction interval: the line's uncertainty plus the scatter of networks); "
    "used: the network's compute, a range where the timing spread (IQR) makes it uncertain"
)


def _range(lo: float, hi: float) -> str:
    return f"[{lo:.2g}, {hi:.2g}]"


def position_row(p: TrendPosition) -> dict:
    """One table row of a trend position; its error says when the metric is only claimed."""
    used = f"{p.compute_used_flop:.3g}"
    if p.compute_used_high_flop > p.compute_used_low_flop:
        used += f" {_range(p.compute_used_low_flop, p.compute_used_high_flop)}"
    return {
        "architecture": p.architecture,
        "measure": p.measure,
        "error": f"{p.error:.4g}" + (" (claimed)" if p.claimed else ""),
        "used_flop": used,
        "trend_flop": p.compute_at_trend_flop,
        "line_95CI": _range(p.trend_low_flop, p.trend_high_flop),
        "new_net_95PI": _range(p.predicted_low_flop, p.predicted_high_flop),
        "used/trend": p.ratio,
        "place": p.place if p.significant else "(fit not significant)",
    }


def print_comparison(result: Comparison) -> None:
    """Print the side-by-side table, the trend positions and the notes of one comparison."""
    records = [result.new, *result.zoo]
    print_table(comparison_rows(records))
    noisy = [r.config["architecture"] for r in records if r.ok and r.timing_view.noisy]
    if noisy:
        print(f"\n{', '.join(noisy)}: {NOISY_ADVICE}")
    if result.positions:
        print("\nRelative to the paper's polynomial fit (performance on compute):")
        print_table([position_row(p) for p in result.positions])
        print(BANDS_LEGEND)
        for p in result.positions:
            if p.architecture == result.new.config["architecture"]:
                print(f"{p.architecture} ({p.measure}): {p.verdict()}; fit {p.fit}")
    if not result.new.ok:
        print(f"\n{result.new.config['architecture']}: measurement failed: {result.new.error}")
    for n in result.notes:
        print(f"note: {n}")
