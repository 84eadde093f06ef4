"""How to add an architecture in one file: ConvMixer (Trockman & Kolter, arXiv:2201.09792).

Copy this file (into `models/` to join the zoo, or anywhere else and pass `path/to/file.py:name`)
and change the builder, the batch and the metadata. A decorated builder is all it takes:

    harness info convmixer_768_32
    harness flops convmixer_768_32
    harness compare convmixer_768_32 --benchmark imagenet

A plain function returning an nn.Module works too, with the input given on the command line:

    harness compare path/to/file.py:build_convmixer --input-shape 1,3,224,224
"""

from __future__ import annotations

import torch
from torch import nn

from harness.arch import (
    Batch,
    OptimizerSpec,
    ReferenceMetric,
    TrainingRecipe,
    architecture,
    random_float,
    random_int,
)

CITATION = "Trockman & Kolter, Patches Are All You Need?, arXiv:2201.09792, Table 1"


class Residual(nn.Module):
    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


def build_convmixer(
    dim: int = 768,
    depth: int = 32,
    kernel_size: int = 7,
    patch_size: int = 7,
    num_classes: int = 1000,
    activation: type[nn.Module] = nn.ReLU,  # the released 768/32 uses ReLU, the paper's others GELU
) -> nn.Module:
    """ConvMixer-h/d: a patch embedding, then d blocks of depthwise and pointwise convolutions."""

    def act_bn(conv: nn.Module) -> nn.Sequential:
        return nn.Sequential(conv, activation(), nn.BatchNorm2d(dim))

    blocks = [
        nn.Sequential(
            Residual(act_bn(nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same"))),
            act_bn(nn.Conv2d(dim, dim, kernel_size=1)),
        )
        for _ in range(depth)
    ]
    return nn.Sequential(
        act_bn(nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)),
        *blocks,
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(dim, num_classes),
    )


def _images_and_labels(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
    classes = 10 if tiny else 1000
    images = random_float((batch_size, 3, size, size), dtype, device, generator)
    labels = random_int(classes, (batch_size,), device, generator)
    return Batch(args=(images,), kwargs={}, targets=labels, size=batch_size)


def _cross_entropy(model: nn.Module, batch: Batch) -> torch.Tensor:
    return nn.functional.cross_entropy(model(*batch.args), batch.targets)


@architecture(
    name="convmixer_768_32",
    domain="vision",
    task="classification",
    benchmark="imagenet",
    year=2022,
    family="convmixer",
    tiny_builder=lambda: build_convmixer(
        dim=32, depth=2, kernel_size=3, patch_size=4, num_classes=10
    ),
    batch_factory=_images_and_labels,
    loss_fn=_cross_entropy,
    optimizer=OptimizerSpec(
        "adamw",
        0.01,
        {"weight_decay": 0.05},
        citation=f"{CITATION}: AdamW, 300 epochs (timm recipe)",
    ),
    size_kind="resolution",
    default_size=224,
    tiny_size=32,
    reference=ReferenceMetric("top1_acc", 80.16, citation=CITATION),
    recipe=TrainingRecipe(
        epochs=300,
        examples_per_epoch=1_281_167,
        batch_size=None,  # not restated here: projections use the measured batch
        citation=f"{CITATION} (300 epochs); hardware not stated in the table",
    ),
    published_params=21_100_000,  # "21.1M" in the paper; this builder counts 21,110,248
    published_source=CITATION,
    tags=frozenset({"example"}),
)
def convmixer_768_32() -> nn.Module:
    """ConvMixer-768/32 (patch 7, kernel 7): the example of a user-added architecture."""
    return build_convmixer()
