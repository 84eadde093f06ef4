"""The share of the host's CPU/RAM energy a run is charged with.

RAPL reads every CPU package of the machine, and codecarbon's model estimates the whole
machine, so the host figure beside a GPU is the whole node's. On a node with eight GPUs a run
on one of them would be charged for the host of all eight: the host energy is attributed by the
share of the host's GPUs the run uses (GPUs used / GPUs on the host, counted by NVML, else by
torch), and the unshared figure is kept beside it. A CPU-only run uses the whole host.

Inside a local device pool N workers run on N GPUs at once, and the host's energy over that
time is due to those N workers: each is charged 1/N, whatever else the host holds. The pool
tells its workers N in `HARNESS_GPUS_IN_USE`, read here and nowhere else.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import ConfigurationError

# Set by a local device pool for each of its GPU workers: how many GPUs the pool runs at once.
GPUS_IN_USE_ENV = "HARNESS_GPUS_IN_USE"


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
    pool_gpus: int | None = None,
    note: str = "",
) -> HostShare:
    """The share for a run on `kind` ("cpu" or "cuda") using `gpus_used` of `host_gpus` GPUs,
    or 1 of `pool_gpus` where it is a worker of a device pool running that many GPUs at once.
    `note` (an unusable pool size, say) is added to the basis."""
    check_host_share(override)
    if override is not None:
        return HostShare(float(override), f"set to {override:g} by the user (--host-share)")
    if kind != "cuda":
        return HostShare(1.0, "a CPU-only run uses the whole host")
    tail = f"; {note}" if note else ""
    if pool_gpus is not None and pool_gpus >= 1:
        on_host = f"; {host_gpus} on this host ({counted_by} device count)" if host_gpus else ""
        return HostShare(
            1.0 / pool_gpus,
            f"1 of {pool_gpus} GPUs in use by this pool ({GPUS_IN_USE_ENV}){on_host}{tail}",
        )
    if not host_gpus or host_gpus < gpus_used:
        return HostShare(
            1.0,
            "the host's GPUs could not be counted: the whole host is charged to this run" + tail,
        )
    return HostShare(
        gpus_used / host_gpus,
        f"{gpus_used} of {host_gpus} GPUs on this host ({counted_by} device count){tail}",
    )


def pool_gpus_in_use(environ: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """(GPUs the device pool of this worker runs at once, note): (None, "") outside a pool;
    (None, why) where `HARNESS_GPUS_IN_USE` is set but not a whole number >= 1."""
    env = os.environ if environ is None else environ
    raw = env.get(GPUS_IN_USE_ENV)
    if raw is None or not raw.strip():
        return None, ""
    try:
        n = int(raw.strip())
    except ValueError:
        n = 0
    if n < 1:
        return None, f"{GPUS_IN_USE_ENV}={raw!r} ignored: not a whole number of GPUs >= 1"
    return n, ""


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
