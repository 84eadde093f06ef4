"""Detection batches for models/coco.py: synthetic COCO-like targets, the loss and the forward.

Targets are synthetic: 7 boxes per image (COCO train2017's mean), masks or keypoints where the
model needs them; the training loss is the sum of the model's loss dict in train mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from harness.arch.spec import Batch

from ._vision_common import ensure_eval, ensure_train

COCO_CLASSES = 91  # torchvision's COCO label space (80 used ids + background + gaps)
OBJECTS_PER_IMAGE = 7  # COCO train2017: 860,001 instances / 118,287 images = 7.3
OBJECTS_CITATION = "COCO train2017: 860,001 object instances in 118,287 images (7.3 per image)"
TINY_OBJECTS = 2
TINY_CLASSES = 5  # background + 4 (the tiny networks' label space)
KEYPOINTS = 17  # COCO person keypoints


def detection_batch_factory(kind: str) -> Callable[..., Batch]:
    """Images in [0, 1] and targets with valid boxes (x1 < x2, y1 < y2, inside the image),
    labels, and masks (kind "mask") or keypoints (kind "keypoint").

    Values are drawn on the generator's device and then moved, so `device="meta"` gives meta
    tensors of the right shapes.
    """

    def factory(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
        gdev = generator.device
        n = TINY_OBJECTS if tiny else OBJECTS_PER_IMAGE
        classes = TINY_CLASSES if tiny else COCO_CLASSES
        high = 2 if kind == "keypoint" else classes  # keypoints: person (1) only
        images, targets = [], []
        for _ in range(batch_size):
            images.append(
                torch.rand((3, size, size), generator=generator, device=gdev).to(device, dtype)
            )
            wh = size * (0.1 + 0.5 * torch.rand((n, 2), generator=generator, device=gdev))
            xy1 = (size - wh) * torch.rand((n, 2), generator=generator, device=gdev)
            boxes = torch.cat([xy1, xy1 + wh], dim=1)
            target = {
                "boxes": boxes.to(device, dtype),
                "labels": torch.randint(1, high, (n,), generator=generator, device=gdev).to(device),
            }
            if kind == "mask":
                ys = torch.arange(size, device=gdev).view(1, size, 1)
                xs = torch.arange(size, device=gdev).view(1, 1, size)
                b = boxes.view(n, 4, 1, 1)
                inside = (xs >= b[:, 0]) & (xs < b[:, 2]) & (ys >= b[:, 1]) & (ys < b[:, 3])
                target["masks"] = inside.to(torch.uint8).to(device)
            if kind == "keypoint":
                u = torch.rand((n, KEYPOINTS, 2), generator=generator, device=gdev)
                xy = xy1.view(n, 1, 2) + u * wh.view(n, 1, 2)
                visible = torch.full(
                    (n, KEYPOINTS, 1), 2.0, device=gdev
                )  # COCO v=2: labelled, visible
                target["keypoints"] = torch.cat([xy, visible], dim=2).to(device, dtype)
            targets.append(target)
        return Batch(args=(images,), kwargs={}, targets=targets, size=batch_size)

    return factory


def detection_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Train mode: the model returns its loss dict for (images, targets); the loss is its sum."""
    ensure_train(model)
    losses = model(*batch.args, batch.targets, **batch.kwargs)
    return sum(losses.values())


def detection_forward(model: nn.Module, batch: Batch) -> Any:
    """Eval-mode inference on the list of images: boxes, labels, scores (and masks/keypoints)."""
    ensure_eval(model)
    return model(*batch.args, **batch.kwargs)
