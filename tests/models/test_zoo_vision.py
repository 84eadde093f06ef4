"""The torchvision zoo against torchvision's published metadata, counted on the meta device.

- the stored metadata table (models/_vision_meta.py, read at registration without importing
  torchvision) equals the installed torchvision's weights metadata;
- every full-size network, built with no memory on the meta device, has exactly
  `meta["num_params"]` parameters (vit_h_14 at 518 px included);
- resolutions are the crop sizes of the weights' transforms, and ViT/MaxViT (whose constructors
  fix the input size) accept them;
- every published figure carries a citation, and recipe hardware names a known processor.
"""

from __future__ import annotations

import csv

import pytest
import torch
from torch.nn import functional as F

from harness.arch.registry import get, list_architectures
from harness.arch.spec import Architecture
from harness.data import REFERENCE_DIR
from harness.errors import ConfigurationError
from models._vision_meta import CLASSIFICATION, DETECTION, TORCHVISION_VERSION, read_installed

IMAGENET = [a for a in list_architectures(benchmark="imagenet") if a.source == "models.imagenet"]
COCO = [a for a in list_architectures(benchmark="coco") if a.source == "models.coco"]
VISION = IMAGENET + COCO


@pytest.fixture(scope="module")
def installed():
    return read_installed()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # small CPU work: one intra-op thread is faster than two on a shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_counts_and_names():
    assert len(IMAGENET) >= 80 and len(COCO) >= 8
    assert {a.name for a in IMAGENET} == set(CLASSIFICATION)
    assert {a.name for a in COCO} == set(DETECTION)
    assert len(list_architectures(benchmark="imagenet")) >= 80
    assert len(list_architectures(benchmark="coco")) >= 8


def test_stored_metadata_matches_installed_torchvision(installed):
    import torchvision

    cls, det = installed
    if torchvision.__version__.split("+")[0] == TORCHVISION_VERSION:
        assert set(cls) == set(CLASSIFICATION) and set(det) == set(DETECTION)
    for stored, live in ((CLASSIFICATION, cls), (DETECTION, det)):
        for name, meta in stored.items():
            if name in live:
                assert live[name] == meta, (
                    f"{name}: torchvision's metadata changed; regenerate the table with "
                    "`python -m models._vision_meta`"
                )


# GoogLeNet trains with two auxiliary heads; torchvision drops them when it loads its weights, so
# meta["num_params"] counts the network without them. Each head (InceptionAux(in, 1000)) is a
# bias-free 1x1 conv in->128, BatchNorm(128), Linear(2048, 1024) and Linear(1024, 1000).
def _inception_aux_params(in_channels: int) -> int:
    return in_channels * 128 + 2 * 128 + (2048 * 1024 + 1024) + (1024 * 1000 + 1000)


@pytest.mark.parametrize("arch", VISION, ids=[a.name for a in VISION])
def test_full_size_parameter_count_on_meta_device(arch: Architecture):
    with torch.device("meta"):
        model = arch.build()
    params = dict(model.named_parameters())
    assert all(p.is_meta for p in params.values()), "the build allocated real weights"
    total = sum(p.numel() for p in params.values())
    if arch.name == "googlenet":
        aux = sum(p.numel() for n, p in params.items() if n.startswith(("aux1.", "aux2.")))
        assert aux == _inception_aux_params(512) + _inception_aux_params(528)
        total -= aux
    assert total == arch.published_params


@pytest.mark.parametrize("name", ["vit_b_16", "vit_l_32", "vit_h_14", "maxvit_t"])
def test_fixed_size_networks_accept_their_resolution(name: str):
    arch = get(name)
    with torch.device("meta"):
        model = arch.build()
    batch = arch.example_batch(1, device="meta")
    with torch.no_grad():
        out = arch.forward(model, batch)
    assert out.shape == (1, 1000)


def test_resolutions_are_the_weights_crop_sizes(installed):
    cls, _ = installed
    for arch in IMAGENET:
        if arch.name in cls:
            assert arch.default_size == cls[arch.name].crop, arch.name
    assert get("vit_h_14").default_size == 518 and get("inception_v3").default_size == 299
    sizes = {a.name: a.default_size for a in COCO}
    assert sizes["fasterrcnn_resnet50_fpn"] == 800 and sizes["ssd300_vgg16"] == 300
    assert sizes["ssdlite320_mobilenet_v3_large"] == 320


def _processor_aliases() -> set[str]:
    with open(REFERENCE_DIR / "processor_aliases.csv", newline="", encoding="utf-8") as f:
        return {row["alias"] for row in csv.DictReader(f)}


@pytest.mark.parametrize("arch", VISION, ids=[a.name for a in VISION])
def test_published_figures_are_cited(arch: Architecture):
    ref = arch.reference
    assert ref is not None and 0 < ref.value < 100
    weights = (CLASSIFICATION | DETECTION)[arch.name].weights
    for citation in (ref.citation, arch.published_source):
        assert weights in citation and f"torchvision {TORCHVISION_VERSION}" in citation
    assert arch.optimizer.citation and arch.recipe.citation
    examples = {1_281_167: "1,281,167", 118_287: "118,287"}
    assert examples[arch.recipe.examples_per_epoch] in arch.recipe.citation
    if arch.recipe.processor_type is not None:
        assert arch.recipe.processor_type in _processor_aliases()
    assert arch.year is not None and 2012 <= arch.year <= 2022
    assert "arXiv" in arch.description or "NeurIPS" in arch.description


def test_paper_hardware_from_reference_rows():
    alexnet = get("alexnet").recipe
    assert (alexnet.processor_type, alexnet.processor_count, alexnet.train_hours) == (
        "GTX 580",
        2,
        132,
    )
    vgg16 = get("vgg16").recipe
    assert (vgg16.processor_count, vgg16.train_hours, vgg16.epochs) == (4, 420, 74)
    assert "imagenet.csv" in alexnet.citation and "imagenet.csv" in vgg16.citation


@pytest.mark.parametrize("arch", VISION, ids=[a.name for a in VISION])
def test_tiny_variant_is_small(arch: Architecture):
    with torch.device("meta"):
        tiny = arch.build(tiny=True)
    params = sum(p.numel() for p in tiny.parameters())
    # Inception-v3's blocks have fixed widths: its tiny form is the full network at 75 px
    limit = 30_000_000 if arch.name == "inception_v3" else 1_500_000
    assert params < limit and params < arch.published_params


def test_auxiliary_losses_use_published_weights():
    for name, weight in (("googlenet", 0.3), ("inception_v3", 0.4)):
        arch = get(name)
        torch.manual_seed(0)
        model = arch.build(tiny=True)
        batch = arch.example_batch(2, tiny=True)
        torch.manual_seed(1)
        loss = arch.training_loss(model, batch)
        torch.manual_seed(1)  # the same dropout masks
        out = model(*batch.args)
        y = batch.targets
        aux = [out.aux_logits1, out.aux_logits2] if name == "googlenet" else [out.aux_logits]
        expected = F.cross_entropy(out.logits, y) + weight * sum(F.cross_entropy(a, y) for a in aux)
        assert torch.allclose(loss, expected), name
        assert f"{weight} x" in arch.loss_name


def test_inception_v3_training_needs_two_examples():
    arch = get("inception_v3")
    model = arch.build(tiny=True)
    with pytest.raises(ConfigurationError, match="batch of at least 2"):
        arch.training_loss(model, arch.example_batch(1, tiny=True))


@pytest.mark.parametrize("name", ["maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn"])
def test_detection_targets_are_valid_at_full_size(name: str):
    arch = get(name)
    batch = arch.example_batch(2)
    size = arch.default_size
    images = batch.args[0]
    assert len(images) == 2 and all(img.shape == (3, size, size) for img in images)
    assert all(img.min() >= 0 and img.max() <= 1 for img in images)
    for t in batch.targets:
        b = t["boxes"]
        assert b.shape == (7, 4)
        assert (b[:, 0] < b[:, 2]).all() and (b[:, 1] < b[:, 3]).all()
        assert (b >= 0).all() and (b <= size).all()
        high = 2 if name.startswith("keypoint") else 91
        assert ((t["labels"] >= 1) & (t["labels"] < high)).all()
        if "masks" in t:
            m = t["masks"]
            assert m.shape == (7, size, size) and m.dtype == torch.uint8
            # each mask is its box: the box area in pixels, within rounding at the edges
            area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            assert (
                (m.sum(dim=(1, 2)) - area).abs() <= 2 * (b[:, 2] - b[:, 0] + b[:, 3] - b[:, 1]) + 4
            ).all()
        if "keypoints" in t:
            k = t["keypoints"]
            assert k.shape == (7, 17, 3)
            assert (k[..., 0] >= b[:, None, 0]).all() and (k[..., 0] <= b[:, None, 2]).all()
            assert (k[..., 1] >= b[:, None, 1]).all() and (k[..., 1] <= b[:, None, 3]).all()


@pytest.mark.parametrize(
    "name", ["fasterrcnn_resnet50_fpn", "retinanet_resnet50_fpn", "ssd300_vgg16"]
)
def test_v1_detectors_are_built_as_trained(name: str):
    """Frozen BatchNorm and frozen early stages, as torchvision builds them with ImageNet weights."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    with torch.device("meta"):
        model = get(name).build()
    body = model.backbone.body if hasattr(model.backbone, "body") else model.backbone.features
    trainable = {n.split(".")[0] for n, p in body.named_parameters() if p.requires_grad}
    frozen = {n.split(".")[0] for n, p in body.named_parameters() if not p.requires_grad}
    if name == "ssd300_vgg16":  # 4 of 5 VGG stages trainable: the first two convolutions frozen
        assert frozen == {"0", "2"}
    else:
        assert frozen == {"conv1", "layer1"} and trainable == {"layer2", "layer3", "layer4"}
        assert any(isinstance(m, FrozenBatchNorm2d) for m in body.modules())
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in body.modules())
