"""Memory: an estimate before a training step runs, and the measured peak."""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from typing import Any

import torch

from harness.arch.spec import Architecture
from harness.errors import ConfigurationError

# --------------------------------------------------------------------------------------------
# Memory estimate (CPU pre-check)
# --------------------------------------------------------------------------------------------


# Optimizer state per trainable parameter element, in parameter-sized tensors (torch.optim).
def _optimizer_state_factor(name: str, options: dict[str, Any]) -> int:
    if name == "sgd":
        return 1 if options.get("momentum", 0) else 0
    if name in ("adam", "adamw"):
        return 3 if options.get("amsgrad") else 2
    if name == "rmsprop":
        return 1 + bool(options.get("momentum", 0)) + bool(options.get("centered"))
    if name == "adagrad":
        return 1
    if name == "adadelta":
        return 2
    return 2  # unknown: assume Adam-like


@dataclass(frozen=True)
class MemoryEstimate:
    """What one training step holds at its peak, estimated without allocating anything."""

    params_bytes: int  # parameters and buffers
    grads_bytes: int
    optimizer_state_bytes: int
    activations_bytes: int | None  # tensors saved for backward (meta forward); None if unknown
    batch_bytes: int
    batch_size: int
    note: str = ""

    @property
    def fixed_bytes(self) -> int:
        return self.params_bytes + self.grads_bytes + self.optimizer_state_bytes

    @property
    def per_example_bytes(self) -> float:
        return ((self.activations_bytes or 0) + self.batch_bytes) / self.batch_size

    @property
    def total_bytes(self) -> int:
        return self.fixed_bytes + (self.activations_bytes or 0) + self.batch_bytes

    def max_batch(self, available: int) -> int:
        """The largest batch that fits in `available` bytes by this estimate (0: none)."""
        if self.per_example_bytes <= 0:
            return 0 if available < self.fixed_bytes else sys.maxsize
        return max(0, int((available - self.fixed_bytes) // self.per_example_bytes))


def _tensor_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(o) for o in obj)
    if isinstance(obj, dict):
        return sum(_tensor_bytes(o) for o in obj.values())
    return 0


def estimate_training_memory(
    arch: Architecture, batch_size: int, *, size: int | None = None, tiny: bool = False
) -> MemoryEstimate:
    """Parameters + gradients + optimizer state + saved activations, all on the meta device.

    Activations are the distinct storages autograd saves for backward during one training
    forward (parameters excluded); temporaries of the backward pass are not included.
    """
    with torch.device("meta"):
        model = arch.build(tiny=tiny)
    model.train()
    params = {id(p): p for p in model.parameters()}
    trainable = [p for p in params.values() if p.requires_grad]
    p_bytes = sum(_tensor_bytes(p) for p in params.values())
    p_bytes += sum(_tensor_bytes(b) for b in model.buffers())
    g_bytes = sum(_tensor_bytes(p) for p in trainable)
    o_bytes = g_bytes * _optimizer_state_factor(arch.optimizer.name, dict(arch.optimizer.options))
    batch = arch.example_batch(batch_size, size=size, tiny=tiny, device="meta")
    b_bytes = _tensor_bytes((batch.args, dict(batch.kwargs), batch.targets))

    param_storages = {p.untyped_storage()._cdata for p in params.values()}
    saved: dict[int, int] = {}
    keep: list[torch.Tensor] = []  # keep storages alive so their ids are not reused

    def pack(t: torch.Tensor) -> torch.Tensor:
        keep.append(t)
        key = t.untyped_storage()._cdata
        if key not in param_storages and key not in saved:
            saved[key] = t.untyped_storage().nbytes()
        return t

    act: int | None
    note = ""
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            arch.training_loss(model, batch)
        act = sum(saved.values())
    except Exception as exc:  # a model that cannot run on meta still gets the fixed part
        act = None
        note = f"activations not estimated ({type(exc).__name__} on the meta device)"
    return MemoryEstimate(p_bytes, g_bytes, o_bytes, act, b_bytes, batch_size, note)


def _gib(x: float) -> str:
    return f"{x / 2**30:.2f} GiB"


def check_cpu_memory(est: MemoryEstimate, available: int | None) -> None:
    """Refuse, before allocating, a step whose estimate exceeds the available memory."""
    if available is None or est.total_bytes <= available:
        return
    fits = est.max_batch(available)
    hint = f"use --batch {fits} or smaller" if fits >= 1 else "it does not fit even at batch 1"
    act = _gib(est.activations_bytes) if est.activations_bytes is not None else "unknown"
    raise ConfigurationError(
        f"batch {est.batch_size} needs an estimated {_gib(est.total_bytes)} on CPU "
        f"(parameters {_gib(est.params_bytes)}, gradients {_gib(est.grads_bytes)}, optimizer "
        f"state {_gib(est.optimizer_state_bytes)}, activations {act}) but {_gib(available)} "
        f"is available; {hint}"
    )


# --------------------------------------------------------------------------------------------
# Peak memory
# --------------------------------------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process (Linux >= 4.0); False if it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """The process's resident high-water mark: /proc's VmHWM, else getrusage's maximum."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


@dataclass(frozen=True)
class PeakMemory:
    """Peak memory of one timed attempt, in bytes (None where this device cannot tell).

    `steady_bytes` covers the timed steps only: the peak statistics are reset after the
    warm-up, so neither the first steps' one-off allocations nor cudnn.benchmark's trial
    workspaces (https://pytorch.org/docs/stable/backends.html#torch.backends.cudnn.benchmark)
    count. `run_bytes` covers the whole attempt: building, warm-up and timed steps.
    `reserved_bytes` is what the CUDA caching allocator held at most over the whole attempt
    (`torch.cuda.max_memory_reserved`): what the process took from the GPU.
    """

    steady_bytes: int | None
    run_bytes: int | None
    reserved_bytes: int | None
    source: str


class CudaPeakMemory:
    """The caching allocator's peaks, reset at the start and again after the warm-up.

    `cuda` is torch.cuda (a stand-in in tests); each reading follows a synchronise, so the
    peaks include every queued kernel's allocations.
    """

    source = "cuda-max-allocated"

    def __init__(self, device: Any, cuda: Any = None) -> None:
        self.device, self.cuda = device, cuda if cuda is not None else torch.cuda
        self.warmup_allocated = self.warmup_reserved = 0
        self.cuda.synchronize(self.device)
        self.cuda.reset_peak_memory_stats(self.device)

    def after_warmup(self) -> None:
        self.cuda.synchronize(self.device)
        self.warmup_allocated = int(self.cuda.max_memory_allocated(self.device))
        self.warmup_reserved = int(self.cuda.max_memory_reserved(self.device))
        self.cuda.reset_peak_memory_stats(self.device)

    def read(self) -> PeakMemory:
        self.cuda.synchronize(self.device)
        steady = int(self.cuda.max_memory_allocated(self.device))
        reserved = int(self.cuda.max_memory_reserved(self.device))
        return PeakMemory(
            steady_bytes=steady,
            run_bytes=max(steady, self.warmup_allocated),
            reserved_bytes=max(reserved, self.warmup_reserved),
            source=self.source,
        )


class CpuPeakMemory:
    """The process's resident high-water mark, reset at the start and after the warm-up where
    the kernel allows it (Linux >= 4.0); without a reset the steady peak is unknown."""

    def __init__(self) -> None:
        self.resets = reset_peak_rss()
        self.source = "cpu-peak-rss" if self.resets else "cpu-peak-rss-process"
        self.warmup_bytes = 0
        self.steady_known = False

    def after_warmup(self) -> None:
        self.warmup_bytes = peak_rss_bytes()
        self.steady_known = self.resets and reset_peak_rss()

    def read(self) -> PeakMemory:
        now = peak_rss_bytes()
        return PeakMemory(
            steady_bytes=now if self.steady_known else None,
            run_bytes=max(now, self.warmup_bytes),
            reserved_bytes=None,
            source=self.source,
        )
