"""COCO: every torchvision detection model with weights metadata (12 in torchvision 0.29).

Built with random weights and no download (models/_vision_detection.py says why the v1 models are
built as torchvision builds them for an ImageNet-initialised backbone). Box mAP on val2017, GMACs
(`_ops`) and parameter counts are torchvision's metadata (models/_vision_meta.py).

Input size: detection models resize every image inside their own transform, so the nominal input
is what that transform produces: a square image of `default_size` passes through unchanged.
R-CNN, RetinaNet and FCOS resize the short side to min_size=800 (long side at most 1333), the
320 Faster R-CNN to 320, SSD300 to 300x300 and SSDlite to 320x320. torchvision computed `_ops` by
feeding one 3x224x224 image in eval mode; the transform upsamples it to exactly these sizes, so
`_ops` is the cost of one `default_size` square image. Counting conv/matmul MACs with
torch.utils.flop_counter on a random 224 px image reproduces `_ops` exactly for Faster R-CNN
(v1, v2), RetinaNet (v1, v2), FCOS, Mask R-CNN v2, SSD and SSDlite. It does not for the models
whose heads run only on what survives a score threshold: Mask R-CNN v1, Keypoint R-CNN and the
MobileNetV3 Faster R-CNNs (rpn_score_thresh=0.05). torchvision measured them with trained
weights, which keep few proposals or detections on a random image; random weights keep up to the
configured maximum, so their counted inference MACs exceed `_ops` (see `OPS_DEPEND_ON_DETECTIONS`).

Training targets are synthetic: 7 boxes per image (COCO train2017's mean), masks or keypoints
where the model needs them. The loss is the sum of the model's loss dict in train mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.arch.registry import register
from harness.arch.spec import Architecture, OptimizerSpec, ReferenceMetric, TrainingRecipe

from ._vision_common import (
    COCO_TRAIN_CITATION,
    COCO_TRAIN_IMAGES,
    TV_DET_README,
    torchvision_citation,
)
from ._vision_detection import (
    FULL_BUILDERS,
    OBJECTS_CITATION,
    TINY_BUILDERS,
    TINY_SIZE,
    detection_batch_factory,
    detection_forward,
    detection_loss,
)
from ._vision_meta import DETECTION, DetectionMeta


@dataclass(frozen=True)
class DetectorInfo:
    year: int
    paper: str
    size: int  # the square input the model's transform keeps as is (see module doc)
    kind: str  # "box", "mask" or "keypoint": which targets the loss needs
    family: str


FASTER = "Ren et al., Faster R-CNN, arXiv:1506.01497"
FPN = "Lin et al., Feature Pyramid Networks, arXiv:1612.03144"
BENCH_V2 = (
    "Li et al., Benchmarking Detection Transfer Learning with Vision Transformers, arXiv:2111.11429"
)
MNV3 = "Howard et al., Searching for MobileNetV3, arXiv:1905.02244"

DETECTORS = {
    "fasterrcnn_resnet50_fpn": DetectorInfo(2016, f"{FASTER}; {FPN}", 800, "box", "faster_rcnn"),
    "fasterrcnn_resnet50_fpn_v2": DetectorInfo(
        2021, f"{FASTER}; {BENCH_V2}", 800, "box", "faster_rcnn"
    ),
    "fasterrcnn_mobilenet_v3_large_fpn": DetectorInfo(
        2019, f"{FASTER}; {MNV3}", 800, "box", "faster_rcnn"
    ),
    "fasterrcnn_mobilenet_v3_large_320_fpn": DetectorInfo(
        2019, f"{FASTER}; {MNV3}", 320, "box", "faster_rcnn"
    ),
    "retinanet_resnet50_fpn": DetectorInfo(
        2017,
        "Lin et al., Focal Loss for Dense Object Detection, arXiv:1708.02002",
        800,
        "box",
        "retinanet",
    ),
    "retinanet_resnet50_fpn_v2": DetectorInfo(
        2019,
        "Zhang et al., Bridging the Gap Between Anchor-based and Anchor-free Detection (ATSS), arXiv:1912.02424",
        800,
        "box",
        "retinanet",
    ),
    "fcos_resnet50_fpn": DetectorInfo(
        2019, "Tian et al., FCOS, arXiv:1904.01355", 800, "box", "fcos"
    ),
    "ssd300_vgg16": DetectorInfo(
        2015, "Liu et al., SSD: Single Shot MultiBox Detector, arXiv:1512.02325", 300, "box", "ssd"
    ),
    "ssdlite320_mobilenet_v3_large": DetectorInfo(
        2019, f"SSDLite (Sandler et al., arXiv:1801.04381); {MNV3}", 320, "box", "ssd"
    ),
    "maskrcnn_resnet50_fpn": DetectorInfo(
        2017, "He et al., Mask R-CNN, arXiv:1703.06870", 800, "mask", "mask_rcnn"
    ),
    "maskrcnn_resnet50_fpn_v2": DetectorInfo(
        2021, f"He et al., Mask R-CNN, arXiv:1703.06870; {BENCH_V2}", 800, "mask", "mask_rcnn"
    ),
    "keypointrcnn_resnet50_fpn": DetectorInfo(
        2017,
        "He et al., Mask R-CNN (keypoint head), arXiv:1703.06870",
        800,
        "keypoint",
        "keypoint_rcnn",
    ),
}

OPS_DEPEND_ON_DETECTIONS = frozenset(
    {
        "maskrcnn_resnet50_fpn",
        "keypointrcnn_resnet50_fpn",
        "fasterrcnn_mobilenet_v3_large_fpn",
        "fasterrcnn_mobilenet_v3_large_320_fpn",
    }
)
_OPS_NOTE = (
    "; the RoI-head share of _ops depends on how many proposals/detections the trained weights "
    "kept on torchvision's random test image, so a random-weight network's inference count is "
    "higher"
)

_TRAIN_PY = (
    "references/detection/train.py defaults: SGD momentum 0.9, --lr 0.02 ('for training on 8 "
    "gpus and 2 images_per_gpu'), --batch-size 2 per GPU, --wd 1e-4"
)


def _recipe(
    epochs: int, batch: int, cite: str, *, gpus: int, gpu: str, precision: str = "fp32"
) -> TrainingRecipe:
    return TrainingRecipe(
        epochs=epochs,
        examples_per_epoch=COCO_TRAIN_IMAGES,
        batch_size=batch,
        precision=precision,
        processor_type=gpu,
        processor_count=gpus,
        citation=f"{cite}; examples per epoch: {COCO_TRAIN_CITATION} (an upper bound: torchvision's "
        "train.py drops images without annotations, and for keypoints images with fewer than 10 "
        "visible keypoints; those counts are not published); training hours not published",
    )


def recipe_for(name: str, meta: DetectionMeta) -> tuple[OptimizerSpec, TrainingRecipe]:
    """torchvision's recipe for `name`'s DEFAULT weights (its `recipe` link)."""
    if name in ("fasterrcnn_resnet50_fpn_v2", "maskrcnn_resnet50_fpn_v2"):
        pr = "5763" if name.startswith("faster") else "5773"
        cite = (
            f"github.com/pytorch/vision PR #{pr}: run_with_submitit.py --ngpus 8 --nodes 4 "
            "(32 GPUs, model not stated) --epochs 400 --lr-steps 352 384 --lr 0.1 --batch-size 2 "
            "(64 per step) --weight-decay 0.00004 --sync-bn --data-augmentation lsj, no "
            f"--weights-backbone (trained from scratch); {_TRAIN_PY}"
        )
        opt = OptimizerSpec("sgd", 0.1, {"momentum": 0.9, "weight_decay": 4e-5}, citation=cite)
        return opt, _recipe(400, 64, cite, gpus=32, gpu="GPU (model not stated)")
    if name == "retinanet_resnet50_fpn_v2":
        cite = (
            "github.com/pytorch/vision PR #5756: run_with_submitit.py --ngpus 8 --nodes 1 (8 GPUs, "
            "model not stated) --weights-backbone ResNet50_Weights.IMAGENET1K_V2 --opt adamw --lr "
            "0.0001 --epochs 26 --lr-steps 16 22 --weight-decay 0.05 --norm-weight-decay 0.0 "
            f"--data-augmentation multiscale --sync-bn; batch 2 per GPU ({_TRAIN_PY})"
        )
        opt = OptimizerSpec("adamw", 1e-4, {"weight_decay": 0.05}, citation=cite)
        return opt, _recipe(26, 16, cite, gpus=8, gpu="GPU (model not stated)")
    if name == "ssd300_vgg16":
        cite = (
            f"{TV_DET_README}, SSD300 VGG16: --epochs 120 --lr-steps 80 110 --lr 0.002 "
            "--batch-size 4 (x 8 GPUs = 32) --weight-decay 0.0005 --data-augmentation ssd "
            f"--weights-backbone VGG16_Weights.IMAGENET1K_FEATURES; {_TRAIN_PY}"
        )
        opt = OptimizerSpec("sgd", 0.002, {"momentum": 0.9, "weight_decay": 5e-4}, citation=cite)
        return opt, _recipe(120, 32, cite, gpus=8, gpu="V100")
    if name == "ssdlite320_mobilenet_v3_large":
        cite = (
            f"{TV_DET_README}, SSDlite320 MobileNetV3-Large: --epochs 660 --lr-scheduler "
            "cosineannealinglr --lr 0.15 --batch-size 24 (x 8 GPUs = 192) --weight-decay 0.00004 "
            f"--data-augmentation ssdlite; {_TRAIN_PY}"
        )
        opt = OptimizerSpec("sgd", 0.15, {"momentum": 0.9, "weight_decay": 4e-5}, citation=cite)
        return opt, _recipe(660, 192, cite, gpus=8, gpu="V100")
    # the 26-epoch v1 recipes (46 for keypoints): 8 GPUs x 2 images, lr 0.02 (0.01 one-stage)
    epochs, steps = (46, "36 43") if name.startswith("keypoint") else (26, "16 22")
    lr = 0.01 if name in ("retinanet_resnet50_fpn", "fcos_resnet50_fpn") else 0.02
    amp = name == "fcos_resnet50_fpn"
    backbone = "MobileNet_V3_Large" if "mobilenet" in name else "ResNet50"
    cite = (
        f"{TV_DET_README}, {name}: --epochs {epochs} --lr-steps {steps} --aspect-ratio-group-factor 3"
        f"{' --lr 0.01' if lr == 0.01 else ''}{' --amp' if amp else ''} --weights-backbone "
        f"{backbone}_Weights.IMAGENET1K_V1; {_TRAIN_PY} (16 images per step)"
    )
    opt = OptimizerSpec("sgd", lr, {"momentum": 0.9, "weight_decay": 1e-4}, citation=cite)
    return opt, _recipe(epochs, 16, cite, gpus=8, gpu="V100", precision="fp16" if amp else "fp32")


def make_architecture(name: str, meta: DetectionMeta) -> Architecture:
    info = DETECTORS[name]
    optimizer, recipe = recipe_for(name, meta)
    targets = {
        "box": "boxes, labels",
        "mask": "boxes, labels, masks",
        "keypoint": "boxes, labels, 17 keypoints",
    }
    return Architecture(
        name=name,
        domain="vision",
        task="detection",
        benchmark="coco",
        year=info.year,
        builder=FULL_BUILDERS[name],
        tiny_builder=TINY_BUILDERS[name],
        batch_factory=detection_batch_factory(info.kind),
        loss_fn=detection_loss,
        loss_name=f"sum of the model's training losses (synthetic targets: {targets[info.kind]}; {OBJECTS_CITATION})",
        forward_fn=detection_forward,
        optimizer=optimizer,
        size_kind="resolution",
        default_size=info.size,
        tiny_size=TINY_SIZE,
        reference=ReferenceMetric(
            "box_ap",
            meta.box_map,
            torchvision_citation(meta.weights, '_metrics["COCO-val2017"]["box_map"]', meta.recipe),
        ),
        recipe=recipe,
        published_params=meta.params,
        published_gmacs=meta.gmacs,
        published_source=torchvision_citation(
            meta.weights,
            "num_params and _ops (GMACs for one 224 px image, which the model's transform "
            f"resizes to {info.size} px, eval, batch 1)",
            meta.recipe,
        )
        + (_OPS_NOTE if name in OPS_DEPEND_ON_DETECTIONS else ""),
        family=info.family,
        description=f"torchvision {name} ({info.paper}), {info.size} px input",
        tags=frozenset({"torchvision"}),
        source=__name__,
    )


ARCHITECTURES = [register(make_architecture(n, m)) for n, m in DETECTION.items()]
