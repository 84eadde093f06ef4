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


@contextlib.contextmanager
def precision_settings(
    plan: PrecisionPlan, *, cudnn_benchmark: bool | None = None
) -> Iterator[None]:
    """Set the global TF32 and cuDNN flags for the plan, and put them back afterwards."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.benchmark,
    )
    try:
        if plan.device_type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = plan.allow_tf32
            torch.backends.cudnn.allow_tf32 = plan.allow_tf32
            if cudnn_benchmark is not None:
                torch.backends.cudnn.benchmark = cudnn_benchmark
        yield
    finally:
        (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cudnn.benchmark,
        ) = saved


def autocast(plan: PrecisionPlan) -> contextlib.AbstractContextManager:
    """The autocast context of the plan (a no-op context for fp32/tf32)."""
    if plan.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=plan.device_type, dtype=plan.autocast_dtype)


def grad_scaler(plan: PrecisionPlan) -> torch.amp.GradScaler | None:
    return torch.amp.GradScaler(plan.device_type) if plan.grad_scaler else None
