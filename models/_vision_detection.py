"""Full-size detection networks for models/coco.py: the networks torchvision's recipes trained.

Built with random weights and no download. torchvision's builders, given ImageNet backbone
weights (as every v1 recipe was trained), put FrozenBatchNorm2d in the backbone and freeze its
first stages (`trainable_backbone_layers=3`); with `weights_backbone=None` they build plain
BatchNorm2d and train every layer, a different network (53,120 more parameters for ResNet-50 and
a larger backward pass). So the v1 models are built here exactly as those builders build them for
a pretrained backbone, from torchvision's own pieces; their parameter counts then equal
`meta["num_params"]`. The v2 Faster/Mask R-CNN and SSDlite recipes trained from scratch, so
torchvision's public builder with `weights=None, weights_backbone=None` already is that network.

Tiny variants are in models/_vision_detection_tiny.py; batches, loss and forward in
models/_vision_detection_targets.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from torch import nn

from ._vision_common import quiet_warnings

# --------------------------------------------------------------------------------------------
# Full size, as trained
# --------------------------------------------------------------------------------------------


def _resnet50_fpn(frozen_bn: bool, trainable: int, **fpn: Any) -> nn.Module:
    from torchvision.models import resnet50
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops import misc

    norm = misc.FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
    return _resnet_fpn_extractor(resnet50(weights=None, norm_layer=norm), trainable, **fpn)


def build_fasterrcnn_resnet50_fpn() -> nn.Module:
    from torchvision.models.detection import FasterRCNN

    return FasterRCNN(_resnet50_fpn(True, 3), num_classes=91)


def build_maskrcnn_resnet50_fpn() -> nn.Module:
    from torchvision.models.detection import MaskRCNN

    return MaskRCNN(_resnet50_fpn(True, 3), num_classes=91)


def build_keypointrcnn_resnet50_fpn() -> nn.Module:
    from torchvision.models.detection import KeypointRCNN

    return KeypointRCNN(_resnet50_fpn(True, 3), num_classes=2, num_keypoints=17)


def build_retinanet_resnet50_fpn() -> nn.Module:
    from torchvision.models.detection import RetinaNet
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    backbone = _resnet50_fpn(
        True, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256)
    )
    return RetinaNet(backbone, 91)


def build_retinanet_resnet50_fpn_v2() -> nn.Module:
    # trained with --weights-backbone ResNet50_Weights.IMAGENET1K_V2 (PR #5756): BatchNorm2d
    # backbone, three trainable stages, GroupNorm head, GIoU box loss
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection.retinanet import RetinaNetHead, _default_anchorgen
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    backbone = _resnet50_fpn(
        False, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(2048, 256)
    )
    anchors = _default_anchorgen()
    head = RetinaNetHead(
        backbone.out_channels,
        anchors.num_anchors_per_location()[0],
        91,
        norm_layer=partial(nn.GroupNorm, 32),
    )
    head.regression_head._loss_type = "giou"
    return RetinaNet(backbone, 91, anchor_generator=anchors, head=head)


def build_fcos_resnet50_fpn() -> nn.Module:
    from torchvision.models.detection import FCOS
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    backbone = _resnet50_fpn(
        True, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256)
    )
    return FCOS(backbone, 91)


MOBILENET_320_DEFAULTS = {
    "min_size": 320,
    "max_size": 640,
    "rpn_pre_nms_top_n_test": 150,
    "rpn_post_nms_top_n_test": 150,
    "rpn_score_thresh": 0.05,
}


def _build_fasterrcnn_mobilenet(**defaults: Any) -> nn.Module:
    from torchvision.models import mobilenet_v3_large
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import _mobilenet_extractor
    from torchvision.ops import misc

    backbone = mobilenet_v3_large(weights=None, norm_layer=misc.FrozenBatchNorm2d)
    backbone = _mobilenet_extractor(backbone, True, 3)
    anchor_sizes = ((32, 64, 128, 256, 512),) * 3
    anchors = AnchorGenerator(anchor_sizes, ((0.5, 1.0, 2.0),) * len(anchor_sizes))
    return FasterRCNN(backbone, 91, rpn_anchor_generator=anchors, **defaults)


build_fasterrcnn_mobilenet_v3_large_fpn = partial(
    _build_fasterrcnn_mobilenet, rpn_score_thresh=0.05
)
build_fasterrcnn_mobilenet_v3_large_320_fpn = partial(
    _build_fasterrcnn_mobilenet, **MOBILENET_320_DEFAULTS
)


def build_ssd300_vgg16() -> nn.Module:
    # trained with --weights-backbone VGG16_Weights.IMAGENET1K_FEATURES: 4 of 5 stages trainable.
    # Only VGG-16's convolutional part is built (torchvision's builder makes and drops the 124M
    # parameter classifier).
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD, _vgg_extractor
    from torchvision.models.vgg import cfgs, make_layers

    vgg = nn.Module()
    vgg.features = make_layers(cfgs["D"], batch_norm=False)
    backbone = _vgg_extractor(vgg, False, 4)
    anchors = DefaultBoxGenerator(
        [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
        steps=[8, 16, 32, 64, 100, 300],
    )
    return SSD(
        backbone,
        anchors,
        (300, 300),
        91,
        image_mean=[0.48235, 0.45882, 0.40784],
        image_std=[1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0],
    )


def public_builder(name: str) -> Callable[[], nn.Module]:
    """torchvision's own builder with no weights (the recipes that trained from scratch)."""

    def build() -> nn.Module:
        from torchvision.models import get_model

        with quiet_warnings():
            return get_model(name, weights=None, weights_backbone=None)

    build.__name__ = f"build_{name}"
    return build


FULL_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "fasterrcnn_resnet50_fpn": build_fasterrcnn_resnet50_fpn,
    "fasterrcnn_resnet50_fpn_v2": public_builder("fasterrcnn_resnet50_fpn_v2"),
    "fasterrcnn_mobilenet_v3_large_fpn": build_fasterrcnn_mobilenet_v3_large_fpn,
    "fasterrcnn_mobilenet_v3_large_320_fpn": build_fasterrcnn_mobilenet_v3_large_320_fpn,
    "retinanet_resnet50_fpn": build_retinanet_resnet50_fpn,
    "retinanet_resnet50_fpn_v2": build_retinanet_resnet50_fpn_v2,
    "fcos_resnet50_fpn": build_fcos_resnet50_fpn,
    "ssd300_vgg16": build_ssd300_vgg16,
    "ssdlite320_mobilenet_v3_large": public_builder("ssdlite320_mobilenet_v3_large"),
    "maskrcnn_resnet50_fpn": build_maskrcnn_resnet50_fpn,
    "maskrcnn_resnet50_fpn_v2": public_builder("maskrcnn_resnet50_fpn_v2"),
    "keypointrcnn_resnet50_fpn": build_keypointrcnn_resnet50_fpn,
}
