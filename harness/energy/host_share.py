"""The share of the host's CPU/RAM energy a run is charged with.

RAPL reads every CPU package of the machine, and codecarbon's model estimates the whole
machine, so the host figure beside a GPU is the whole node's. On a node with eight GPUs a run
on one of them would be charged for the host of all eight: the host energy is attributed by the
share of the host's GPUs the run uses (GPUs used / GPUs on the host, counted by NVML, else by
torch), and the unshared figure is kept beside it. A CPU-only run uses the whole host.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from harness.errors import ConfigurationError


@dataclass(frozen=True)
class HostShare:
    """The fraction of the host's energy charged to this run, and how it was arrived at."""

    fraction: float
    basis: str


def check_host_share(value: float | None) -> None:
    """An override must be a fraction of the host: in (0, 1]."""
    if value is not None and not (isinstance(value, (int, float)) and 0 < value <= 1):
        raise ConfigurationError(
            f"the host energy share must be in (0, 1] (e.g. 0.125 for 1 of 8 GPUs), got {value!r}"
        )


def host_share(
    kind: str,
    *,
    gpus_used: int = 1,
    host_gpus: int | None = None,
    counted_by: str = "NVML",
    override: float | None = None,
) -> HostShare:
    """The share for a run on `kind` ("cpu" or "cuda") using `gpus_used` of `host_gpus` GPUs."""
    check_host_share(override)
    if override is not None:
        return HostShare(float(override), f"set to {override:g} by the user (--host-share)")
    if kind != "cuda":
        return HostShare(1.0, "a CPU-only run uses the whole host")
    if not host_gpus or host_gpus < gpus_used:
        return HostShare(
            1.0, "the host's GPUs could not be counted: the whole host is charged to this run"
        )
    return HostShare(
        gpus_used / host_gpus,
        f"{gpus_used} of {host_gpus} GPUs on this host ({counted_by} device count)",
    )


def count_host_gpus(nvml: object = None) -> tuple[int | None, str]:
    """How many GPUs the host has: NVML's count (every GPU of the node), else torch's (visible)."""
    from harness.hardware.nvml import device_count

    n = device_count(nvml)
    if n:
        return n, "NVML"
    torch = sys.modules.get("torch")  # never import torch (or start CUDA) just for this
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.device_count(), "torch (visible GPUs only)"
    return None, ""
