"""What a reader of one measurement must know about its energy beyond the figures: the GPU
throttled during the window, how long it cooled down before, and the share of the host charged.
One line each, for `harness measure`'s printed result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def energy_note_lines(energy: Mapping[str, Any], burden: Mapping[str, Any]) -> list[str]:
    """The lines to print under the figures (none where there is nothing to say)."""
    lines = []
    throttled = energy.get("throttled_at_end") or []
    if throttled:
        lines.append(
            f"throttled:  {', '.join(throttled)} at the end of the timed window (clocks held "
            "down by power or heat: step time and energy are a throttled GPU's)"
        )
    cooled = energy.get("cooldown") or {}
    if cooled:
        lines.append(f"cool-down:  {_cooldown_text(cooled)}")
    share = burden.get("host_energy_share")
    if share is not None and burden.get("host_energy_per_step_j") is not None:
        lines.append(
            f"host:       {share:.3g} of the host's CPU/RAM energy charged "
            f"({burden.get('host_energy_share_basis') or 'no basis recorded'})"
        )
    return lines


def _cooldown_text(c: Mapping[str, Any]) -> str:
    if c.get("note") and not c.get("waited_s"):
        return str(c["note"])
    end = c.get("end_temperature_c")
    temp = f" to {end:g} C" if isinstance(end, (int, float)) else ""
    target = c.get("target_c")
    goal = f" (target {target:g} C)" if isinstance(target, (int, float)) else " (a fixed wait)"
    text = f"waited {c.get('waited_s') or 0:.0f} s{temp}{goal} before the idle baseline"
    return f"{text}; {c['note']}" if c.get("note") else text
