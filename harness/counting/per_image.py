"""Detectors counted on one image and scaled to the batch.

torchvision's detectors (Faster/Mask/Keypoint R-CNN, RetinaNet, FCOS, SSD) take a list of
images and process each on its own: the transform resizes every image to the same size, the
backbone is a batched convolution, proposals, sampling, NMS and the heads are per image. So a
batch of B costs B times one image when every image costs the same, which holds for the
synthetic batches (their random images keep the proposal and sampling budgets full); the
counts of the zoo's detectors at batch 2 equal twice their count at batch 1. Their
data-dependent operators (nonzero, NMS) rule out meta and fake tensors, so they are counted on
real CPU tensors; one image instead of B makes that B times faster.

The optimizer step does not depend on the batch and is not scaled; call counts (uncounted
operators, causal calls) are those of the one image.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from torch import nn

from harness.arch.spec import Architecture
from harness.counting.methods import MethodRun

SCALED_PHASES = ("inference", "forward", "backward")


def is_per_image_detector(arch: Architecture) -> bool:
    """A detection architecture (the model is checked after the probe: `takes_image_lists`)."""
    return arch.task == "detection"


def takes_image_lists(model: nn.Module) -> bool:
    """torchvision's detection models: images go through a GeneralizedRCNNTransform."""
    try:
        from torchvision.models.detection.transform import GeneralizedRCNNTransform
    except ImportError:
        return False
    return isinstance(getattr(model, "transform", None), GeneralizedRCNNTransform)


def scale_to_batch(run: MethodRun, batch_size: int) -> MethodRun:
    """The one-image run as the batch of `batch_size` (see the module docstring)."""
    c = run.counter
    for table in (c.macs, c.other, c.module_macs, c.sdpa_macs):
        for phase in SCALED_PHASES:
            if phase in table:
                table[phase] = Counter({k: v * batch_size for k, v in table[phase].items()})
    note = (
        f"counted on one image and scaled to the batch of {batch_size}: the detector processes "
        "each image on its own, and every image of the synthetic batch costs the same"
    )
    return replace(run, batch=replace(run.batch, size=batch_size), notes=[*run.notes, note])
