"""Tiny detection networks for CPU tests of models/coco.py.

The same detector classes, heads and losses as the full-size networks, with a ResNet /
MobileNetV3 / VGG-style backbone of a few thousand to a few hundred thousand parameters, a
32-channel FPN, 64 px images and few proposals, so a training step runs in a fraction of a second
on a CPU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ._vision_detection_targets import KEYPOINTS, TINY_CLASSES
from ._vision_tiny import _tiny_mnv3_setting, tiny_resnet

TINY_SIZE = 64
TINY_FPN = 32
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
