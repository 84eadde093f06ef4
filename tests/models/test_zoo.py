"""Every registered architecture (vision, NLP, examples) trains one step on CPU in its tiny form.

Generated from the registry, so an architecture added anywhere in `models/` is covered: its tiny
variant builds, its example batch feeds one training-mode forward, the loss is a finite scalar,
backward reaches the parameters, `forward()` runs in eval mode, and the optimizer of its recipe
takes a step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import torch

from harness.arch.registry import list_architectures
from harness.arch.spec import Architecture

ARCHS = list_architectures()


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # tiny networks: one intra-op thread is faster than two on a shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tensors(out: Any) -> Iterator[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, Mapping):
        for v in out.values():
            yield from _tensors(v)
    elif isinstance(out, (list, tuple)):
        for v in out:
            yield from _tensors(v)
    elif hasattr(out, "to_tuple"):
        yield from _tensors(out.to_tuple())


def test_registry_is_not_empty():
    assert len(ARCHS) >= 100  # 80 ImageNet + 12 COCO from torchvision alone, plus NLP


@pytest.mark.parametrize("arch", ARCHS, ids=[a.name for a in ARCHS])
def test_tiny_variant_trains_one_step(arch: Architecture):
    torch.manual_seed(0)
    model = arch.build(tiny=True)
    batch = arch.example_batch(2, tiny=True, seed=0)
    assert batch.size == 2

    loss = arch.training_loss(model, batch)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0, f"loss is not a scalar: {loss!r}"
    assert math.isfinite(loss.item()), f"{arch.name}: loss {loss.item()}"

    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads, f"{arch.name}: no parameter received a gradient"
    assert any(g.abs().sum().item() > 0 for g in grads), f"{arch.name}: all gradients are zero"

    model.eval()
    with torch.no_grad():
        out = arch.forward(model, batch)
    tensors = list(_tensors(out))
    assert tensors, f"{arch.name}: forward() returned no tensor ({type(out).__name__})"
    for t in tensors:
        if t.is_floating_point():
            assert torch.isfinite(t).all(), f"{arch.name}: non-finite inference output"

    # the recipe's optimizer accepts the parameters and its options (one step, published lr)
    optimizer = arch.optimizer.build([p for p in model.parameters() if p.requires_grad])
    optimizer.step()


@pytest.mark.parametrize("arch", ARCHS, ids=[a.name for a in ARCHS])
def test_example_batch_on_meta_device(arch: Architecture):
    """Counting runs on the meta device: the batch factory must make meta tensors there."""
    batch = arch.example_batch(2, tiny=True, device="meta")
    tensors = list(_tensors((batch.args, dict(batch.kwargs), batch.targets)))
    assert tensors and all(t.is_meta for t in tensors)
