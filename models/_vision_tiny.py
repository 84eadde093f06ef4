"""Tiny members of the torchvision classification families, for CPU tests (10 classes, 28-75 px).

Each is built from torchvision's own classes with a small configuration: fewer blocks and narrower
layers, but the same block types and the same forward code as the full-size network (residual
bottlenecks stay bottlenecks, grouped convolutions stay grouped, squeeze-excitation stays, the
auxiliary heads of GoogLeNet and Inception-v3 stay). Families whose torchvision class takes no
width arguments (AlexNet, VGG's classifier, GoogLeNet) get their layers swapped for narrower ones
of the same kinds on a skeleton built on the meta device; `TINY_NOTES` says what each one is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ._vision_common import TINY_CLASSES, meta_skeleton

NC = TINY_CLASSES


def tiny_alexnet(name: str) -> nn.Module:
    from torchvision.models import AlexNet

    # torchvision's layer layout (5 convolutions, 3 max-pools, 3 linear layers) at 1/8 width
    features = nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(8, 24, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(24, 48, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(48, 32, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(32, 32, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    classifier = nn.Sequential(
        nn.Dropout(p=0.5),
        nn.Linear(32 * 6 * 6, 64),
        nn.ReLU(inplace=True),
        nn.Dropout(p=0.5),
        nn.Linear(64, 64),
        nn.ReLU(inplace=True),
        nn.Linear(64, NC),
    )
    return meta_skeleton(
        partial(AlexNet, num_classes=NC), {"features": features, "classifier": classifier}
    )


def tiny_vgg(name: str) -> nn.Module:
    from torchvision.models.vgg import VGG, cfgs, make_layers

    letter = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}[name.removesuffix("_bn")]
    # the same number of convolutions and pools as the full configuration, at 1/16 width
    cfg = [v if v == "M" else int(v) // 16 for v in cfgs[letter]]
    features = make_layers(cfg, batch_norm=name.endswith("_bn"))
    classifier = nn.Sequential(
        nn.Linear(32 * 7 * 7, 64),
        nn.ReLU(True),
        nn.Dropout(p=0.5),
        nn.Linear(64, 64),
        nn.ReLU(True),
        nn.Dropout(p=0.5),
        nn.Linear(64, NC),
    )
    return meta_skeleton(
        partial(VGG, nn.Sequential(), num_classes=NC),
        {"features": features, "classifier": classifier},
    )


def tiny_resnet(name: str, norm_layer: Callable[..., nn.Module] | None = None) -> nn.Module:
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

    block = BasicBlock if name in ("resnet18", "resnet34") else Bottleneck
    groups, width = {
        "resnext50_32x4d": (32, 4),
        "resnext101_32x8d": (32, 8),
        "resnext101_64x4d": (64, 4),
        "wide_resnet50_2": (1, 128),
        "wide_resnet101_2": (1, 128),
    }.get(name, (1, 64))

    def quarter_width(m: ResNet) -> dict[str, nn.Module]:
        # torchvision's ResNet fixes its stage widths (64..512); rebuild the stem and the four
        # stages with its own _make_layer at 16..128, one block each, same groups / width per group
        m.inplanes, m.dilation = 16, 1
        return {
            "conv1": nn.Conv2d(3, 16, kernel_size=7, stride=2, padding=3, bias=False),
            "bn1": m._norm_layer(16),
            "layer1": m._make_layer(block, 16, 1),
            "layer2": m._make_layer(block, 32, 1, stride=2),
            "layer3": m._make_layer(block, 64, 1, stride=2),
            "layer4": m._make_layer(block, 128, 1, stride=2),
            "fc": nn.Linear(128 * block.expansion, NC),
        }

    return meta_skeleton(
        partial(
            ResNet,
            block,
            [1, 1, 1, 1],
            num_classes=NC,
            groups=groups,
            width_per_group=width,
            norm_layer=norm_layer,
        ),
        quarter_width,
    )


def tiny_densenet(name: str) -> nn.Module:
    from torchvision.models import DenseNet

    growth, init = (12, 24) if name == "densenet161" else (8, 16)
    return DenseNet(growth, (1, 2, 2, 1), init, bn_size=2, num_classes=NC)


def tiny_efficientnet(name: str) -> nn.Module:
    from torchvision.models.efficientnet import EfficientNet, FusedMBConvConfig, MBConvConfig

    if name.startswith("efficientnet_v2"):
        setting = [
            FusedMBConvConfig(1, 3, 1, 8, 8, 1),
            FusedMBConvConfig(4, 3, 2, 8, 16, 1),
            MBConvConfig(4, 3, 2, 16, 24, 1),
        ]
        norm = partial(nn.BatchNorm2d, eps=1e-03)
        return EfficientNet(setting, 0.2, num_classes=NC, norm_layer=norm, last_channel=64)
    setting = [
        MBConvConfig(1, 3, 1, 8, 8, 1),
        MBConvConfig(6, 3, 2, 8, 16, 1),
        MBConvConfig(6, 5, 2, 16, 24, 2),
    ]
    return EfficientNet(setting, 0.2, num_classes=NC)


_GOOGLENET_INCEPTIONS = {  # torchvision GoogLeNet: in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def tiny_googlenet(name: str) -> nn.Module:
    from torchvision.models.googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux

    def w(c: int) -> int:
        return max(2, c // 16)

    def aux(in_channels: int) -> nn.Module:
        # torchvision's head (4x4 average pool, 1x1 convolution, two linear layers), narrower
        return meta_skeleton(
            partial(InceptionAux, w(in_channels), NC),
            {
                "conv": BasicConv2d(w(in_channels), 8, kernel_size=1),
                "fc1": nn.Linear(8 * 4 * 4, 32),
                "fc2": nn.Linear(32, NC),
            },
        )

    parts: dict[str, nn.Module] = {
        "conv1": BasicConv2d(3, w(64), kernel_size=7, stride=2, padding=3),
        "conv2": BasicConv2d(w(64), w(64), kernel_size=1),
        "conv3": BasicConv2d(w(64), w(192), kernel_size=3, padding=1),
    }
    for block, chans in _GOOGLENET_INCEPTIONS.items():
        parts[block] = Inception(*(w(c) for c in chans))
    parts["aux1"] = aux(512)
    parts["aux2"] = aux(528)
    parts["fc"] = nn.Linear(w(1024), NC)
    # at 1/16 width every branch is still there: 1x1, 1x1->3x3, 1x1->3x3 (torchvision's "5x5"), pool->1x1
    return meta_skeleton(
        partial(
            GoogLeNet, num_classes=NC, aux_logits=True, transform_input=False, init_weights=False
        ),
        parts,
    )


def tiny_inception_v3(name: str) -> nn.Module:
    from torchvision.models import Inception3

    # torchvision's Inception blocks have fixed widths, so this keeps the full network at 75 px
    # (its smallest input); the auxiliary head is swapped for a pooled linear classifier because
    # torchvision's (5x5 average pool then 5x5 convolution) needs the 17x17 map of a 299 px input
    model = Inception3(num_classes=NC, aux_logits=True, transform_input=False, init_weights=False)
    model.AuxLogits = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(768, NC))
    return model


def tiny_maxvit(name: str) -> nn.Module:
    from torchvision.models import MaxVit

    return MaxVit(
        input_size=(32, 32),
        stem_channels=8,
        partition_size=2,
        block_channels=[16, 32],
        block_layers=[1, 1],
        head_dim=8,
        stochastic_depth_prob=0.0,
        num_classes=NC,
    )


def tiny_mnasnet(name: str) -> nn.Module:
    from torchvision.models import MNASNet

    alpha = {"mnasnet0_5": 0.125, "mnasnet0_75": 0.1875, "mnasnet1_0": 0.25, "mnasnet1_3": 0.325}
    return MNASNet(alpha[name], num_classes=NC)


def tiny_mobilenet_v2(name: str) -> nn.Module:
    from torchvision.models import MobileNetV2

    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2]]  # t, c, n, s
    return MobileNetV2(NC, width_mult=0.5, inverted_residual_setting=setting)


def _tiny_mnv3_setting(width_mult: float = 1.0) -> list:
    from torchvision.models.mobilenetv3 import InvertedResidualConfig

    cnf = partial(InvertedResidualConfig, width_mult=width_mult)
    # input, kernel, expanded, out, use_se, activation, stride, dilation: four strided blocks
    # after the stride-2 stem (the C4/C5 layout the detection extractors look for)
    return [
        cnf(16, 3, 16, 16, True, "RE", 2, 1),
        cnf(16, 3, 48, 24, False, "RE", 2, 1),
        cnf(24, 5, 72, 32, True, "HS", 2, 1),
        cnf(32, 3, 96, 32, True, "HS", 1, 1),
        cnf(32, 5, 128, 48, True, "HS", 2, 1),
    ]


def tiny_mobilenet_v3(name: str, norm_layer: Callable[..., nn.Module] | None = None) -> nn.Module:
    from torchvision.models import MobileNetV3

    return MobileNetV3(_tiny_mnv3_setting(), last_channel=64, num_classes=NC, norm_layer=norm_layer)


def tiny_regnet(name: str) -> nn.Module:
    from torchvision.models.regnet import BlockParams, RegNet

    se = 0.25 if name.startswith("regnet_y") else None
    with torch.device("cpu"):  # from_init_params computes widths with tensors: keep them off meta
        params = BlockParams.from_init_params(
            depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8, se_ratio=se
        )
    return RegNet(params, num_classes=NC, stem_width=8)


def tiny_shufflenet(name: str) -> nn.Module:
    from torchvision.models import ShuffleNetV2

    return ShuffleNetV2([1, 1, 1], [8, 16, 32, 64, 128], num_classes=NC)


def tiny_squeezenet(name: str) -> nn.Module:
    from torchvision.models import SqueezeNet

    # SqueezeNet is small by design (1.2M parameters) and its class has no width argument
    return SqueezeNet(version=name.removeprefix("squeezenet"), num_classes=NC)


def tiny_swin(name: str) -> nn.Module:
    from torchvision.models.swin_transformer import (
        PatchMergingV2,
        SwinTransformer,
        SwinTransformerBlockV2,
    )

    v2 = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2}
    return SwinTransformer(
        patch_size=[4, 4],
        embed_dim=16,
        depths=[1, 1],
        num_heads=[1, 2],
        window_size=[4, 4],
        stochastic_depth_prob=0.0,
        num_classes=NC,
        **(v2 if name.startswith("swin_v2") else {}),
    )


TINY_VIT_SIZE = {"vit_h_14": 28}


def tiny_vit(name: str) -> nn.Module:
    from torchvision.models import VisionTransformer

    patch = int(name.rsplit("_", 1)[1])  # 14, 16 or 32: keep the patch-to-image ratio at 1/2 or 1/4
    size = TINY_VIT_SIZE.get(name, 32)
    return VisionTransformer(
        image_size=size,
        patch_size={14: 7, 16: 8, 32: 16}[patch],
        num_layers=1 if "_b_" in name else 2,
        num_heads=2,
        hidden_dim=32,
        mlp_dim=64,
        num_classes=NC,
    )


def tiny_convnext(name: str) -> nn.Module:
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    setting = [CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)]
    return ConvNeXt(setting, stochastic_depth_prob=0.0, num_classes=NC)


TINY_NOTES = {
    "alexnet": "AlexNet class, its 5 conv / 3 pool / 3 linear layout at 1/8 width, 64 px",
    "vgg": "VGG class with make_layers on the same configuration at 1/16 width, small classifier",
    "resnet": "ResNet class, one block per stage at 1/4 width (basic or bottleneck as the model)",
    "resnext": "ResNet class, one bottleneck per stage at 1/4 width, same groups and width per group",
    "wide_resnet": "ResNet class, one bottleneck per stage at 1/4 width, width per group 128",
    "densenet": "DenseNet class, growth 8-12, blocks (1, 2, 2, 1)",
    "efficientnet": "EfficientNet class, three MBConv stages",
    "efficientnet_v2": "EfficientNet class, two Fused-MBConv stages and one MBConv stage",
    "googlenet": "GoogLeNet class with its nine Inception blocks and both auxiliary heads at 1/16 width",
    "inception_v3": "full-width Inception3 at 75 px with a pooled linear auxiliary head",
    "maxvit": "MaxVit class, two stages of one block, 32 px",
    "mnasnet": "MNASNet class at a quarter of the width multiplier",
    "mobilenet_v2": "MobileNetV2 class, three inverted-residual stages, width 0.5",
    "mobilenet_v3": "MobileNetV3 class, five inverted residuals with squeeze-excitation and hardswish",
    "regnet": "RegNet class, depth 4, width 8-32 (Y: squeeze-excitation 0.25)",
    "shufflenet_v2": "ShuffleNetV2 class, one unit per stage, 8-128 channels",
    "squeezenet": "the SqueezeNet class itself (1.2M parameters), 10 classes",
    "swin": "SwinTransformer class, depths (1, 1), dim 16, window 4",
    "swin_v2": "SwinTransformer class with V2 blocks and patch merging, depths (1, 1), dim 16",
    "vit": "VisionTransformer class, 1-2 layers, hidden 32, patches 7-16",
    "convnext": "ConvNeXt class, two stages of one block, 16-32 channels",
}
