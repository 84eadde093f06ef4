"""torchvision's published weights metadata, stored so that listing the zoo never imports torchvision.

Importing torchvision costs 2-3 s on a small machine (it pulls in torch._dynamo), and `harness list`
must stay under 3 s, so the figures the zoo needs from each model's DEFAULT weights are kept here:
top-1 accuracy or box mAP (`meta["_metrics"]`), forward GMACs (`meta["_ops"]`), the parameter count
(`meta["num_params"]`), the crop size of the weights' own transforms, and the recipe link.

They were read from torchvision {TORCHVISION_VERSION}; `tests/test_zoo_vision.py` compares them
with the installed torchvision, and `python -m models._vision_meta` prints a fresh table to paste
here when torchvision changes.
"""

from __future__ import annotations

from dataclasses import dataclass

TORCHVISION_VERSION = "0.29.1"


@dataclass(frozen=True)
class ClassificationMeta:
    """One classification model's DEFAULT weights (torchvision `Weights.meta`)."""

    weights: str  # the weights enum member, e.g. "ResNet50_Weights.IMAGENET1K_V2"
    top1: float  # meta["_metrics"]["ImageNet-1K"]["acc@1"], percent
    gmacs: float  # meta["_ops"]: forward GMACs per image at `crop`
    params: int  # meta["num_params"]
    crop: int  # crop_size of the weights' transforms: the resolution the network is evaluated at
    recipe: str  # meta["recipe"]


@dataclass(frozen=True)
class DetectionMeta:
    """One detection model's DEFAULT weights (torchvision `Weights.meta`)."""

    weights: str
    box_map: float  # meta["_metrics"]["COCO-val2017"]["box_map"], percent
    gmacs: float  # meta["_ops"]
    params: int  # meta["num_params"]
    recipe: str


def _cls(rows: dict[str, tuple]) -> dict[str, ClassificationMeta]:
    return {name: ClassificationMeta(*row) for name, row in rows.items()}


def _det(rows: dict[str, tuple]) -> dict[str, DetectionMeta]:
    return {name: DetectionMeta(*row) for name, row in rows.items()}


# fmt: off
# BEGIN GENERATED (python -m models._vision_meta)
CLASSIFICATION: dict[str, ClassificationMeta] = _cls({
    "alexnet": ("AlexNet_Weights.IMAGENET1K_V1", 56.522, 0.714, 61100840, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "convnext_base": ("ConvNeXt_Base_Weights.IMAGENET1K_V1", 84.062, 15.355, 88591464, 224, "https://github.com/pytorch/vision/tree/main/references/classification#convnext"),
    "convnext_large": ("ConvNeXt_Large_Weights.IMAGENET1K_V1", 84.414, 34.361, 197767336, 224, "https://github.com/pytorch/vision/tree/main/references/classification#convnext"),
    "convnext_small": ("ConvNeXt_Small_Weights.IMAGENET1K_V1", 83.616, 8.684, 50223688, 224, "https://github.com/pytorch/vision/tree/main/references/classification#convnext"),
    "convnext_tiny": ("ConvNeXt_Tiny_Weights.IMAGENET1K_V1", 82.52, 4.456, 28589128, 224, "https://github.com/pytorch/vision/tree/main/references/classification#convnext"),
    "densenet121": ("DenseNet121_Weights.IMAGENET1K_V1", 74.434, 2.834, 7978856, 224, "https://github.com/pytorch/vision/pull/116"),
    "densenet161": ("DenseNet161_Weights.IMAGENET1K_V1", 77.138, 7.728, 28681000, 224, "https://github.com/pytorch/vision/pull/116"),
    "densenet169": ("DenseNet169_Weights.IMAGENET1K_V1", 75.6, 3.36, 14149480, 224, "https://github.com/pytorch/vision/pull/116"),
    "densenet201": ("DenseNet201_Weights.IMAGENET1K_V1", 76.896, 4.291, 20013928, 224, "https://github.com/pytorch/vision/pull/116"),
    "efficientnet_b0": ("EfficientNet_B0_Weights.IMAGENET1K_V1", 77.692, 0.386, 5288548, 224, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"),
    "efficientnet_b1": ("EfficientNet_B1_Weights.IMAGENET1K_V2", 79.838, 0.687, 7794184, 240, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-lr-wd-crop-tuning"),
    "efficientnet_b2": ("EfficientNet_B2_Weights.IMAGENET1K_V1", 80.608, 1.088, 9109994, 288, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"),
    "efficientnet_b3": ("EfficientNet_B3_Weights.IMAGENET1K_V1", 82.008, 1.827, 12233232, 300, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"),
    "efficientnet_b4": ("EfficientNet_B4_Weights.IMAGENET1K_V1", 83.384, 4.394, 19341616, 380, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"),
    "efficientnet_b5": ("EfficientNet_B5_Weights.IMAGENET1K_V1", 83.444, 10.266, 30389784, 456, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"),
    "efficientnet_b6": ("EfficientNet_B6_Weights.IMAGENET1K_V1", 84.008, 19.068, 43040704, 528, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"),
    "efficientnet_b7": ("EfficientNet_B7_Weights.IMAGENET1K_V1", 84.122, 37.746, 66347960, 600, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v1"),
    "efficientnet_v2_l": ("EfficientNet_V2_L_Weights.IMAGENET1K_V1", 85.808, 56.08, 118515272, 480, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v2"),
    "efficientnet_v2_m": ("EfficientNet_V2_M_Weights.IMAGENET1K_V1", 85.112, 24.582, 54139356, 480, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v2"),
    "efficientnet_v2_s": ("EfficientNet_V2_S_Weights.IMAGENET1K_V1", 84.228, 8.366, 21458488, 384, "https://github.com/pytorch/vision/tree/main/references/classification#efficientnet-v2"),
    "googlenet": ("GoogLeNet_Weights.IMAGENET1K_V1", 69.778, 1.498, 6624904, 224, "https://github.com/pytorch/vision/tree/main/references/classification#googlenet"),
    "inception_v3": ("Inception_V3_Weights.IMAGENET1K_V1", 77.294, 5.713, 27161264, 299, "https://github.com/pytorch/vision/tree/main/references/classification#inception-v3"),
    "maxvit_t": ("MaxVit_T_Weights.IMAGENET1K_V1", 83.7, 5.558, 30919624, 224, "https://github.com/pytorch/vision/tree/main/references/classification#maxvit"),
    "mnasnet0_5": ("MNASNet0_5_Weights.IMAGENET1K_V1", 67.734, 0.104, 2218512, 224, "https://github.com/1e100/mnasnet_trainer"),
    "mnasnet0_75": ("MNASNet0_75_Weights.IMAGENET1K_V1", 71.18, 0.215, 3170208, 224, "https://github.com/pytorch/vision/pull/6019"),
    "mnasnet1_0": ("MNASNet1_0_Weights.IMAGENET1K_V1", 73.456, 0.314, 4383312, 224, "https://github.com/1e100/mnasnet_trainer"),
    "mnasnet1_3": ("MNASNet1_3_Weights.IMAGENET1K_V1", 76.506, 0.526, 6282256, 224, "https://github.com/pytorch/vision/pull/6019"),
    "mobilenet_v2": ("MobileNet_V2_Weights.IMAGENET1K_V2", 72.154, 0.301, 3504872, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-reg-tuning"),
    "mobilenet_v3_large": ("MobileNet_V3_Large_Weights.IMAGENET1K_V2", 75.274, 0.217, 5483032, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-reg-tuning"),
    "mobilenet_v3_small": ("MobileNet_V3_Small_Weights.IMAGENET1K_V1", 67.668, 0.057, 2542856, 224, "https://github.com/pytorch/vision/tree/main/references/classification#mobilenetv3-large--small"),
    "regnet_x_16gf": ("RegNet_X_16GF_Weights.IMAGENET1K_V2", 82.716, 15.941, 54278536, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_x_1_6gf": ("RegNet_X_1_6GF_Weights.IMAGENET1K_V2", 79.668, 1.603, 9190136, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres"),
    "regnet_x_32gf": ("RegNet_X_32GF_Weights.IMAGENET1K_V2", 83.014, 31.736, 107811560, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_x_3_2gf": ("RegNet_X_3_2GF_Weights.IMAGENET1K_V2", 81.196, 3.177, 15296552, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_x_400mf": ("RegNet_X_400MF_Weights.IMAGENET1K_V2", 74.864, 0.414, 5495976, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres"),
    "regnet_x_800mf": ("RegNet_X_800MF_Weights.IMAGENET1K_V2", 77.522, 0.8, 7259656, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres"),
    "regnet_x_8gf": ("RegNet_X_8GF_Weights.IMAGENET1K_V2", 81.682, 7.995, 39572648, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_y_128gf": ("RegNet_Y_128GF_Weights.IMAGENET1K_SWAG_E2E_V1", 88.228, 374.57, 644812894, 384, "https://github.com/facebookresearch/SWAG"),
    "regnet_y_16gf": ("RegNet_Y_16GF_Weights.IMAGENET1K_V2", 82.886, 15.912, 83590140, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_y_1_6gf": ("RegNet_Y_1_6GF_Weights.IMAGENET1K_V2", 80.876, 1.612, 11202430, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_y_32gf": ("RegNet_Y_32GF_Weights.IMAGENET1K_V2", 83.368, 32.28, 145046770, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_y_3_2gf": ("RegNet_Y_3_2GF_Weights.IMAGENET1K_V2", 81.982, 3.176, 19436338, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_y_400mf": ("RegNet_Y_400MF_Weights.IMAGENET1K_V2", 75.804, 0.402, 4344144, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_y_800mf": ("RegNet_Y_800MF_Weights.IMAGENET1K_V2", 78.828, 0.834, 6432512, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "regnet_y_8gf": ("RegNet_Y_8GF_Weights.IMAGENET1K_V2", 82.828, 8.473, 39381472, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "resnet101": ("ResNet101_Weights.IMAGENET1K_V2", 81.886, 7.801, 44549160, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "resnet152": ("ResNet152_Weights.IMAGENET1K_V2", 82.284, 11.514, 60192808, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "resnet18": ("ResNet18_Weights.IMAGENET1K_V1", 69.758, 1.814, 11689512, 224, "https://github.com/pytorch/vision/tree/main/references/classification#resnet"),
    "resnet34": ("ResNet34_Weights.IMAGENET1K_V1", 73.314, 3.664, 21797672, 224, "https://github.com/pytorch/vision/tree/main/references/classification#resnet"),
    "resnet50": ("ResNet50_Weights.IMAGENET1K_V2", 80.858, 4.089, 25557032, 224, "https://github.com/pytorch/vision/issues/3995#issuecomment-1013906621"),
    "resnext101_32x8d": ("ResNeXt101_32X8D_Weights.IMAGENET1K_V2", 82.834, 16.414, 88791336, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres"),
    "resnext101_64x4d": ("ResNeXt101_64X4D_Weights.IMAGENET1K_V1", 83.246, 15.46, 83455272, 224, "https://github.com/pytorch/vision/pull/5935"),
    "resnext50_32x4d": ("ResNeXt50_32X4D_Weights.IMAGENET1K_V2", 81.198, 4.23, 25028904, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "shufflenet_v2_x0_5": ("ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1", 60.552, 0.04, 1366792, 224, "https://github.com/ericsun99/Shufflenet-v2-Pytorch"),
    "shufflenet_v2_x1_0": ("ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1", 69.362, 0.145, 2278604, 224, "https://github.com/ericsun99/Shufflenet-v2-Pytorch"),
    "shufflenet_v2_x1_5": ("ShuffleNet_V2_X1_5_Weights.IMAGENET1K_V1", 72.996, 0.296, 3503624, 224, "https://github.com/pytorch/vision/pull/5906"),
    "shufflenet_v2_x2_0": ("ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1", 76.23, 0.583, 7393996, 224, "https://github.com/pytorch/vision/pull/5906"),
    "squeezenet1_0": ("SqueezeNet1_0_Weights.IMAGENET1K_V1", 58.092, 0.819, 1248424, 224, "https://github.com/pytorch/vision/pull/49#issuecomment-277560717"),
    "squeezenet1_1": ("SqueezeNet1_1_Weights.IMAGENET1K_V1", 58.178, 0.349, 1235496, 224, "https://github.com/pytorch/vision/pull/49#issuecomment-277560717"),
    "swin_b": ("Swin_B_Weights.IMAGENET1K_V1", 83.582, 15.431, 87768224, 224, "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer"),
    "swin_s": ("Swin_S_Weights.IMAGENET1K_V1", 83.196, 8.741, 49606258, 224, "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer"),
    "swin_t": ("Swin_T_Weights.IMAGENET1K_V1", 81.474, 4.491, 28288354, 224, "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer"),
    "swin_v2_b": ("Swin_V2_B_Weights.IMAGENET1K_V1", 84.112, 20.325, 87930848, 256, "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer-v2"),
    "swin_v2_s": ("Swin_V2_S_Weights.IMAGENET1K_V1", 83.712, 11.546, 49737442, 256, "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer-v2"),
    "swin_v2_t": ("Swin_V2_T_Weights.IMAGENET1K_V1", 82.072, 5.94, 28351570, 256, "https://github.com/pytorch/vision/tree/main/references/classification#swintransformer-v2"),
    "vgg11": ("VGG11_Weights.IMAGENET1K_V1", 69.02, 7.609, 132863336, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vgg11_bn": ("VGG11_BN_Weights.IMAGENET1K_V1", 70.37, 7.609, 132868840, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vgg13": ("VGG13_Weights.IMAGENET1K_V1", 69.928, 11.308, 133047848, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vgg13_bn": ("VGG13_BN_Weights.IMAGENET1K_V1", 71.586, 11.308, 133053736, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vgg16": ("VGG16_Weights.IMAGENET1K_V1", 71.592, 15.47, 138357544, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vgg16_bn": ("VGG16_BN_Weights.IMAGENET1K_V1", 73.36, 15.47, 138365992, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vgg19": ("VGG19_Weights.IMAGENET1K_V1", 72.376, 19.632, 143667240, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vgg19_bn": ("VGG19_BN_Weights.IMAGENET1K_V1", 74.218, 19.632, 143678248, 224, "https://github.com/pytorch/vision/tree/main/references/classification#alexnet-and-vgg"),
    "vit_b_16": ("ViT_B_16_Weights.IMAGENET1K_V1", 81.072, 17.564, 86567656, 224, "https://github.com/pytorch/vision/tree/main/references/classification#vit_b_16"),
    "vit_b_32": ("ViT_B_32_Weights.IMAGENET1K_V1", 75.912, 4.409, 88224232, 224, "https://github.com/pytorch/vision/tree/main/references/classification#vit_b_32"),
    "vit_h_14": ("ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1", 88.552, 1016.717, 633470440, 518, "https://github.com/facebookresearch/SWAG"),
    "vit_l_16": ("ViT_L_16_Weights.IMAGENET1K_V1", 79.662, 61.555, 304326632, 224, "https://github.com/pytorch/vision/tree/main/references/classification#vit_l_16"),
    "vit_l_32": ("ViT_L_32_Weights.IMAGENET1K_V1", 76.972, 15.378, 306535400, 224, "https://github.com/pytorch/vision/tree/main/references/classification#vit_l_32"),
    "wide_resnet101_2": ("Wide_ResNet101_2_Weights.IMAGENET1K_V2", 82.51, 22.753, 126886696, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe"),
    "wide_resnet50_2": ("Wide_ResNet50_2_Weights.IMAGENET1K_V2", 81.602, 11.398, 68883240, 224, "https://github.com/pytorch/vision/issues/3995#new-recipe-with-fixres"),
})

DETECTION: dict[str, DetectionMeta] = _det({
    "fasterrcnn_mobilenet_v3_large_320_fpn": ("FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1", 22.8, 0.719, 19386354, "https://github.com/pytorch/vision/tree/main/references/detection#faster-r-cnn-mobilenetv3-large-320-fpn"),
    "fasterrcnn_mobilenet_v3_large_fpn": ("FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1", 32.8, 4.494, 19386354, "https://github.com/pytorch/vision/tree/main/references/detection#faster-r-cnn-mobilenetv3-large-fpn"),
    "fasterrcnn_resnet50_fpn": ("FasterRCNN_ResNet50_FPN_Weights.COCO_V1", 37.0, 134.38, 41755286, "https://github.com/pytorch/vision/tree/main/references/detection#faster-r-cnn-resnet-50-fpn"),
    "fasterrcnn_resnet50_fpn_v2": ("FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1", 46.7, 280.371, 43712278, "https://github.com/pytorch/vision/pull/5763"),
    "fcos_resnet50_fpn": ("FCOS_ResNet50_FPN_Weights.COCO_V1", 39.2, 128.207, 32269600, "https://github.com/pytorch/vision/tree/main/references/detection#fcos-resnet-50-fpn"),
    "keypointrcnn_resnet50_fpn": ("KeypointRCNN_ResNet50_FPN_Weights.COCO_V1", 54.6, 137.42, 59137258, "https://github.com/pytorch/vision/tree/main/references/detection#keypoint-r-cnn"),
    "maskrcnn_resnet50_fpn": ("MaskRCNN_ResNet50_FPN_Weights.COCO_V1", 37.9, 134.38, 44401393, "https://github.com/pytorch/vision/tree/main/references/detection#mask-r-cnn"),
    "maskrcnn_resnet50_fpn_v2": ("MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1", 47.4, 333.577, 46359409, "https://github.com/pytorch/vision/pull/5773"),
    "retinanet_resnet50_fpn": ("RetinaNet_ResNet50_FPN_Weights.COCO_V1", 36.4, 151.54, 34014999, "https://github.com/pytorch/vision/tree/main/references/detection#retinanet"),
    "retinanet_resnet50_fpn_v2": ("RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1", 41.5, 152.238, 38198935, "https://github.com/pytorch/vision/pull/5756"),
    "ssd300_vgg16": ("SSD300_VGG16_Weights.COCO_V1", 25.1, 34.858, 35641826, "https://github.com/pytorch/vision/tree/main/references/detection#ssd300-vgg16"),
    "ssdlite320_mobilenet_v3_large": ("SSDLite320_MobileNet_V3_Large_Weights.COCO_V1", 21.3, 0.583, 3440060, "https://github.com/pytorch/vision/tree/main/references/detection#ssdlite320-mobilenetv3-large"),
})
# END GENERATED
# fmt: on


def read_installed() -> tuple[dict[str, ClassificationMeta], dict[str, DetectionMeta]]:
    """The same figures read from the installed torchvision (slow: imports torchvision)."""
    import torchvision
    from torchvision.models import get_model_weights, list_models

    cls: dict[str, ClassificationMeta] = {}
    for name in list_models(module=torchvision.models):
        w = get_model_weights(name).DEFAULT
        m = w.meta
        cls[name] = ClassificationMeta(
            weights=str(w),
            top1=m["_metrics"]["ImageNet-1K"]["acc@1"],
            gmacs=m["_ops"],
            params=m["num_params"],
            crop=w.transforms.keywords["crop_size"],
            recipe=m["recipe"],
        )
    det: dict[str, DetectionMeta] = {}
    for name in list_models(module=torchvision.models.detection):
        w = get_model_weights(name).DEFAULT
        m = w.meta
        det[name] = DetectionMeta(
            weights=str(w),
            box_map=m["_metrics"]["COCO-val2017"]["box_map"],
            gmacs=m["_ops"],
            params=m["num_params"],
            recipe=m["recipe"],
        )
    return cls, det


def _row(meta: ClassificationMeta | DetectionMeta) -> str:
    values = ", ".join(repr(v) if not isinstance(v, str) else f'"{v}"' for v in vars(meta).values())
    return f"({values})"


def main() -> None:
    """Print the generated block for the installed torchvision."""
    import torchvision

    cls, det = read_installed()
    print(f"# read from torchvision {torchvision.__version__}")
    print("CLASSIFICATION: dict[str, ClassificationMeta] = _cls({")
    for name, meta in cls.items():
        print(f'    "{name}": {_row(meta)},')
    print("})\n\nDETECTION: dict[str, DetectionMeta] = _det({")
    for name, meta in det.items():
        print(f'    "{name}": {_row(meta)},')
    print("})")


if __name__ == "__main__":
    main()
