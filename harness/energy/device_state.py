"""A GPU's thermal and clock state at the edges of a timed window, and what it says.

A GPU that is held at its power limit or is too hot runs its SM clock below the maximum, and
the same step then takes longer and costs different energy; NVML's clock-event reasons say
which limit was active (https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html).
The state is read just before and just after the timed steps, and a window that ended held down
by power or heat says so in its flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from harness.energy.measurement import EnergyMeasurement
from harness.energy.sources import PowerSource
from harness.hardware.nvml import POWER_OR_THERMAL_REASONS


def read_states(source: PowerSource) -> dict[str, dict[str, Any]]:
    """Every device's state now; a device whose state cannot be read is left out."""
    out: dict[str, dict[str, Any]] = {}
    for dev in source.devices:
        try:
            s = source.state(dev)
        except Exception:  # best effort: a missing reading never costs the window
            s = None
        if s:
            out[dev] = dict(s)
    return out


def throttled(states: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """'cuda:0: sw_power_cap', one per device and power or thermal reason that is active."""
    return tuple(
        f"{dev}: {reason}"
        for dev, s in states.items()
        for reason in s.get("clock_event_reasons") or ()
        if reason in POWER_OR_THERMAL_REASONS
    )


def throttle_note(reasons: tuple[str, ...]) -> str:
    """One line for the record and the printed result."""
    return (
        f"clocks held down by power or heat at the end of the timed window ({', '.join(reasons)}): "
        "the step time and energy are those of a throttled GPU"
    )


def with_states(
    m: EnergyMeasurement,
    start: Mapping[str, Mapping[str, Any]],
    end: Mapping[str, Mapping[str, Any]],
) -> EnergyMeasurement:
    """The window with its edge states, and a flag where the end shows throttling."""
    reasons = throttled(end)
    flags = m.flags + ((throttle_note(reasons),) if reasons else ())
    reason = "; ".join(x for x in (m.reason, throttle_note(reasons) if reasons else "") if x)
    return replace(
        m,
        device_state_start=dict(start),
        device_state_end=dict(end),
        throttled_at_end=reasons,
        flags=flags,
        reason=reason,
    )
