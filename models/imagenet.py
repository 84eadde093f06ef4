"""ImageNet: every torchvision classification model that has weights metadata (80 in 0.29).

Each record is built with random weights at the resolution of its DEFAULT weights (the crop size
of their transforms: 224 for most, 299 for inception_v3, 384-600 for EfficientNets, 518 for
vit_h_14's SWAG weights, which the ViT class needs at construction). Reference top-1, published
GMACs (`_ops`) and parameter counts are torchvision's metadata (models/_vision_meta.py).

The training recipe is the one that produced those DEFAULT weights, found from their `recipe`
link: torchvision's reference scripts (references/classification/README.md and the pull requests
and issue it links), or, for weights ported from elsewhere, the original paper or trainer. One
exception, as in Thompson et al.: where the original paper's own run trained the same network on a
comparable schedule and reports its hardware (AlexNet, VGG, Inception-v3), the recipe is that
paper's run, with hardware and hours from harness/data/reference/imagenet.csv. The recipes are
data, in harness/data/recipes/imagenet.toml; every one carries its citation, and figures a source
does not give stay None.

Nothing here imports torchvision at import time: listing the zoo must stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from harness.arch.recipes import published_recipe
from harness.arch.registry import register
from harness.arch.spec import Architecture, LossFn, ReferenceMetric

from . import _vision_tiny as tiny
from ._vision_common import (
    GOOGLENET_AUX_CITATION,
    INCEPTION_V3_AUX_CITATION,
    classification_batch,
    cross_entropy_loss,
    eval_forward,
    googlenet_loss,
    inception_v3_loss,
    torchvision_builder,
    torchvision_citation,
)
from ._vision_meta import CLASSIFICATION, ClassificationMeta

# --------------------------------------------------------------------------------------------
# Families: paper, year, tiny variant
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    key: str
    year: int
    paper: str
    tiny: Callable[[str], nn.Module]
    tiny_size: int = 32


FAMILIES = {
    f.key: f
    for f in [
        Family(
            "alexnet",
            2012,
            "Krizhevsky, Sutskever & Hinton, NeurIPS 2012 (torchvision follows arXiv:1404.5997)",
            tiny.tiny_alexnet,
            64,
        ),
        Family("vgg", 2014, "Simonyan & Zisserman, arXiv:1409.1556", tiny.tiny_vgg),
        Family("resnet", 2015, "He et al., arXiv:1512.03385", tiny.tiny_resnet),
        Family("resnext", 2016, "Xie et al., arXiv:1611.05431", tiny.tiny_resnet),
        Family("wide_resnet", 2016, "Zagoruyko & Komodakis, arXiv:1605.07146", tiny.tiny_resnet),
        Family("densenet", 2016, "Huang et al., arXiv:1608.06993", tiny.tiny_densenet),
        Family("googlenet", 2014, "Szegedy et al., arXiv:1409.4842", tiny.tiny_googlenet),
        Family(
            "inception_v3", 2015, "Szegedy et al., arXiv:1512.00567", tiny.tiny_inception_v3, 75
        ),
        Family("squeezenet", 2016, "Iandola et al., arXiv:1602.07360", tiny.tiny_squeezenet),
        Family("shufflenet_v2", 2018, "Ma et al., arXiv:1807.11164", tiny.tiny_shufflenet),
        Family("mobilenet_v2", 2018, "Sandler et al., arXiv:1801.04381", tiny.tiny_mobilenet_v2),
        Family("mobilenet_v3", 2019, "Howard et al., arXiv:1905.02244", tiny.tiny_mobilenet_v3),
        Family("mnasnet", 2018, "Tan et al., arXiv:1807.11626", tiny.tiny_mnasnet),
        Family("efficientnet", 2019, "Tan & Le, arXiv:1905.11946", tiny.tiny_efficientnet),
        Family("efficientnet_v2", 2021, "Tan & Le, arXiv:2104.00298", tiny.tiny_efficientnet),
        Family("regnet", 2020, "Radosavovic et al., arXiv:2003.13678", tiny.tiny_regnet),
        Family("vit", 2020, "Dosovitskiy et al., arXiv:2010.11929", tiny.tiny_vit),
        Family("swin", 2021, "Liu et al., arXiv:2103.14030", tiny.tiny_swin),
        Family("swin_v2", 2021, "Liu et al., arXiv:2111.09883", tiny.tiny_swin),
        Family("convnext", 2022, "Liu et al., arXiv:2201.03545", tiny.tiny_convnext),
        Family("maxvit", 2022, "Tu et al., arXiv:2204.01697", tiny.tiny_maxvit),
    ]
}


def family_of(name: str) -> Family:
    """The family of a torchvision model name (longest matching family key)."""
    for key in sorted(FAMILIES, key=len, reverse=True):
        if name.startswith(key):
            return FAMILIES[key]
    raise KeyError(f"no family for torchvision model {name!r}")


def tiny_size_of(name: str) -> int:
    return tiny.TINY_VIT_SIZE.get(name, family_of(name).tiny_size)


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


def _build_kwargs(name: str, meta: ClassificationMeta) -> dict:
    if name.startswith("vit_"):
        return {"image_size": meta.crop}  # the position embedding is sized at construction
    if name == "googlenet":
        return {"aux_logits": True, "transform_input": False, "init_weights": True}
    if name == "inception_v3":
        return {"aux_logits": True, "transform_input": False, "init_weights": True}
    return {}


# torchvision.models.regnet's builders compute their block widths with tensors, which fails under
# `torch.device("meta")`; these are their arguments, so the widths are computed on the CPU first
# (the parameter-count test checks them against meta["num_params"]).
REGNET_PARAMS = {  # depth, w_0, w_a, w_m, group_width, se_ratio
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16, 0.25),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112, 0.25),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232, 0.25),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264, 0.25),
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, None),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16, None),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24, None),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, None),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120, None),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128, None),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None),
}


def build_regnet(name: str) -> nn.Module:
    """torchvision's RegNet `name` (as `_regnet` builds it), safe on the meta device."""
    import torch
    from torchvision.models.regnet import BlockParams, RegNet

    depth, w_0, w_a, w_m, group_width, se_ratio = REGNET_PARAMS[name]
    with torch.device("cpu"):
        params = BlockParams.from_init_params(
            depth=depth, w_0=w_0, w_a=w_a, w_m=w_m, group_width=group_width, se_ratio=se_ratio
        )
    return RegNet(params, norm_layer=partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))


def _loss(name: str) -> tuple[LossFn, str]:
    if name == "googlenet":
        return (
            googlenet_loss,
            f"cross-entropy + 0.3 x each of 2 auxiliary heads ({GOOGLENET_AUX_CITATION})",
        )
    if name == "inception_v3":
        return (
            inception_v3_loss,
            f"cross-entropy + 0.4 x auxiliary head ({INCEPTION_V3_AUX_CITATION})",
        )
    return cross_entropy_loss, "cross-entropy"


# Zoo networks whose architecture is a point of the paper's ImageNet data
# (harness/data/reference/imagenet.csv, the model column): `harness list --tag paper`, and
# what `harness compare --benchmark imagenet` picks from.
PAPER_NETWORKS = {
    "alexnet": "AlexNet (1 CNN)",
    "vgg16": "VGG-16 (config D, 1 net, multi-crop+dense)",
    "vgg19": "VGG-19 (config E, 1 net, multi-crop+dense)",
    "googlenet": "GoogLeNet / Inception-v1",
    "inception_v3": "Inception-v3 (single crop)",
    "resnet50": "ResNet-50 (10-crop)",
    "resnet101": "ResNet-101 (10-crop)",
    "resnet152": "ResNet-152 (10-crop)",
    "resnext101_64x4d": "ResNeXt-101 (64x4d), 224 crop",
    "mobilenet_v2": "MobileNet v2 1.0-224",
    **{
        f"efficientnet_b{i}": f"EfficientNet-B{i} ({px}px)"
        for i, px in enumerate((224, 240, 260, 300, 380, 456, 528, 600))
    },
    "efficientnet_v2_l": "EfficientNetV2-L (ImageNet-1K)",
    "vit_b_16": "DeiT-B (224px)",
}
# ViT-L/16 and ViT-H/14 are points too, but pretrained on JFT-300M; torchvision's weights (and
# so the zoo's reference metric) are another training's, so they are not tagged.
# `harness compare --benchmark imagenet` measures these by default: small to large compute
# (0.3 to 15.5 GMACs), on the trend, above it (efficientnet_b4) and below it (vgg16).
COMPARE_DEFAULT = ("mobilenet_v2", "resnet50", "efficientnet_b4", "vgg16")


def make_architecture(name: str, meta: ClassificationMeta) -> Architecture:
    fam = family_of(name)
    optimizer, recipe = published_recipe("imagenet", name)
    loss_fn, loss_name = _loss(name)
    builder = (
        partial(build_regnet, name)
        if name in REGNET_PARAMS
        else torchvision_builder(name, **_build_kwargs(name, meta))
    )
    return Architecture(
        name=name,
        domain="vision",
        task="classification",
        benchmark="imagenet",
        year=fam.year,
        builder=builder,
        tiny_builder=partial(fam.tiny, name),
        batch_factory=classification_batch,
        loss_fn=loss_fn,
        loss_name=loss_name,
        forward_fn=eval_forward,
        optimizer=optimizer,
        size_kind="resolution",
        default_size=meta.crop,
        tiny_size=tiny_size_of(name),
        reference=ReferenceMetric(
            "top1_acc",
            meta.top1,
            torchvision_citation(meta.weights, '_metrics["ImageNet-1K"]["acc@1"]', meta.recipe),
        ),
        recipe=recipe,
        published_params=meta.params,
        published_gmacs=meta.gmacs,
        published_source=torchvision_citation(
            meta.weights,
            f"num_params and _ops (GMACs at {meta.crop} px, batch 1, eval)",
            meta.recipe,
        ),
        family=fam.key,
        description=f"torchvision {name} ({fam.paper}), {meta.crop} px; tiny: {tiny.TINY_NOTES[fam.key]}",
        tags=frozenset(
            {"torchvision"}
            | ({"paper"} if name in PAPER_NETWORKS else set())
            | ({"compare"} if name in COMPARE_DEFAULT else set())
        ),
        source=__name__,
    )


ARCHITECTURES = [register(make_architecture(n, m)) for n, m in CLASSIFICATION.items()]
