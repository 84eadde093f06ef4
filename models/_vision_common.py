"""Pieces shared by the vision zoo (models/imagenet.py, models/coco.py); registers nothing.

- the torchvision citation used by every vision record;
- the classification batch, losses (with the auxiliary heads of GoogLeNet and Inception-v3) and
  the eval-mode forward;
- `meta_skeleton`: build a torchvision class on the meta device and swap in small real parts,
  which is how tiny variants of families without width arguments (AlexNet, VGG, GoogLeNet) are
  made from torchvision's own classes without allocating the full-size network first.

torchvision is imported inside functions only: importing it costs seconds, and `harness list`
imports every zoo module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from harness.arch.spec import Batch, random_float, random_int
from harness.errors import ConfigurationError

from ._vision_meta import TORCHVISION_VERSION


def torchvision_citation(weights: str, what: str, recipe: str) -> str:
    """The citation of a figure read from a torchvision weights' metadata."""
    return f"torchvision {TORCHVISION_VERSION} {weights}.meta {what} (recipe: {recipe})"


# --------------------------------------------------------------------------------------------
# Batches, losses, forward
# --------------------------------------------------------------------------------------------

IMAGENET_CLASSES = 1000
TINY_CLASSES = 10


def classification_batch(
    batch_size: int,
    size: int,
    *,
    tiny: bool,
    device: torch.device | str,
    dtype: torch.dtype,
    generator: torch.Generator,
) -> Batch:
    """Normalised images (B, 3, R, R) and integer class targets (1000 classes; 10 when tiny)."""
    classes = TINY_CLASSES if tiny else IMAGENET_CLASSES
    images = random_float((batch_size, 3, size, size), dtype, device, generator)
    labels = random_int(classes, (batch_size,), device, generator)
    return Batch(args=(images,), kwargs={}, targets=labels, size=batch_size)


def ensure_train(model: nn.Module) -> None:
    """Training mode if not already (checks the root only: cheap inside a timed step)."""
    if not model.training:
        model.train()


def ensure_eval(model: nn.Module) -> None:
    if model.training:
        model.eval()


def cross_entropy_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    ensure_train(model)
    logits = model(*batch.args, **batch.kwargs)
    return F.cross_entropy(logits, batch.targets)


GOOGLENET_AUX_WEIGHT = 0.3
GOOGLENET_AUX_CITATION = (
    "Szegedy et al., Going Deeper with Convolutions, arXiv:1409.4842, Sec. 5: the losses of the "
    "auxiliary classifiers are added to the total loss with a discount weight of 0.3"
)
INCEPTION_V3_AUX_WEIGHT = 0.4
INCEPTION_V3_AUX_CITATION = (
    "TF-Slim train_image_classifier.py (github.com/tensorflow/models research/slim): "
    "softmax_cross_entropy on end_points['AuxLogits'] with weights=0.4; the Inception-v3 paper "
    "(arXiv:1512.00567) uses one auxiliary classifier but states no loss weight"
)


def googlenet_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy of the main head + 0.3 x each of the two auxiliary heads (train mode)."""
    ensure_train(model)
    out = model(*batch.args, **batch.kwargs)  # GoogLeNetOutputs(logits, aux_logits2, aux_logits1)
    y = batch.targets
    loss = F.cross_entropy(out.logits, y)
    for aux in (out.aux_logits1, out.aux_logits2):
        if aux is not None:
            loss = loss + GOOGLENET_AUX_WEIGHT * F.cross_entropy(aux, y)
    return loss


def inception_v3_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy of the main head + 0.4 x the auxiliary head (train mode)."""
    if batch.size < 2:
        raise ConfigurationError(
            "inception_v3 trains with a batch of at least 2: its auxiliary head batch-normalises "
            "a 1x1 feature map, which needs more than one value per channel; use --batch 2"
        )
    ensure_train(model)
    out = model(*batch.args, **batch.kwargs)  # InceptionOutputs(logits, aux_logits)
    loss = F.cross_entropy(out.logits, batch.targets)
    if out.aux_logits is not None:
        loss = loss + INCEPTION_V3_AUX_WEIGHT * F.cross_entropy(out.aux_logits, batch.targets)
    return loss


def eval_forward(model: nn.Module, batch: Batch) -> Any:
    """Inference: eval mode (auxiliary heads off, BatchNorm on running statistics)."""
    ensure_eval(model)
    return model(*batch.args, **batch.kwargs)


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def torchvision_builder(name: str, **kwargs: Any) -> Callable[[], nn.Module]:
    """A builder for `torchvision.models.get_model(name, weights=None, **kwargs)` (no download)."""

    def build() -> nn.Module:
        from torchvision.models import get_model

        with quiet_warnings():
            return get_model(name, weights=None, **kwargs)

    build.__name__ = f"build_{name}"
    build.__doc__ = f"torchvision {name}, random weights"
    return build


def meta_skeleton(
    factory: Callable[[], nn.Module],
    parts: Mapping[str, nn.Module] | Callable[[nn.Module], Mapping[str, nn.Module]],
) -> nn.Module:
    """`factory()` built on the meta device (allocates nothing), then `parts` swapped in.

    `parts` maps attribute names to modules, or is a function of the skeleton returning that
    mapping (to use the class's own layer builders); the parts are made on the caller's default
    device. Every submodule left in place must hold no tensors, or the result would keep meta
    tensors (checked).
    """
    caller_on_meta = torch.get_default_device().type == "meta"
    with torch.device("meta"):
        model = factory()
    for name, part in (parts(model) if callable(parts) else parts).items():
        setattr(model, name, part)
    if not caller_on_meta:
        left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
        if left:
            raise RuntimeError(f"{type(model).__name__} skeleton kept meta tensors: {left[:3]}")
    return model
