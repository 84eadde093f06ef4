"""Before the clock starts: the memory pre-check, the model and optimizer on the device, the
precision and compile settings, and a retry at half the batch after running out of memory.

Bad input fails before anything large is allocated: on CPU, a batch whose estimated memory
(parameters, gradients, optimizer state, saved activations measured on the meta device)
exceeds what is available is refused with the largest batch that fits. An out-of-memory
error retries at half the batch, says so, and the record keeps the batch actually used.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

from harness.arch.spec import Architecture, Batch
from harness.errors import ConfigurationError, HarnessError
from harness.hardware.devices import available_memory_bytes
from harness.hardware.precision import PrecisionPlan, autocast, grad_scaler
from harness.timing.loop import TrainingStep
from harness.timing.memory import MemoryEstimate, check_cpu_memory, estimate_training_memory
from harness.timing.out_of_memory import is_out_of_memory
from harness.timing.request import TimingRequest

T = TypeVar("T")
ModelWrapper = Callable[[nn.Module], nn.Module]


# --------------------------------------------------------------------------------------------
# Memory: checked before building, retried after running out
# --------------------------------------------------------------------------------------------


def precheck_host_memory(
    arch: Architecture, request: TimingRequest
) -> tuple[MemoryEstimate | None, tuple[str, ...]]:
    """Refuse a batch that cannot fit in host memory; (the estimate, notes about it)."""
    try:
        estimate = estimate_training_memory(
            arch, request.batch_size, size=request.size, tiny=request.tiny
        )
    except HarnessError:
        raise
    except Exception as exc:  # a model that cannot be built on meta: no pre-check
        return None, (f"memory pre-check skipped ({type(exc).__name__} on the meta device)",)
    notes = (f"memory pre-check: {estimate.note}",) if estimate.note else ()
    check_cpu_memory(estimate, available_memory_bytes())
    return estimate, notes


def retry_out_of_memory(
    attempt: Callable[[int, tuple[str, ...]], T],
    batch_size: int,
    *,
    what: str,
    device_kind: str,
    release_cache: Callable[[], None],
    notes: tuple[str, ...] = (),
    retry: bool = True,
) -> T:
    """`attempt(batch, notes)`; after an out-of-memory error (`is_out_of_memory`: cuBLAS and
    cuDNN allocation failures and compiler-wrapped ones too), again at half the batch."""
    collected = list(notes)
    bs = batch_size
    while True:
        try:
            return attempt(bs, tuple(collected))
        except Exception as exc:
            if isinstance(exc, HarnessError) or not is_out_of_memory(exc):
                raise
        # out of the handler now: its traceback held the failed attempt's tensors
        gc.collect()
        release_cache()
        if not retry or bs == 1:
            raise ConfigurationError(
                f"{what} ran out of {device_kind.upper()} memory at batch {bs}"
                + ("" if bs == 1 else "; try a smaller --batch")
            )
        msg = f"out of memory at batch {bs}; retrying at batch {bs // 2}"
        print(f"harness: {what}: {msg}", file=sys.stderr)
        collected.append(msg)
        bs //= 2


# --------------------------------------------------------------------------------------------
# The training step
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedStep:
    """A ready training step and what preparing it settled."""

    step: TrainingStep
    size: int  # the size actually used (the architecture's default when none was given)
    channels_last: bool  # applied: False when requested but the input has no 4-D image
    notes: tuple[str, ...] = ()


def _to_channels_last(obj: Any) -> tuple[Any, bool]:
    if isinstance(obj, torch.Tensor):
        if obj.dim() == 4 and obj.is_floating_point():
            return obj.contiguous(memory_format=torch.channels_last), True
        return obj, False
    if isinstance(obj, (list, tuple)):
        pairs = [_to_channels_last(o) for o in obj]
        return type(obj)(p[0] for p in pairs), any(p[1] for p in pairs)
    if isinstance(obj, dict):
        pairs = {k: _to_channels_last(v) for k, v in obj.items()}
        return {k: v[0] for k, v in pairs.items()}, any(v[1] for v in pairs.values())
    return obj, False


def _channels_last(model: nn.Module, batch: Batch) -> tuple[Batch, bool]:
    """Model and image inputs in channels_last; (the batch, whether any input was an image)."""
    (args, kwargs), applied = _to_channels_last((batch.args, dict(batch.kwargs)))
    if not applied:
        return batch, False
    model.to(memory_format=torch.channels_last)
    return Batch(args=tuple(args), kwargs=kwargs, targets=batch.targets, size=batch.size), True


def _training_step(
    arch: Architecture,
    runner: nn.Module,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    plan: PrecisionPlan,
) -> TrainingStep:
    scaler = grad_scaler(plan)

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with autocast(plan):
            loss = arch.training_loss(runner, batch)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return loss

    return step


def prepare_step(
    arch: Architecture,
    request: TimingRequest,
    plan: PrecisionPlan,
    device: torch.device,
    batch_size: int,
    wrap_model: ModelWrapper | None = None,
) -> PreparedStep:
    """Build the model, batch and optimizer on `device`: one call of the returned step is one
    forward, loss, backward and optimizer step of the architecture's published recipe.

    `wrap_model` wraps the model once it is on the device, before the optimizer and
    torch.compile (for example DistributedDataParallel); the loss then runs through it.
    """
    torch.manual_seed(request.seed)
    with torch.device(device):
        model: nn.Module = arch.build(tiny=request.tiny)
    model.to(device)
    batch = arch.example_batch(
        batch_size, size=request.size, tiny=request.tiny, device=device, seed=request.seed
    )
    size = request.size
    used_size = (
        size if size is not None else (arch.tiny_size if request.tiny else arch.default_size)
    )
    applied, notes = False, ()
    if request.channels_last:
        batch, applied = _channels_last(model, batch)
        if not applied:
            notes = ("channels_last requested but the input has no 4-D image tensor: ignored",)
    model.train()
    runner: nn.Module = wrap_model(model) if wrap_model is not None else model
    optimizer = arch.optimizer.build(runner.parameters())
    mode = request.compile_mode
    if mode is not None:
        runner = torch.compile(runner, mode=None if mode == "default" else mode)
    step = _training_step(arch, runner, batch, optimizer, plan)
    return PreparedStep(step, used_size, applied, notes)


@contextlib.contextmanager
def compile_failures_as_errors(compile_mode: str | None) -> Iterator[None]:
    """A torch.compile failure (raised by the first steps) as a one-line configuration error."""
    try:
        yield
    except HarnessError:
        raise
    except Exception as exc:
        if compile_mode is None or is_out_of_memory(exc):
            raise  # out of memory inside a compiled graph: the batch retry handles it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigurationError(
            f"torch.compile(mode={compile_mode!r}) failed: {type(exc).__name__}: {first}; "
            "run without --compile"
        ) from exc
