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
where the model needs them. The loss is the sum of the model's loss dict in train mode. The
training recipes (torchvision's, for each DEFAULT weights) are data, in
harness/data/recipes/coco.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.arch.recipes import published_recipe
from harness.arch.registry import register
from harness.arch.spec import Architecture, ReferenceMetric

from ._vision_common import torchvision_citation
from ._vision_detection import FULL_BUILDERS
from ._vision_detection_targets import (
    OBJECTS_CITATION,
    detection_batch_factory,
    detection_forward,
    detection_loss,
)
from ._vision_detection_tiny import TINY_BUILDERS, TINY_SIZE
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


def make_architecture(name: str, meta: DetectionMeta) -> Architecture:
    info = DETECTORS[name]
    optimizer, recipe = published_recipe("coco", name)
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
        tags=frozenset(
            {"torchvision", "paper", "compare"} if name in PAPER_NETWORKS else {"torchvision"}
        ),
        source=__name__,
    )


# Zoo detectors whose architecture is a point of the paper's COCO data
# (harness/data/reference/coco.csv, the model column): the others differ in backbone.
PAPER_NETWORKS = {
    "fasterrcnn_resnet50_fpn": "Detectron baseline: Faster R-CNN R-50-FPN 1x",
}

ARCHITECTURES = [register(make_architecture(n, m)) for n, m in DETECTION.items()]
