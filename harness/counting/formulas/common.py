"""What every formula shares: the `Cost` it returns, its options, and argument readers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch


class Cost(NamedTuple):
    """MACs (matmul-class) and other FLOPs of one call; `tag` marks special cases (causal)."""

    macs: int = 0
    other: int = 0
    tag: str | None = None


@dataclass(frozen=True)
class FormulaOptions:
    causal_half: bool = False  # halve is_causal attention (FlashAttention/Megatron convention)
    attention_recompute: bool = False  # add the QK^T recompute of fused attention backward


Formula = Callable[[Sequence[Any], dict, Any, FormulaOptions], Cost]

ZERO = Cost()


def arg(args: Sequence[Any], kwargs: dict, i: int, name: str, default: Any = None) -> Any:
    """Argument `i` (or keyword `name`); trailing defaults are omitted by the dispatcher."""
    if i < len(args):
        return args[i]
    return kwargs.get(name, default)


def shape_of(t: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


def numel_of(t: Any) -> int:
    if isinstance(t, torch.Tensor):
        return int(t.numel())
    if isinstance(t, (list, tuple)):
        return sum(numel_of(x) for x in t)
    return 0


def first_tensor(out: Any) -> Any:
    while isinstance(out, (list, tuple)) and out:
        out = out[0]
    return out


def out_numel(out: Any) -> int:
    first = first_tensor(out)
    return int(first.numel()) if isinstance(first, torch.Tensor) else 0


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def prod(xs: Sequence[int]) -> int:
    return math.prod(int(x) for x in xs)
