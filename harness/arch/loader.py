"""Architectures from outside the zoo: `path/to/file.py:name`, and plain `nn.Module` factories.

Files are imported with `harness.user_files.import_python_file`, the harness's one way of
importing a Python file named by path.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from harness.arch.spec import (
    Architecture,
    Batch,
    BatchFactory,
    OptimizerSpec,
    random_float,
    random_int,
)
from harness.errors import ArchitectureLoadError
from harness.user_files import exit_error, import_python_file

# --------------------------------------------------------------------------------------------
# `path/to/file.py:name`
# --------------------------------------------------------------------------------------------


def load_file_reference(
    spec: str,
    *,
    input_shape: Sequence[int] | None = None,
    seq_len: int | None = None,
    vocab: int | None = None,
) -> Architecture:
    """The Architecture `path/to/file.py:name` names: an Architecture, or a module factory."""
    path_str, _, attr = spec.rpartition(":")
    path = Path(path_str).expanduser()
    module = import_python_file(path, what=spec)
    if not hasattr(module, attr):
        names = [n for n in vars(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ArchitectureLoadError(f"{spec}: {path} has no attribute {attr!r}{hint}")
    obj = getattr(module, attr)
    if isinstance(obj, Architecture):
        return replace(obj, source=str(path))
    if not callable(obj):
        raise ArchitectureLoadError(
            f"{spec}: {attr!r} is a {type(obj).__name__}, not an Architecture or a function "
            "returning an nn.Module"
        )
    return architecture_from_module_factory(
        obj,
        name=f"{path.stem}:{attr}",
        input_shape=input_shape,
        seq_len=seq_len,
        vocab=vocab,
        source=str(path),
    )


# --------------------------------------------------------------------------------------------
# Plain `() -> nn.Module` factories
# --------------------------------------------------------------------------------------------


def architecture_from_module_factory(
    factory: Callable[[], nn.Module],
    *,
    name: str,
    input_shape: Sequence[int] | None = None,
    seq_len: int | None = None,
    vocab: int | None = None,
    source: str = "",
) -> Architecture:
    """Wrap a plain `() -> nn.Module` in an Architecture with a generic batch and loss.

    The loss is cross-entropy when the output looks like class logits (N, C) or token logits
    (N, L, V) against random targets, and the mean square of the output otherwise; the
    optimizer is SGD (momentum 0.9). Both are stated in the record's `loss` and `optimizer`.
    """
    batch_factory, size_kind, default_size = _generic_batch(name, input_shape, seq_len, vocab)
    build = _checked_builder(factory, name, source)
    return Architecture(
        name=name,
        domain="custom",
        task="custom",
        benchmark=None,
        year=None,
        builder=build,
        tiny_builder=build,
        batch_factory=batch_factory,
        loss_fn=generic_loss,
        loss_name="cross-entropy on logits, else mean square (generic)",
        optimizer=OptimizerSpec("sgd", 0.1, {"momentum": 0.9}, citation="harness default"),
        size_kind=size_kind,
        default_size=default_size,
        tiny_size=default_size,
        source=source,
        description="user-supplied nn.Module factory",
    )


def _checked_builder(
    factory: Callable[[], nn.Module], name: str, source: str = ""
) -> Callable[[], nn.Module]:
    """`factory`, with a one-line error when it fails, exits or returns something else."""

    def checked_build() -> nn.Module:
        try:
            model = factory()
        except SystemExit as exc:  # not the harness's exit: a clear error instead
            raise exit_error(name, source or name, exc, "building the network") from None
        except Exception as exc:
            raise ArchitectureLoadError(
                f"{name}: calling the factory failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(model, nn.Module):
            raise ArchitectureLoadError(
                f"{name}: the factory returned a {type(model).__name__}, not an nn.Module"
            )
        return model

    return checked_build


def _generic_batch(
    name: str,
    input_shape: Sequence[int] | None,
    seq_len: int | None,
    vocab: int | None,
) -> tuple[BatchFactory, str, int]:
    """(batch factory, size kind, default size) of a plain factory's input.

    `input_shape` alone: a float tensor of that shape, its N replaced by the batch size (size
    kind "resolution", the last dimension). With `vocab`: token ids of that shape in 0..V-1;
    with `seq_len` and no `vocab`: a float sequence (N, L, ...) whose L is the sequence length;
    both are labelled "seq_len", and the count's size replaces L. `seq_len` and `vocab` alone:
    token ids (N, L).
    """
    if input_shape is None and seq_len is None:
        raise ArchitectureLoadError(
            f"{name}: a plain function needs --input-shape N,C,H,W (float input) or "
            "--seq-len L --vocab V (token ids) to make its example batch"
        )
    if input_shape is None and vocab is None:
        raise ArchitectureLoadError(f"{name}: --seq-len needs --vocab V (the token-id range)")
    if vocab is not None and vocab < 1:
        raise ArchitectureLoadError(f"{name}: --vocab must be at least 1, got {vocab}")
    if input_shape is None:
        return _token_batch(int(vocab), ()), "seq_len", int(seq_len)  # type: ignore[arg-type]
    shape = tuple(int(s) for s in input_shape)
    if len(shape) < 2 or any(s < 1 for s in shape):
        raise ArchitectureLoadError(f"{name}: --input-shape must be N,... with positive sizes")
    if vocab is not None:  # token ids (N, ..., L): the last dimension is the sequence
        _same_length(name, seq_len, shape[-1], "last")
        return _token_batch(vocab, shape[1:-1]), "seq_len", shape[-1]
    if seq_len is not None:  # a float sequence (N, L, ...)
        _same_length(name, seq_len, shape[1], "second")
        return _float_batch(shape[2:], at=1), "seq_len", shape[1]
    return _float_batch(shape[1:], at=None), "resolution", shape[-1]


def _same_length(name: str, seq_len: int | None, dim: int, which: str) -> None:
    if seq_len is not None and seq_len != dim:
        raise ArchitectureLoadError(
            f"{name}: --seq-len {seq_len} contradicts the {which} dimension of --input-shape "
            f"({dim}); give one length (with --vocab V the input is token ids)"
        )


def _token_batch(vocab: int, middle: tuple[int, ...]) -> BatchFactory:
    def token_batch(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
        ids = random_int(vocab, (batch_size, *middle, size), device, generator)
        return Batch(args=(ids,), kwargs={}, targets=None, size=batch_size)

    return token_batch


def _float_batch(rest: tuple[int, ...], *, at: int | None) -> BatchFactory:
    """Float input (N, *rest); with `at=1`, the size is inserted as dimension 1 (N, L, *rest)."""

    def float_batch(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
        shape = (batch_size, *rest) if at is None else (batch_size, size, *rest)
        x = random_float(shape, dtype, device, generator)
        return Batch(args=(x,), kwargs={}, targets=None, size=batch_size)

    return float_batch


def generic_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy against fixed random targets for logits-like output, else mean square."""
    out = _first_tensor(model(*batch.args, **batch.kwargs))
    if out.is_floating_point() and out.dim() in (2, 3) and out.shape[-1] > 1:
        gen = torch.Generator(device="cpu").manual_seed(0)
        classes = out.shape[-1]
        tgt = torch.randint(0, classes, out.shape[:-1], generator=gen).to(out.device)
        return nn.functional.cross_entropy(out.reshape(-1, classes).float(), tgt.reshape(-1))
    return out.float().pow(2).mean()


def _first_tensor(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        for key in ("logits", "loss", "out"):
            if key in out and isinstance(out[key], torch.Tensor):
                return out[key]
        out = list(out.values())
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    if isinstance(out, (list, tuple)):
        for o in out:
            try:
                return _first_tensor(o)
            except TypeError:
                continue
    raise TypeError(f"model output of type {type(out).__name__} holds no tensor")
