"""Which modules are running now: the per-module attribution of a count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn


class ModuleTracker:
    """Which modules are running now, forward (global module hooks) and backward (multi-grad
    hooks on each module's outputs and inputs). Names are paths from the root ('' = root)."""

    def __init__(self, root: nn.Module | None) -> None:
        self.names: dict[int, str] = {}
        if root is not None:
            for name, mod in root.named_modules(remove_duplicate=False):
                self.names.setdefault(id(mod), name)
        self.active: Counter[str] = Counter()
        self._handles: list[Any] = []
        self._grad_handles: list[Any] = []

    def __enter__(self) -> ModuleTracker:
        from torch.nn.modules.module import (
            register_module_forward_hook,
            register_module_forward_pre_hook,
        )

        self._handles = [
            register_module_forward_pre_hook(self._pre),
            register_module_forward_hook(self._post),
        ]
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles + self._grad_handles:
            h.remove()
        self._handles, self._grad_handles = [], []
        self.active.clear()

    def reset(self) -> None:
        self.active.clear()

    def _enter(self, name: str) -> None:
        self.active[name] += 1

    def _leave(self, name: str) -> None:
        if self.active.get(name, 0) > 0:
            self.active[name] -= 1
            if not self.active[name]:
                del self.active[name]

    def _grad_hook(self, tensors: Any, fn: Any) -> None:
        from torch.autograd.graph import register_multi_grad_hook

        flat = [t for t in flatten(tensors) if isinstance(t, torch.Tensor) and t.requires_grad]
        if flat and torch.is_grad_enabled():
            self._grad_handles.append(register_multi_grad_hook(flat, fn))

    def _pre(self, mod: nn.Module, inputs: Any) -> None:
        name = self.names.get(id(mod))
        if name is None:
            return
        self._enter(name)
        self._grad_hook(inputs, lambda grads, n=name: self._leave(n))

    def _post(self, mod: nn.Module, inputs: Any, output: Any) -> None:
        name = self.names.get(id(mod))
        if name is None:
            return
        self._leave(name)
        self._grad_hook(output, lambda grads, n=name: self._enter(n))


def flatten(obj: Any) -> Iterator[Any]:
    """Every leaf of nested lists, tuples, mappings and transformers outputs, in order."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from flatten(o)
    elif isinstance(obj, Mapping):
        for o in obj.values():
            yield from flatten(o)
    elif hasattr(obj, "to_tuple"):  # transformers ModelOutput
        yield from flatten(obj.to_tuple())
