"""Unregistered Architecture specs for suite tests: a catalog that never touches the zoo."""

from __future__ import annotations

from torch import nn

from harness.arch.spec import Architecture, Batch, OptimizerSpec


def _build() -> nn.Module:
    return nn.Linear(4, 2)


def _batch(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
    raise AssertionError("suite tests never build batches")


def fake_architecture(
    name: str,
    *,
    domain: str = "vision",
    benchmark: str | None = "imagenet",
    tags: tuple[str, ...] = (),
) -> Architecture:
    return Architecture(
        name=name,
        domain=domain,
        task="classification",
        benchmark=benchmark,
        year=2020,
        builder=_build,
        tiny_builder=_build,
        batch_factory=_batch,
        loss_fn=lambda model, batch: model(batch.args[0]).sum(),
        optimizer=OptimizerSpec("sgd", 0.1),
        size_kind="resolution",
        default_size=224,
        tiny_size=32,
        tags=frozenset(tags),
        source="tests.fake_catalog",
    )


CATALOG = [
    fake_architecture("resnet18", tags=("paper",)),
    fake_architecture("resnet50", tags=("paper",)),
    fake_architecture("vit_b_16"),
    fake_architecture("fasterrcnn_resnet50_fpn", benchmark="coco", tags=("paper",)),
    fake_architecture("bert_base_squad", domain="nlp", benchmark="squad11"),
    fake_architecture("fake-ok", benchmark=None),
    fake_architecture("fake-raise", benchmark=None),
    fake_architecture("fake-hang", benchmark=None),
]
