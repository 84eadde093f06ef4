"""The slots of a local device pool: one per GPU (`--gpus`) or per CPU worker (`--workers`).

Why pinning by environment: a worker started with `CUDA_VISIBLE_DEVICES=3` sees that GPU as
`cuda:0`, so a suite's `cuda` configurations need no rewriting and a worker cannot touch
another slot's GPU (https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars).
NVML ignores that variable; the harness finds a worker's GPU in NVML by its PCI bus id, so
each worker's idle baseline and energy are its own GPU's. Where the pool's own process already
sees a subset (a Slurm allocation sets `CUDA_VISIBLE_DEVICES=2,5`), `--gpus 1` means the second
of those, and the worker gets `CUDA_VISIBLE_DEVICES=5`.

CPU workers split the cores: each gets max(1, cores // N) threads through `OMP_NUM_THREADS`
and `MKL_NUM_THREADS`, which torch's intra-op pool takes as its size
(https://pytorch.org/docs/stable/notes/cpu_threading_torchscript_inference.html).
`HARNESS_GPUS_IN_USE` tells every worker of a GPU pool how many GPUs the pool occupies (a
host's shared energy is split by it); CPU workers are not given it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.energy.host_share import GPUS_IN_USE_ENV
from harness.errors import ConfigurationError, DeviceUnavailableError

SLOT_ENV = "HARNESS_POOL_SLOT"


@dataclass(frozen=True)
class Slot:
    """One place a worker runs: its name in progress lines and records, and its environment."""

    name: str
    env: Mapping[str, str] = field(default_factory=dict)
    threads: int | None = None  # CPU threads of a CPU worker
    gpu_index: int | None = None  # a GPU worker's GPU: cuda:N of the pool's own process

    def pinned_gpu(self) -> dict[str, object]:
        """The GPU a worker of this slot sees as cuda:0, for a row the worker did not write:
        its index in the pool's process and its CUDA_VISIBLE_DEVICES value (empty: a CPU slot)."""
        if self.gpu_index is None:
            return {}
        return {
            "gpu_index": self.gpu_index,
            "cuda_visible_devices": self.env.get("CUDA_VISIBLE_DEVICES"),
        }

    def describe(self, slots: int) -> dict[str, object]:
        """What a record keeps about the pool it was measured in."""
        out: dict[str, object] = {"slot": self.name, "slots": slots}
        if "CUDA_VISIBLE_DEVICES" in self.env:
            out["cuda_visible_devices"] = self.env["CUDA_VISIBLE_DEVICES"]
        if self.threads is not None:
            out["threads"] = self.threads
        return out


def cuda_device_count() -> int:
    """GPUs this process sees (0 without CUDA)."""
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:
        return 0


def parse_gpus(spec: str, available: int) -> list[int]:
    """`all`, or indices and ranges (`0-3,6`) of the GPUs this process sees."""
    if available < 1:
        raise DeviceUnavailableError(
            f"--gpus {spec}: no CUDA device is visible here; use --workers N to share the CPU"
        )
    if spec.strip().lower() == "all":
        return list(range(available))
    out: list[int] = []
    try:
        for part in spec.split(","):
            lo, sep, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if sep else int(lo)
            if first > last:
                raise ValueError
            out.extend(i for i in range(first, last + 1) if i not in out)
    except ValueError:
        raise ConfigurationError(
            f"--gpus {spec!r}: write all, or indices and ranges such as 0-3,6"
        ) from None
    bad = [i for i in out if not 0 <= i < available]
    if bad:
        raise ConfigurationError(
            f"--gpus {spec}: GPU {bad[0]} does not exist; this process sees {available} "
            f"(0-{available - 1})"
        )
    return out


def gpu_slots(
    spec: str, *, available: int | None = None, environ: Mapping[str, str] | None = None
) -> list[Slot]:
    """One slot per chosen GPU, each pinned with CUDA_VISIBLE_DEVICES."""
    env = os.environ if environ is None else environ
    count = cuda_device_count() if available is None else available
    chosen = parse_gpus(spec, count)
    visible = [v.strip() for v in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    ids = [visible[i] if i < len(visible) else str(i) for i in chosen]
    return [
        Slot(
            f"gpu{i}",
            {"CUDA_VISIBLE_DEVICES": gpu, GPUS_IN_USE_ENV: str(len(ids)), SLOT_ENV: f"gpu{i}"},
            gpu_index=i,
        )
        for i, gpu in zip(chosen, ids, strict=True)
    ]


def cpu_slots(workers: int, *, cores: int | None = None) -> list[Slot]:
    """`workers` CPU slots sharing the cores: max(1, cores // workers) threads each."""
    if workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, got {workers}")
    n_cores = cores if cores is not None else (os.cpu_count() or 1)
    threads = max(1, n_cores // workers)
    return [
        Slot(
            f"cpu{i}",
            {
                "OMP_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads),
                SLOT_ENV: f"cpu{i}",
            },
            threads,
        )
        for i in range(workers)
    ]


def check_devices(devices: Sequence[str], slots: Sequence[Slot]) -> None:
    """A pool pins each worker to its slot, so configurations name the device kind only."""
    gpu_pool = any("CUDA_VISIBLE_DEVICES" in s.env for s in slots)
    for d in devices:
        if gpu_pool and d.startswith("cuda:") and d != "cuda:0":
            raise ConfigurationError(
                f"a configuration on {d} cannot run in a GPU pool (each worker sees its GPU "
                'as cuda:0): use devices = ["cuda"] or --device cuda'
            )
        if gpu_pool and not d.startswith("cuda"):
            raise ConfigurationError(
                f"--gpus runs CUDA configurations and this one is on {d}: use --workers N "
                "to share the CPU, or --device cuda"
            )
        if not gpu_pool and d.startswith("cuda"):
            raise ConfigurationError(
                f"--workers shares the CPU and this configuration is on {d}: use --gpus "
                "(all, or 0-3,6) for GPUs, or --device cpu"
            )
