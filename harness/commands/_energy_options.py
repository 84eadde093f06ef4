"""`harness measure`'s options for the energy window's surroundings: the GPU cool-down before the
idle baseline, and the share of the host's CPU/RAM energy charged to the run."""

from __future__ import annotations

import argparse
from typing import Any

from harness.errors import ConfigurationError

OPTIONS = ("--cooldown", "--cooldown-temp", "--host-share")


def add_energy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cooldown",
        type=float,
        default=None,
        metavar="SECONDS",
        help="longest wait for the GPU to cool before the idle baseline (default 60; 0: none)",
    )
    p.add_argument(
        "--cooldown-temp",
        type=_temperature,
        default=None,
        metavar="C",
        help="cool the GPU to this temperature (default 50); 'none': wait --cooldown seconds",
    )
    p.add_argument(
        "--host-share",
        type=float,
        default=None,
        metavar="F",
        help="part of the host's CPU/RAM energy charged to the run, in (0, 1] "
        "(default: GPUs used / GPUs on the host)",
    )


def _temperature(text: str) -> float | str:
    if text.strip().lower() == "none":
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a temperature in C or 'none', got {text!r}") from None


def energy_options(args: argparse.Namespace, device_kind: str = "cuda") -> dict[str, Any]:
    """`MeasureOptions` fields from the options, checked now (one line) rather than mid-run."""
    from harness.energy.cooldown import CooldownSettings
    from harness.energy.host_share import check_host_share

    out: dict[str, Any] = {}
    if args.cooldown is not None:
        out["cooldown_max_s"] = args.cooldown
    if args.cooldown_temp is not None:
        out["cooldown_temp_c"] = None if args.cooldown_temp == "none" else args.cooldown_temp
    defaults = CooldownSettings()
    CooldownSettings(
        max_s=out.get("cooldown_max_s", defaults.max_s),
        target_c=out.get("cooldown_temp_c", defaults.target_c),
    )
    if args.host_share is not None:
        check_host_share(args.host_share)
        if device_kind != "cuda":
            raise ConfigurationError(
                "--host-share divides the host's energy beside a GPU; a CPU run measures the "
                "host itself: drop --host-share or use --device cuda"
            )
        out["host_share"] = args.host_share
    return out


def refuse_energy_options(args: argparse.Namespace, where: str) -> None:
    """These options reach a single run only; elsewhere they are refused, never ignored."""
    given = [o for o in OPTIONS if getattr(args, o[2:].replace("-", "_"), None) is not None]
    if given:
        raise ConfigurationError(
            f"{', '.join(given)} apply to a single run, not to {where}; the defaults (cool down "
            "up to 60 s to 50 C; host share by GPUs) apply there"
        )
