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
paper's run, with hardware and hours from harness/data/reference/imagenet.csv. Every recipe carries
its citation; figures a source does not give stay None.

Nothing here imports torchvision at import time: listing the zoo must stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from harness.arch.registry import register
from harness.arch.spec import Architecture, LossFn, OptimizerSpec, ReferenceMetric, TrainingRecipe

from . import _vision_tiny as tiny
from ._vision_common import (
    GOOGLENET_AUX_CITATION,
    IMAGENET_TRAIN_CITATION,
    IMAGENET_TRAIN_IMAGES,
    INCEPTION_V3_AUX_CITATION,
    TV_CLS_README,
    classification_batch,
    cross_entropy_loss,
    eval_forward,
    googlenet_loss,
    inception_v3_loss,
    recipe_from_row,
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
# Published recipes
# --------------------------------------------------------------------------------------------

SWAG = "Singh et al., Revisiting Weakly Supervised Pre-Training of Visual Perception Models (SWAG), arXiv:2201.08371"


def _recipe(
    epochs: float | None,
    batch: int | None,
    citation: str,
    *,
    gpus: int | None = None,
    gpu: str | None = None,
    precision: str = "fp32",
) -> TrainingRecipe:
    return TrainingRecipe(
        epochs=epochs,
        examples_per_epoch=IMAGENET_TRAIN_IMAGES,
        batch_size=batch,
        precision=precision,
        processor_type=gpu,
        processor_count=gpus,
        citation=f"{citation}; examples per epoch: {IMAGENET_TRAIN_CITATION}",
    )


def _sgd(lr: float, wd: float, citation: str, nesterov: bool = False) -> OptimizerSpec:
    opts = {"momentum": 0.9, "weight_decay": wd} | ({"nesterov": True} if nesterov else {})
    return OptimizerSpec("sgd", lr, opts, citation=citation)


# torchvision's "new recipe" (issue #3995, blog "How to Train State-Of-The-Art Models Using
# TorchVision's Latest Primitives", and the pull requests that trained each weight with it)
_NEW = (
    "torchvision new recipe: torchrun --nproc_per_node=8 train.py --batch-size 128 --lr 0.5 "
    "--lr-scheduler cosineannealinglr --lr-warmup-epochs 5 --epochs 600 --weight-decay 0.00002 "
    "--norm-weight-decay 0.0 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 "
    "--auto-augment ta_wide --train-crop-size 176 --model-ema --ra-sampler --ra-reps 4 "
    "(github.com/pytorch/vision issue #3995; the same command in PRs #5560, #5906, #5935, #6019; "
    "per-model lr/weight-decay/crop tweaks of the '-with-...' variants are not reflected; 8 GPUs "
    "x 128 = 1024 per step, GPU model not stated)"
)
_TV_DEFAULT = (
    f"{TV_CLS_README}: default parameters (--batch_size 32 per GPU on 8 GPUs, --epochs 90, "
    "--lr 0.1, --momentum 0.9, --wd 1e-4, --lr-step-size 30, --lr-gamma 0.1)"
)


def recipe_for(name: str, meta: ClassificationMeta) -> tuple[OptimizerSpec, TrainingRecipe]:
    """The optimizer and training run that produced `name`'s DEFAULT weights (see module doc)."""
    url = meta.recipe
    anchor = url.rsplit("#", 1)[-1] if "#" in url else ""
    fam = family_of(name).key

    if name == "alexnet":
        cite = (
            "Krizhevsky et al., NeurIPS 2012, Sec. 5: SGD, batch 128, momentum 0.9, weight decay "
            "0.0005, lr 0.01, 'roughly 90 cycles through the training set' (the reference top-1 "
            "is torchvision's re-training with lr 0.01 for 90 epochs on 8 GPUs)"
        )
        return _sgd(0.01, 5e-4, cite), recipe_from_row(
            "imagenet",
            "AlexNet (1 CNN)",
            epochs=90,
            examples_per_epoch=IMAGENET_TRAIN_IMAGES,
            batch_size=128,
            recipe_citation=f"{cite}; examples per epoch: {IMAGENET_TRAIN_CITATION}",
        )
    if fam == "vgg" and not name.endswith("_bn"):
        cite = (
            "Simonyan & Zisserman, arXiv:1409.1556, Sec. 3.1: batch 256, momentum 0.9, weight "
            "decay 5e-4, lr 0.01, stopped after 370K iterations (74 epochs); Sec. 3.3: four NVIDIA "
            "Titan Black GPUs, 2-3 weeks per net depending on the architecture (the reference "
            "top-1 is torchvision's re-training with lr 0.01 for 90 epochs)"
        )
        opt = _sgd(0.01, 5e-4, cite)
        rows = {
            "vgg16": "VGG-16 (config D, 1 net, multi-crop+dense)",
            "vgg19": "VGG-19 (config E, 1 net, multi-crop+dense)",
        }
        if name in rows:
            return opt, recipe_from_row(
                "imagenet",
                rows[name],
                epochs=74,
                examples_per_epoch=IMAGENET_TRAIN_IMAGES,
                batch_size=256,
                recipe_citation=f"{cite}; examples per epoch: {IMAGENET_TRAIN_CITATION}",
            )
        return opt, _recipe(74, 256, cite, gpus=4, gpu="GTX Titan Black")
    if name == "inception_v3":
        cite = (
            "Szegedy et al., arXiv:1512.00567, Sec. 8: 50 replicas each on an NVIDIA Kepler GPU, "
            "batch 32 per replica (1600 per step, derived), 100 epochs, RMSProp decay 0.9 and "
            "epsilon 1.0, lr 0.045 decayed by 0.94 every two epochs, gradient clipping 2.0 "
            "(torchvision's weights are ported from that model)"
        )
        opt = OptimizerSpec("rmsprop", 0.045, {"alpha": 0.9, "eps": 1.0}, citation=cite)
        return opt, recipe_from_row(
            "imagenet",
            "Inception-v3 (single crop)",
            epochs=100,
            examples_per_epoch=IMAGENET_TRAIN_IMAGES,
            batch_size=1600,
            recipe_citation=f"{cite}; examples per epoch: {IMAGENET_TRAIN_CITATION}",
        )
    if name == "googlenet":
        cite = (
            "Szegedy et al., arXiv:1409.4842, Sec. 6: asynchronous SGD with momentum 0.9, lr "
            "decreased by 4% every 8 epochs, trained on the DistBelief CPU cluster; the initial lr, "
            "batch size and epochs are not stated (lr 0.01 here is a stand-in: it changes no cost); "
            "torchvision's weights are ported from the original model"
        )
        return OptimizerSpec("sgd", 0.01, {"momentum": 0.9}, citation=cite), _recipe(
            None, None, cite
        )
    if meta.weights.endswith("SWAG_E2E_V1"):
        cite = (
            f"{SWAG}: weakly supervised pre-training on 3.6B Instagram images, then end-to-end "
            "fine-tuning on ImageNet-1k; neither run is an ImageNet epoch count, so the recipe is "
            "left open; the optimizer here (SGD, momentum 0.9, lr 0.1) is a stand-in, not SWAG's"
        )
        return OptimizerSpec("sgd", 0.1, {"momentum": 0.9}, citation=cite), _recipe(
            None, None, cite
        )
    if "issues/3995" in url or any(f"pull/{n}" in url for n in (5560, 5906, 5935, 6019)):
        return _sgd(0.5, 2e-5, _NEW), _recipe(600, 1024, _NEW, gpus=8, gpu="GPU (model not stated)")
    if anchor in ("alexnet-and-vgg", "resnet"):  # vgg*_bn, resnet18, resnet34
        return _sgd(0.1, 1e-4, _TV_DEFAULT), _recipe(90, 256, _TV_DEFAULT, gpus=8, gpu="V100")
    if anchor == "mobilenetv3-large--small":
        cite = (
            f"{TV_CLS_README}, MobileNetV3: --epochs 600 --opt rmsprop --batch-size 128 (x 8 GPUs) "
            "--lr 0.064 --wd 0.00001 --lr-step-size 2 --lr-gamma 0.973 --auto-augment imagenet "
            "--random-erase 0.2; train.py builds RMSprop with eps=0.0316, alpha=0.9"
        )
        opt = OptimizerSpec(
            "rmsprop",
            0.064,
            {"alpha": 0.9, "eps": 0.0316, "momentum": 0.9, "weight_decay": 1e-5},
            citation=cite,
        )
        return opt, _recipe(600, 1024, cite, gpus=8, gpu="V100")
    if anchor == "efficientnet-v1":  # b0, b2-b7: ported from the TensorFlow originals
        cite = (
            "Tan & Le, arXiv:1905.11946, Sec. 5.2: RMSProp decay 0.9 momentum 0.9, weight decay "
            "1e-5, lr 0.256 decayed by 0.97 every 2.4 epochs; github.com/tensorflow/tpu "
            "models/official/efficientnet/main.py: train_steps 218949 'approximately 350 epochs at "
            "batch size 2048' (torchvision ports these weights via timm / EfficientNet-PyTorch)"
        )
        opt = OptimizerSpec(
            "rmsprop", 0.256, {"alpha": 0.9, "momentum": 0.9, "weight_decay": 1e-5}, citation=cite
        )
        return opt, _recipe(350, 2048, cite)
    if anchor == "efficientnet-v2":
        if name == "efficientnet_v2_l":  # ported from the paper's model
            cite = (
                "Tan & Le, arXiv:2104.00298, Sec. 5.1: RMSProp decay 0.9 momentum 0.9, weight "
                "decay 1e-5, 350 epochs, batch 4096, lr warmed up to 0.256 then decayed by 0.97 "
                "every 2.4 epochs; training times measured on 32 TPU cores (torchvision ports "
                "these weights from the paper)"
            )
            opt = OptimizerSpec(
                "rmsprop",
                0.256,
                {"alpha": 0.9, "momentum": 0.9, "weight_decay": 1e-5},
                citation=cite,
            )
            return opt, _recipe(350, 4096, cite)
        cite = (
            f"{TV_CLS_README}, EfficientNet-V2: --batch-size 128 --lr 0.5 --epochs 600 "
            "--weight-decay 0.00002 (new recipe); 'we trained with 4 nodes, each with 8 GPUs (for a "
            "total of 32 GPUs), and --batch_size 32' (1024 per step)"
        )
        return _sgd(0.5, 2e-5, cite), _recipe(
            600, 1024, cite, gpus=32, gpu="GPU (model not stated)"
        )
    if "1e100/mnasnet_trainer" in url:
        epochs = {"mnasnet0_5": 250, "mnasnet1_0": 200}[name]
        cite = (
            "github.com/pytorch/vision PR #829 (the trainer's author, 1e100): SGD + Nesterov, "
            "momentum 0.9, no weight decay, peak lr 0.8 with 5 warm-up epochs; 250 epochs for "
            "mnasnet0_5, best of 200 epochs for mnasnet1_0; batch size not stated "
            "(github.com/1e100/mnasnet_trainer)"
        )
        return _sgd(0.8, 0.0, cite, nesterov=True), _recipe(epochs, None, cite)
    if "ericsun99" in url:
        cite = (
            "community port (github.com/ericsun99/Shufflenet-v2-Pytorch, torchvision PR #849) "
            "whose training run is not published; optimizer: torchvision's ShuffleNetV2 recipe "
            f"for x1_5 / x2_0 ({_NEW})"
        )
        return _sgd(0.5, 2e-5, cite), _recipe(None, None, cite)
    if "pull/49" in url:  # squeezenet
        cite = (
            "github.com/pytorch/vision PR #49 (Maratyszcza): trained 100 epochs with --lr 0.01 "
            "--weight-decay 0.0002 --batch-size 128 (PyTorch ImageNet example, SGD momentum 0.9)"
        )
        return _sgd(0.01, 2e-4, cite), _recipe(100, 128, cite)
    if "pull/116" in url:  # densenet
        cite = (
            "Huang et al., arXiv:1608.06993, Sec. 4.2: SGD, batch 256 for 90 epochs, lr 0.1 divided "
            "by 10 at epochs 30 and 60, weight decay 1e-4, Nesterov momentum 0.9 (torchvision's "
            "weights: PR #116)"
        )
        return _sgd(0.1, 1e-4, cite, nesterov=True), _recipe(90, 256, cite)
    if fam == "vit":
        runs = {  # name: (gpus, batch per GPU) of the released weights
            "vit_b_16": (64, 64),
            "vit_b_32": (16, 256),
            "vit_l_32": (64, 64),
        }
        if name == "vit_l_16":
            cite = (
                f"{TV_CLS_README}, vit_l_16: --epochs 600 --batch-size 128 --lr 0.5 --weight-decay "
                "0.00002 --clip-grad-norm 1 (SGD, new recipe); released weights: 2 nodes x 8 GPUs "
                "(16 GPUs) with --batch_size 64 (1024 per step)"
            )
            return _sgd(0.5, 2e-5, cite), _recipe(
                600, 1024, cite, gpus=16, gpu="GPU (model not stated)"
            )
        gpus, per_gpu = runs[name]
        cite = (
            f"{TV_CLS_README}, {name}: --epochs 300 --opt adamw --lr 0.003 --wd 0.3 --amp "
            f"--clip-grad-norm 1; released weights: {gpus} GPUs with --batch_size {per_gpu} "
            f"({gpus * per_gpu} per step)"
        )
        opt = OptimizerSpec("adamw", 0.003, {"weight_decay": 0.3}, citation=cite)
        return opt, _recipe(
            300, gpus * per_gpu, cite, gpus=gpus, gpu="GPU (model not stated)", precision="fp16"
        )
    if fam == "convnext":
        cite = (
            f"{TV_CLS_README}, ConvNeXt: --opt adamw --lr 1e-3 --weight-decay 0.05 --epochs 600; "
            "released weights: 2 nodes x 8 GPUs (16 GPUs) with --batch_size 64 (1024 per step)"
        )
        opt = OptimizerSpec("adamw", 1e-3, {"weight_decay": 0.05}, citation=cite)
        return opt, _recipe(600, 1024, cite, gpus=16, gpu="GPU (model not stated)")
    if fam in ("swin", "swin_v2"):
        cite = (
            f"{TV_CLS_README}, SwinTransformer{' V2' if fam == 'swin_v2' else ''}: --epochs 300 "
            "--batch-size 128 (x 8 GPUs) --opt adamw --lr 0.001 --weight-decay 0.05 --amp "
            "--clip-grad-norm 5.0"
        )
        opt = OptimizerSpec("adamw", 1e-3, {"weight_decay": 0.05}, citation=cite)
        return opt, _recipe(300, 1024, cite, gpus=8, gpu="V100", precision="fp16")
    if fam == "maxvit":
        cite = (
            f"{TV_CLS_README}, MaxViT: torchrun --nproc_per_node=8 --n_nodes=4 (32 GPUs) "
            "--epochs 400 --batch-size 128 (4096 per step) --opt adamw --lr 3e-3 --weight-decay "
            "0.05 --amp --clip-grad-norm 1.0"
        )
        opt = OptimizerSpec("adamw", 3e-3, {"weight_decay": 0.05}, citation=cite)
        return opt, _recipe(
            400, 4096, cite, gpus=32, gpu="GPU (model not stated)", precision="fp16"
        )
    raise KeyError(f"{name}: no training recipe for its weights' recipe link {url}")


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


def make_architecture(name: str, meta: ClassificationMeta) -> Architecture:
    fam = family_of(name)
    optimizer, recipe = recipe_for(name, meta)
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
        tags=frozenset({"torchvision"}),
        source=__name__,
    )


ARCHITECTURES = [register(make_architecture(n, m)) for n, m in CLASSIFICATION.items()]
