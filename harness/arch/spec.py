"""Architecture specs: the records every network of the zoo is described by.

An `Architecture` says everything the rest of the harness needs to know about one network, and
nothing about how it is measured: how to build it (full size, and a tiny variant for CPU tests),
how to make an example batch (inputs and training targets), its training loss, the optimizer of
its published recipe, its reference metric and the published training run, each with a citation.

Architectures come from three places, in this order:
1. the modules of the `models` package (each registers with `@architecture` or `register`);
2. the `harness.architectures` entry-point group (third-party packages);
3. a `path/to/file.py:name` reference, accepted wherever a name is.

Nothing here builds a network: listing the zoo costs imports, not parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from harness.errors import ConfigurationError

DOMAINS: tuple[str, ...] = ("vision", "nlp", "custom")


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceMetric:
    """A published quality figure, in percent (top-1 accuracy, box AP, F1 or BLEU)."""

    name: str  # "top1_acc", "box_ap", "f1", "bleu"
    value: float  # percent, 0..100
    citation: str
    claimed: bool = False  # given by the user (`harness compare --top1`), not published

    @property
    def error(self) -> float:
        """The paper's error in [0, 1]: 1 - value/100 (for BLEU this is not an error rate)."""
        return 1.0 - self.value / 100.0


@dataclass(frozen=True)
class OptimizerSpec:
    """The optimizer of the published training recipe."""

    name: str  # "sgd", "adam", "adamw", "rmsprop"
    lr: float
    options: Mapping[str, Any] = field(default_factory=dict)
    citation: str = ""

    _CLASSES = {
        "sgd": "SGD",
        "adam": "Adam",
        "adamw": "AdamW",
        "rmsprop": "RMSprop",
        "adagrad": "Adagrad",
        "adadelta": "Adadelta",
    }

    def build(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        try:
            cls = getattr(torch.optim, self._CLASSES[self.name])
        except KeyError:
            raise ConfigurationError(
                f"unknown optimizer {self.name!r}; use one of {', '.join(self._CLASSES)}"
            ) from None
        return cls(params, lr=self.lr, **dict(self.options))


@dataclass(frozen=True)
class TrainingRecipe:
    """The published training run, used to project a measured step to a whole run.

    `processor_type` names a row of harness/data/reference/processors.csv (through its aliases).
    Fields that the source does not state stay None; `citation` says where the rest came from.
    """

    epochs: float | None = None
    examples_per_epoch: int | None = None
    batch_size: int | None = None
    precision: str = "fp32"
    processor_type: str | None = None
    processor_count: int | None = None
    train_hours: float | None = None
    citation: str = ""

    @property
    def examples(self) -> float | None:
        """Training examples seen in the whole run (epochs x examples per epoch)."""
        if self.epochs is None or self.examples_per_epoch is None:
            return None
        return self.epochs * self.examples_per_epoch

    def steps(self, batch_size: int | None = None) -> float | None:
        """Optimizer steps in the whole run at `batch_size` (default: the recipe's own)."""
        b = batch_size or self.batch_size
        n = self.examples
        if n is None or not b:
            return None
        return math.ceil(n / b)


@dataclass(frozen=True)
class Batch:
    """One example batch: positional and keyword inputs to the model, and training targets.

    `size` is the number of examples. Tensors may live on any device, "meta" included.
    """

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    targets: Any
    size: int

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on another device (floating-point dtypes kept)."""
        return replace(
            self,
            args=_to_device(self.args, device),
            kwargs=_to_device(dict(self.kwargs), device),
            targets=_to_device(self.targets, device),
        )


def _to_device(obj: Any, device: torch.device | str) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, tuple):
        return tuple(_to_device(o, device) for o in obj)
    if isinstance(obj, list):
        return [_to_device(o, device) for o in obj]
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


BatchFactory = Callable[..., Batch]
"""`factory(batch_size, size, *, tiny, device, dtype, generator) -> Batch`.

`size` is the resolution (vision) or sequence length (NLP). `dtype` applies to floating-point
inputs only (token ids stay integer). `generator` seeds the random inputs and targets.
"""

LossFn = Callable[[nn.Module, Batch], torch.Tensor]
"""`loss(model, batch) -> scalar`: the forward pass in training mode plus the training loss."""

ForwardFn = Callable[[nn.Module, Batch], Any]
"""`forward(model, batch) -> output`: one inference pass (no targets)."""


def default_forward(model: nn.Module, batch: Batch) -> Any:
    return model(*batch.args, **batch.kwargs)


@dataclass(frozen=True)
class Architecture:
    """Everything the harness needs to know about one network.

    `build()` makes the full-size network with random weights (no downloads) on the current
    default device, so `with torch.device("meta"): arch.build()` allocates nothing.
    `build_tiny()` makes a small member of the same family for CPU tests.
    """

    name: str
    domain: str  # "vision", "nlp", "custom"
    task: str  # "classification", "detection", "question-answering", "token-classification", "translation", ...
    benchmark: str | None  # one of BENCHMARKS, or None for a custom network
    year: int | None
    builder: Callable[[], nn.Module]
    tiny_builder: Callable[[], nn.Module]
    batch_factory: BatchFactory
    loss_fn: LossFn
    optimizer: OptimizerSpec
    size_kind: str  # "resolution" or "seq_len"
    default_size: int
    tiny_size: int
    loss_name: str = "cross-entropy"
    forward_fn: ForwardFn = default_forward
    reference: ReferenceMetric | None = None
    recipe: TrainingRecipe = field(default_factory=TrainingRecipe)
    published_params: int | None = None  # as published (e.g. torchvision meta["num_params"])
    published_gmacs: float | None = None  # forward GMACs per example as published
    published_source: str = ""  # citation for published_params / published_gmacs
    family: str = ""
    description: str = ""
    tags: frozenset[str] = frozenset()
    source: str = ""  # where the spec was found: "models.imagenet", an entry point, a file

    # -- building -----------------------------------------------------------------------------

    def build(self, *, tiny: bool = False) -> nn.Module:
        return (self.tiny_builder if tiny else self.builder)()

    def example_batch(
        self,
        batch_size: int,
        *,
        size: int | None = None,
        tiny: bool = False,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
    ) -> Batch:
        """A batch of random inputs and training targets of the right shapes and ranges."""
        if batch_size < 1:
            raise ConfigurationError(f"batch size must be at least 1, got {batch_size}")
        if size is None:
            size = self.tiny_size if tiny else self.default_size
        if size < 1:
            raise ConfigurationError(f"{self.size_kind} must be at least 1, got {size}")
        gen_device = "cpu" if str(device) == "meta" else device
        generator = torch.Generator(device=gen_device).manual_seed(seed)
        return self.batch_factory(
            batch_size, size, tiny=tiny, device=device, dtype=dtype, generator=generator
        )

    def training_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self.loss_fn(model, batch)

    def forward(self, model: nn.Module, batch: Batch) -> Any:
        return self.forward_fn(model, batch)

    # -- describing ---------------------------------------------------------------------------

    @property
    def error(self) -> float | None:
        return self.reference.error if self.reference else None

    def summary(self) -> dict[str, Any]:
        """A flat, JSON-friendly description (what `harness info` prints)."""
        ref = self.reference
        r = self.recipe
        return {
            "name": self.name,
            "family": self.family,
            "domain": self.domain,
            "task": self.task,
            "benchmark": self.benchmark,
            "year": self.year,
            "description": self.description,
            "size_kind": self.size_kind,
            "default_size": self.default_size,
            "tiny_size": self.tiny_size,
            "loss": self.loss_name,
            "optimizer": f"{self.optimizer.name} lr={self.optimizer.lr:g} "
            + " ".join(f"{k}={v}" for k, v in self.optimizer.options.items()),
            "optimizer_citation": self.optimizer.citation,
            "reference_metric": ref.name if ref else None,
            "reference_value": ref.value if ref else None,
            "reference_citation": ref.citation if ref else None,
            "reference_claimed": bool(ref and ref.claimed),
            "published_params": self.published_params,
            "published_gmacs": self.published_gmacs,
            "published_source": self.published_source,
            "recipe_epochs": r.epochs,
            "recipe_examples_per_epoch": r.examples_per_epoch,
            "recipe_batch_size": r.batch_size,
            "recipe_precision": r.precision,
            "recipe_processor_type": r.processor_type,
            "recipe_processor_count": r.processor_count,
            "recipe_train_hours": r.train_hours,
            "recipe_citation": r.citation,
            "tags": sorted(self.tags),
            "source": self.source,
        }


# --------------------------------------------------------------------------------------------
# Helpers for batch factories (shared by the zoo)
# --------------------------------------------------------------------------------------------


def _rand(shape, dtype, device, generator) -> torch.Tensor:
    if str(device) == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    return torch.randn(shape, generator=generator, device=generator.device).to(device, dtype)


def _randint(high, shape, device, generator) -> torch.Tensor:
    if str(device) == "meta":
        return torch.empty(shape, dtype=torch.long, device="meta")
    return torch.randint(0, high, shape, generator=generator, device=generator.device).to(device)


random_float = _rand
random_int = _randint
