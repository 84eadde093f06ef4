"""`harness compare` as console text: the architectures side by side, then where each sits on the
paper's fitted trend, and any failure or note."""

from __future__ import annotations

from harness.analysis.comparison import Comparison
from harness.console import print_table
from harness.pipeline.summary import comparison_rows


def print_comparison(result: Comparison) -> None:
    """Print the side-by-side table, the trend positions and the notes of one comparison."""
    print_table(comparison_rows([result.new, *result.zoo]))
    if result.positions:
        print("\nRelative to the paper's polynomial fit (performance on compute):")
        print_table(
            [
                {
                    "architecture": p.architecture,
                    "measure": p.measure,
                    "error": p.error,
                    "used_flop": p.compute_used_flop,
                    "trend_flop": p.compute_at_trend_flop,
                    "trend_95pct": f"[{p.trend_low_flop:.2g}, {p.trend_high_flop:.2g}]",
                    "used/trend": p.ratio,
                }
                for p in result.positions
            ]
        )
        for p in result.positions:
            if p.architecture == result.new.config["architecture"]:
                print(f"{p.architecture} ({p.measure}): {p.verdict()}; fit {p.fit}")
    if not result.new.ok:
        print(f"\n{result.new.config['architecture']}: measurement failed: {result.new.error}")
    for n in result.notes:
        print(f"note: {n}")
