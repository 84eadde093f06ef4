"""Detection networks for models/coco.py: full-size builders, tiny builders, batch, loss, forward.

Full size: the network that torchvision's recipe trained, with random weights and no download.
torchvision's builders, given ImageNet backbone weights (as every v1 recipe was trained), put
FrozenBatchNorm2d in the backbone and freeze its first stages (`trainable_backbone_layers=3`);
with `weights_backbone=None` they build plain BatchNorm2d and train every layer, a different
network (53,120 more parameters for ResNet-50 and a larger backward pass). So the v1 models are
built here exactly as those builders build them for a pretrained backbone, from torchvision's own
pieces; their parameter counts then equal `meta["num_params"]`. The v2 Faster/Mask R-CNN and
SSDlite recipes trained from scratch, so torchvision's public builder with
`weights=None, weights_backbone=None` already is that network.

Tiny: the same detector classes, heads and losses with a ResNet / MobileNetV3 / VGG-style backbone
of a few thousand to a few hundred thousand parameters, a 32-channel FPN, 64 px images and few
proposals, so a training step runs in a fraction of a second on a CPU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from harness.arch.spec import Batch

from ._vision_common import ensure_eval, ensure_train, quiet_warnings
from ._vision_tiny import _tiny_mnv3_setting, tiny_resnet

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

# --------------------------------------------------------------------------------------------
# Tiny
# --------------------------------------------------------------------------------------------

TINY_SIZE = 64
TINY_CLASSES = 5  # background + 4
TINY_FPN = 32
KEYPOINTS = 17  # COCO person keypoints
_TINY_RCNN = {  # fewer proposals and sampled boxes than the defaults (2000/1000, 512 RoIs)
    "min_size": TINY_SIZE,
    "max_size": TINY_SIZE,
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 100,
    "rpn_pre_nms_top_n_test": 100,
    "rpn_post_nms_top_n_test": 50,
    "rpn_batch_size_per_image": 64,
    "box_batch_size_per_image": 64,
    "box_detections_per_img": 20,
}
_TINY_ONE_STAGE = {
    "min_size": TINY_SIZE,
    "max_size": TINY_SIZE,
    "topk_candidates": 100,
    "detections_per_img": 20,
}


def _tiny_resnet_fpn(
    frozen_bn: bool,
    trainable: int,
    returned_layers: tuple[int, ...] = (1, 2, 3, 4),
    extra_blocks: nn.Module | None = None,
    fpn_norm: Callable[..., nn.Module] | None = None,
) -> nn.Module:
    """torchvision's `_resnet_fpn_extractor` logic on a 1/4-width bottleneck ResNet, 32-ch FPN."""
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops import misc
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    body = tiny_resnet("resnet50", norm_layer=misc.FrozenBatchNorm2d if frozen_bn else None)
    train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable] + (
        ["bn1"] if trainable == 5 else []
    )
    for name, p in body.named_parameters():
        if not any(name.startswith(layer) for layer in train):
            p.requires_grad_(False)
    return BackboneWithFPN(
        body,
        {f"layer{k}": str(v) for v, k in enumerate(returned_layers)},
        [body.inplanes // 8 * 2 ** (i - 1) for i in returned_layers],
        TINY_FPN,
        extra_blocks=extra_blocks or LastLevelMaxPool(),
        norm_layer=fpn_norm,
    )


def _tiny_anchors():
    """One size per FPN level, three aspect ratios (torchvision's default layout, smaller sizes)."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    sizes = ((8,), (16,), (32,), (64,), (128,))
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


def _tiny_box_heads(v2: bool) -> dict[str, nn.Module]:
    from torchvision.models.detection.faster_rcnn import (
        FastRCNNConvFCHead,
        FastRCNNPredictor,
        TwoMLPHead,
    )
    from torchvision.models.detection.rpn import RPNHead

    if v2:  # the v2 heads: two-conv RPN head, conv+BN box head (torchvision's *_v2 builders)
        return {
            "rpn_head": RPNHead(TINY_FPN, 3, conv_depth=2),
            "box_head": FastRCNNConvFCHead(
                (TINY_FPN, 7, 7), [TINY_FPN, TINY_FPN], [64], norm_layer=nn.BatchNorm2d
            ),
            "box_predictor": FastRCNNPredictor(64, TINY_CLASSES),
        }
    return {
        "box_head": TwoMLPHead(TINY_FPN * 7 * 7, 64),
        "box_predictor": FastRCNNPredictor(64, TINY_CLASSES),
    }


def tiny_fasterrcnn_resnet50_fpn(v2: bool = False) -> nn.Module:
    from torchvision.models.detection import FasterRCNN

    backbone = _tiny_resnet_fpn(not v2, 5 if v2 else 3, fpn_norm=nn.BatchNorm2d if v2 else None)
    return FasterRCNN(
        backbone, rpn_anchor_generator=_tiny_anchors(), **_tiny_box_heads(v2), **_TINY_RCNN
    )


def tiny_maskrcnn_resnet50_fpn(v2: bool = False) -> nn.Module:
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

    backbone = _tiny_resnet_fpn(not v2, 5 if v2 else 3, fpn_norm=nn.BatchNorm2d if v2 else None)
    norm = {"norm_layer": nn.BatchNorm2d} if v2 else {}
    return MaskRCNN(
        backbone,
        rpn_anchor_generator=_tiny_anchors(),
        mask_head=MaskRCNNHeads(TINY_FPN, [16, 16], 1, **norm),
        mask_predictor=MaskRCNNPredictor(16, 16, TINY_CLASSES),
        **_tiny_box_heads(v2),
        **_TINY_RCNN,
    )


def tiny_keypointrcnn_resnet50_fpn() -> nn.Module:
    from torchvision.models.detection import KeypointRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor

    return KeypointRCNN(
        _tiny_resnet_fpn(True, 3),
        rpn_anchor_generator=_tiny_anchors(),
        box_head=TwoMLPHead(TINY_FPN * 7 * 7, 64),
        box_predictor=FastRCNNPredictor(64, 2),
        keypoint_head=KeypointRCNNHeads(TINY_FPN, [16, 16]),
        keypoint_predictor=KeypointRCNNPredictor(16, KEYPOINTS),
        **_TINY_RCNN,
    )


def _tiny_mobilenet_fpn() -> nn.Module:
    """torchvision's `_mobilenet_extractor(fpn=True, trainable_layers=3)` logic, 32-ch FPN."""
    from torchvision.models import MobileNetV3
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops import misc
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    net = MobileNetV3(_tiny_mnv3_setting(), last_channel=64, norm_layer=misc.FrozenBatchNorm2d)
    features = net.features
    stages = (
        [0]
        + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
        + [len(features) - 1]
    )
    for block in features[: stages[len(stages) - 3]]:
        for p in block.parameters():
            p.requires_grad_(False)
    returned = [len(stages) - 2, len(stages) - 1]
    return BackboneWithFPN(
        features,
        {f"{stages[k]}": str(v) for v, k in enumerate(returned)},
        [features[stages[i]].out_channels for i in returned],
        TINY_FPN,
        extra_blocks=LastLevelMaxPool(),
    )


def tiny_fasterrcnn_mobilenet_v3_large_fpn(low_res: bool = False) -> nn.Module:
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    sizes = ((8, 16, 32, 64, 128),) * 3
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 3)
    extra = {"rpn_score_thresh": 0.05} | (
        {"rpn_pre_nms_top_n_test": 30, "rpn_post_nms_top_n_test": 30} if low_res else {}
    )
    return FasterRCNN(
        _tiny_mobilenet_fpn(),
        rpn_anchor_generator=anchors,
        **_tiny_box_heads(False),
        **(_TINY_RCNN | extra),
    )


def tiny_retinanet_resnet50_fpn(v2: bool = False) -> nn.Module:
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.retinanet import RetinaNetHead
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    # v1 feeds P5 to the extra levels, v2 feeds C5 (torchvision's builders)
    p6p7 = LastLevelP6P7(512, TINY_FPN) if v2 else LastLevelP6P7(TINY_FPN, TINY_FPN)
    backbone = _tiny_resnet_fpn(not v2, 3, returned_layers=(2, 3, 4), extra_blocks=p6p7)
    sizes = tuple(
        (x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in (8, 16, 32, 64, 128)
    )
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    norm = {"norm_layer": partial(nn.GroupNorm, 32)} if v2 else {}
    head = RetinaNetHead(TINY_FPN, anchors.num_anchors_per_location()[0], TINY_CLASSES, **norm)
    if v2:
        head.regression_head._loss_type = "giou"
    return RetinaNet(backbone, TINY_CLASSES, anchor_generator=anchors, head=head, **_TINY_ONE_STAGE)


def tiny_fcos_resnet50_fpn() -> nn.Module:
    from torchvision.models.detection import FCOS
    from torchvision.models.detection.fcos import FCOSHead
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    backbone = _tiny_resnet_fpn(
        True, 3, returned_layers=(2, 3, 4), extra_blocks=LastLevelP6P7(TINY_FPN, TINY_FPN)
    )
    head = FCOSHead(TINY_FPN, 1, TINY_CLASSES, num_convs=2)
    return FCOS(backbone, TINY_CLASSES, head=head, **_TINY_ONE_STAGE)


class TinySSDFeatures(nn.Module):
    """A VGG-style extractor for the tiny SSD: torchvision's `make_layers` to stride 8, then three
    stride-2 blocks, one output map per scale (what SSDFeatureExtractorVGG returns; its own layers
    are fixed at 512-1024 channels and need a 300 px input)."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.vgg import make_layers

        self.features = make_layers([8, "M", 16, "M", 32, "M"], batch_norm=False)
        self.extra = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(32, 32, kernel_size=3, stride=2, padding=1), nn.ReLU(inplace=True)
            )
            for _ in range(3)
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.features(x)
        out = [x]
        for block in self.extra:
            x = block(x)
            out.append(x)
        return OrderedDict((str(i), v) for i, v in enumerate(out))


def tiny_ssd300_vgg16() -> nn.Module:
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD, SSDHead

    anchors = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2]])
    head = SSDHead([32] * 4, anchors.num_anchors_per_location(), TINY_CLASSES)
    return SSD(
        TinySSDFeatures(),
        anchors,
        (TINY_SIZE, TINY_SIZE),
        TINY_CLASSES,
        image_mean=[0.48235, 0.45882, 0.40784],
        image_std=[1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0],
        head=head,
        topk_candidates=100,
        detections_per_img=20,
    )


def tiny_ssdlite320_mobilenet_v3_large() -> nn.Module:
    from torchvision.models import MobileNetV3
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD
    from torchvision.models.detection.ssdlite import SSDLiteFeatureExtractorMobileNet, SSDLiteHead

    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)  # as torchvision's builder
    net = MobileNetV3(_tiny_mnv3_setting(), last_channel=64, norm_layer=norm)
    stages = (
        [0]
        + [i for i, b in enumerate(net.features) if getattr(b, "_is_cn", False)]
        + [len(net.features) - 1]
    )
    # C4 expansion and the end of the network, then four extra blocks (16-32 channels here)
    backbone = SSDLiteFeatureExtractorMobileNet(net.features, stages[-2], norm, width_mult=1 / 16)
    anchors = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95)
    head = SSDLiteHead(
        _ssdlite_channels(backbone), anchors.num_anchors_per_location(), TINY_CLASSES, norm
    )
    return SSD(
        backbone,
        anchors,
        (TINY_SIZE, TINY_SIZE),
        TINY_CLASSES,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        head=head,
        topk_candidates=100,
        detections_per_img=20,
    )


def _ssdlite_channels(backbone: nn.Module) -> list[int]:
    """Output channels of SSDLiteFeatureExtractorMobileNet's six maps, read off its layers."""
    first = backbone.features[0][-1]  # C4 expansion: Conv2dNormActivation
    last = backbone.features[1][-1]  # the network's last Conv2dNormActivation
    return [first.out_channels, last.out_channels] + [b[-1].out_channels for b in backbone.extra]


TINY_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "fasterrcnn_resnet50_fpn": tiny_fasterrcnn_resnet50_fpn,
    "fasterrcnn_resnet50_fpn_v2": partial(tiny_fasterrcnn_resnet50_fpn, v2=True),
    "fasterrcnn_mobilenet_v3_large_fpn": tiny_fasterrcnn_mobilenet_v3_large_fpn,
    "fasterrcnn_mobilenet_v3_large_320_fpn": partial(
        tiny_fasterrcnn_mobilenet_v3_large_fpn, low_res=True
    ),
    "retinanet_resnet50_fpn": tiny_retinanet_resnet50_fpn,
    "retinanet_resnet50_fpn_v2": partial(tiny_retinanet_resnet50_fpn, v2=True),
    "fcos_resnet50_fpn": tiny_fcos_resnet50_fpn,
    "ssd300_vgg16": tiny_ssd300_vgg16,
    "ssdlite320_mobilenet_v3_large": tiny_ssdlite320_mobilenet_v3_large,
    "maskrcnn_resnet50_fpn": tiny_maskrcnn_resnet50_fpn,
    "maskrcnn_resnet50_fpn_v2": partial(tiny_maskrcnn_resnet50_fpn, v2=True),
    "keypointrcnn_resnet50_fpn": tiny_keypointrcnn_resnet50_fpn,
}

# --------------------------------------------------------------------------------------------
# Batches, loss, forward
# --------------------------------------------------------------------------------------------

COCO_CLASSES = 91  # torchvision's COCO label space (80 used ids + background + gaps)
OBJECTS_PER_IMAGE = 7  # COCO train2017: 860,001 instances / 118,287 images = 7.3
OBJECTS_CITATION = "COCO train2017: 860,001 object instances in 118,287 images (7.3 per image)"
TINY_OBJECTS = 2


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
