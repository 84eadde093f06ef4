"""Numeric precision of a timed step: what each name means, and whether the device can do it.

A precision name is a promise about the arithmetic, so a step timed at "fp32" must not quietly
use TF32 tensor cores (PyTorch lets cuDNN do that by default), and a precision the device
cannot run is refused in one line before anything is built, or, where the result is the same
arithmetic, recorded as a fallback:

- fp32: IEEE float32 everywhere (TF32 off for matmuls and cuDNN convolutions).
- tf32: float32 tensors, TF32 tensor cores for matmuls and convolutions (CUDA, Ampere+).
  On an older GPU the flag does nothing, so the step is recorded as fp32 with the reason.
- bf16: autocast to bfloat16 (CUDA compute capability 8.0+, or CPU).
- fp16: autocast to float16 with a gradient scaler (CUDA only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from harness.errors import ConfigurationError
from harness.vocab import check_precision_name

# The dtype a matmul peak is measured in for each precision (tf32 = float32 with TF32 allowed).
MATMUL_DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "tf32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


@dataclass(frozen=True)
class PrecisionPlan:
    """How a step runs at a precision on a device; `used` differs from `requested` on fallback."""

    requested: str
    used: str
    device_type: str  # "cuda" or "cpu"
    autocast_dtype: torch.dtype | None
    grad_scaler: bool
    allow_tf32: bool
    fallback_reason: str | None = None

    @property
    def autocast_dtype_name(self) -> str | None:
        return str(self.autocast_dtype).removeprefix("torch.") if self.autocast_dtype else None


def plan_precision(precision: str, device: torch.device | str) -> PrecisionPlan:
    """Check `precision` against `device` and say how the step will run there."""
    p = check_precision_name(precision)
    dev = torch.device(device)
    if dev.type == "cpu":
        if p == "fp16":
            raise ConfigurationError(
                "fp16 autocast with a gradient scaler needs a CUDA device; on CPU use fp32 or bf16"
            )
        if p == "tf32":
            raise ConfigurationError(
                "tf32 is a CUDA tensor-core mode; on CPU use fp32 (or bf16 autocast)"
            )
        if p == "bf16":
            return PrecisionPlan(p, p, "cpu", torch.bfloat16, False, False)
        return PrecisionPlan(p, p, "cpu", None, False, False)
    if dev.type != "cuda":
        raise ConfigurationError(f"device type {dev.type!r} is not supported; use cpu or cuda")

    major, minor = torch.cuda.get_device_capability(dev)
    name = torch.cuda.get_device_name(dev)
    if p == "fp32":
        return PrecisionPlan(p, p, "cuda", None, False, False)
    if p == "tf32":
        if major < 8:
            return PrecisionPlan(
                p,
                "fp32",
                "cuda",
                None,
                False,
                False,
                fallback_reason=f"{name} (compute capability {major}.{minor}) has no TF32 "
                "tensor cores: the step runs in fp32 and is recorded as fp32",
            )
        return PrecisionPlan(p, p, "cuda", None, False, True)
    if p == "bf16":
        if not torch.cuda.is_bf16_supported(including_emulation=False):
            raise ConfigurationError(
                f"bf16 needs a GPU of compute capability 8.0 or newer ({name} is {major}.{minor}); "
                "use --precision fp16 or fp32"
            )
        return PrecisionPlan(p, p, "cuda", torch.bfloat16, False, False)
    return PrecisionPlan(p, p, "cuda", torch.float16, True, False)


# --------------------------------------------------------------------------------------------
# TF32 switches: the fp32_precision API where torch has it (2.9+), else the legacy allow_tf32
# flags. Mixing the two raises (reading allow_tf32 after fp32_precision was set, for one), and
# allow_tf32 is deprecated: https://docs.pytorch.org/docs/stable/notes/cuda.html#tensorfloat-32-tf32-on-ampere-and-later-devices
# --------------------------------------------------------------------------------------------


def _precision_knobs(backends: Any, cudnn: bool) -> list[Any] | None:
    """The fp32_precision settings (matmul, and cuDNN conv and RNN), or None: legacy torch."""
    knobs = [backends.cuda.matmul]
    if cudnn:
        knobs += [getattr(backends.cudnn, "conv", None), getattr(backends.cudnn, "rnn", None)]
    knobs = [k for k in knobs if k is not None and hasattr(k, "fp32_precision")]
    return knobs if knobs and hasattr(backends.cuda.matmul, "fp32_precision") else None


def tf32_state(*, cudnn: bool = True, backends: Any = None) -> tuple[Any, ...]:
    """The TF32 settings as they stand, for `restore_tf32`."""
    backends = backends if backends is not None else torch.backends
    knobs = _precision_knobs(backends, cudnn)
    if knobs is not None:
        return tuple(k.fp32_precision for k in knobs)
    legacy = (backends.cuda.matmul.allow_tf32,)
    return legacy + ((backends.cudnn.allow_tf32,) if cudnn else ())


def set_tf32(enabled: bool, *, cudnn: bool = True, backends: Any = None) -> None:
    """TF32 on or off for matmuls (and cuDNN convolutions and RNNs with `cudnn`)."""
    backends = backends if backends is not None else torch.backends
    knobs = _precision_knobs(backends, cudnn)
    if knobs is not None:
        for k in knobs:
            k.fp32_precision = "tf32" if enabled else "ieee"
        return
    backends.cuda.matmul.allow_tf32 = enabled
    if cudnn:
        backends.cudnn.allow_tf32 = enabled


def restore_tf32(state: tuple[Any, ...], *, cudnn: bool = True, backends: Any = None) -> None:
    backends = backends if backends is not None else torch.backends
    knobs = _precision_knobs(backends, cudnn)
    if knobs is not None:
        for k, value in zip(knobs, state, strict=True):
            k.fp32_precision = value
        return
    backends.cuda.matmul.allow_tf32 = state[0]
    if cudnn:
        backends.cudnn.allow_tf32 = state[1]


def tf32_allowed(*, backends: Any = None) -> tuple[bool, bool]:
    """(matmuls, cuDNN convolutions) may use TF32, read without mixing the two APIs."""
    backends = backends if backends is not None else torch.backends
    knobs = _precision_knobs(backends, True)
    if knobs is not None:
        conv = getattr(backends.cudnn, "conv", None)
        return backends.cuda.matmul.fp32_precision == "tf32", conv.fp32_precision == "tf32"
    return bool(backends.cuda.matmul.allow_tf32), bool(backends.cudnn.allow_tf32)


@contextlib.contextmanager
def precision_settings(
    plan: PrecisionPlan, *, cudnn_benchmark: bool | None = None, backends: Any = None
) -> Iterator[None]:
    """Set the global TF32 and cuDNN flags for the plan, and put them back afterwards.

    `backends` stands in for torch.backends in tests.
    """
    backends = backends if backends is not None else torch.backends
    saved = tf32_state(backends=backends)
    benchmark = backends.cudnn.benchmark
    try:
        if plan.device_type == "cuda":
            set_tf32(plan.allow_tf32, backends=backends)
            if cudnn_benchmark is not None:
                backends.cudnn.benchmark = cudnn_benchmark
        yield
    finally:
        restore_tf32(saved, backends=backends)
        backends.cudnn.benchmark = benchmark


def autocast(plan: PrecisionPlan) -> contextlib.AbstractContextManager:
    """The autocast context of the plan (a no-op context for fp32/tf32)."""
    if plan.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=plan.device_type, dtype=plan.autocast_dtype)


def grad_scaler(plan: PrecisionPlan) -> torch.amp.GradScaler | None:
    return torch.amp.GradScaler(plan.device_type) if plan.grad_scaler else None
