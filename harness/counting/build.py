"""Building a model and its example batch on each tensor kind: meta, fake or real CPU tensors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from harness.arch.spec import Architecture, Batch
from harness.counting.record import CountingError


def param_counts(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters), in elements."""
    total = trainable = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return total, trainable


def fake_mode() -> Any:
    """A FakeTensorMode that accepts real tensors (parameters built outside it)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=True)


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Move every parameter to the meta device as it is registered.

    For builders that compute hyperparameters with tensor ops (RegNet's `.tolist()`), which
    fail under `torch.device("meta")`: construction runs on CPU, and each parameter is
    allocated uninitialised, then replaced by a meta tensor before the next one exists.
    """
    original = nn.Module.register_parameter

    def register(self, name, param):
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    nn.Module.register_parameter = register  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


def build_meta(arch: Architecture, tiny: bool) -> nn.Module:
    """The model with every parameter and buffer on the meta device (no memory)."""
    try:
        with torch.device("meta"):
            return arch.build(tiny=tiny)
    except Exception as first:
        try:
            with _parameters_on_meta():
                model = arch.build(tiny=tiny)
        except Exception:
            raise first from None
        for mod in model.modules():
            for name, buf in list(mod._buffers.items()):
                if buf is not None and buf.device.type != "meta":
                    mod._buffers[name] = buf.to("meta")
        return model


def build_model(
    arch: Architecture, method: str, tiny: bool, real_max_params: int, fake: Any
) -> nn.Module:
    """The model for one counting method; the real-tensor fallback refuses oversized models."""
    if method == "meta":
        return build_meta(arch, tiny)
    if method == "fake":
        try:
            model = build_meta(arch, tiny)
        except Exception:
            with fake:
                return arch.build(tiny=tiny)
        with fake:
            model.to_empty(device="cpu")
        return model
    try:
        n = param_counts(build_meta(arch, tiny))[0]
    except Exception:
        n = 0
    if n > real_max_params:
        raise CountingError(
            f"{arch.name}: the CPU fallback would allocate {n / 1e6:,.0f}M parameters "
            f"(limit {real_max_params / 1e6:,.0f}M); raise real_max_params to allow it"
        )
    with torch.device("cpu"):
        return arch.build(tiny=tiny)


def make_batch(
    arch: Architecture, method: str, batch_size: int, size: int | None, tiny: bool, fake: Any
) -> Batch:
    """The example batch for one counting method (fake: made under the mode, or converted)."""
    if method == "meta":
        return arch.example_batch(batch_size, size=size, tiny=tiny, device="meta")
    if method == "fake":
        try:
            with fake:
                return arch.example_batch(batch_size, size=size, tiny=tiny, device="cpu")
        except Exception:
            real = arch.example_batch(batch_size, size=size, tiny=tiny, device="cpu")
            return map_tensors(real, fake.from_tensor)
    return arch.example_batch(batch_size, size=size, tiny=tiny, device="cpu")


def map_tensors(batch: Batch, fn: Callable[[torch.Tensor], Any]) -> Batch:
    """The batch with `fn` applied to every tensor in its args, kwargs and targets."""

    def m(o):
        if isinstance(o, torch.Tensor):
            return fn(o)
        if isinstance(o, tuple):
            return tuple(m(x) for x in o)
        if isinstance(o, list):
            return [m(x) for x in o]
        if isinstance(o, dict):
            return {k: m(v) for k, v in o.items()}
        return o

    return Batch(
        args=m(batch.args), kwargs=m(dict(batch.kwargs)), targets=m(batch.targets), size=batch.size
    )
