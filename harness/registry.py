"""Architecture specs, their registration, and their discovery.

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

import difflib
import fnmatch
import importlib
import importlib.util
import math
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch
from torch import nn

from harness.benchmark_ids import BENCHMARKS
from harness.errors import ArchitectureLoadError, ConfigurationError, UnknownArchitectureError

DOMAINS: tuple[str, ...] = ("vision", "nlp", "custom")
ENTRY_POINT_GROUP = "harness.architectures"


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceMetric:
    """A published quality figure, in percent (top-1 accuracy, box AP, F1 or BLEU)."""

    name: str  # "top1_acc", "box_ap", "f1", "bleu"
    value: float  # percent, 0..100
    citation: str

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

    `processor_type` names a row of benchmarks/reference/processors.csv (through its aliases).
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
# Registration
# --------------------------------------------------------------------------------------------

_REGISTRY: dict[str, Architecture] = {}
_DISCOVERED = False


def register(arch: Architecture, *, replace_existing: bool = False) -> Architecture:
    """Add an architecture to the registry (names are unique)."""
    if arch.benchmark is not None and arch.benchmark not in BENCHMARKS:
        raise ValueError(f"{arch.name}: unknown benchmark {arch.benchmark!r}")
    if arch.size_kind not in ("resolution", "seq_len"):
        raise ValueError(f"{arch.name}: size_kind must be 'resolution' or 'seq_len'")
    if (
        arch.name in _REGISTRY
        and not replace_existing
        and _REGISTRY[arch.name] is not arch
        and not _same_definition(_REGISTRY[arch.name], arch)
    ):
        raise ConfigurationError(
            f"architecture {arch.name!r} is registered twice "
            f"({_REGISTRY[arch.name].source} and {arch.source or _caller_module()}); rename one"
        )
    if not arch.source:
        arch = replace(arch, source=_caller_module())
    _REGISTRY[arch.name] = arch
    return arch


def _same_definition(a: Architecture, b: Architecture) -> bool:
    """The same file imported twice (as `models.x` and as `models/x.py:name`) is no clash."""
    ca, cb = getattr(a.builder, "__code__", None), getattr(b.builder, "__code__", None)
    return (
        ca is not None
        and cb is not None
        and (ca.co_filename, ca.co_firstlineno) == (cb.co_filename, cb.co_firstlineno)
    )


def architecture(**fields: Any) -> Callable[[Callable[[], nn.Module]], Architecture]:
    """Decorator: turn a builder function into a registered `Architecture`.

        @architecture(name="mynet", domain="vision", task="classification", ...)
        def mynet() -> nn.Module: ...

    `name` defaults to the function's name; every other `Architecture` field is a keyword.
    A decorated function in a file outside the repository is loadable as `file.py:mynet`.
    """

    def wrap(fn: Callable[[], nn.Module]) -> Architecture:
        spec = dict(fields)
        spec.setdefault("name", fn.__name__)
        spec.setdefault("description", (fn.__doc__ or "").strip().split("\n")[0])
        spec.setdefault("source", fn.__module__)
        return register(Architecture(builder=fn, **spec))

    return wrap


def _caller_module() -> str:
    frame = sys._getframe(2)
    return frame.f_globals.get("__name__", "")


# --------------------------------------------------------------------------------------------
# Discovery and lookup
# --------------------------------------------------------------------------------------------


def discover() -> None:
    """Import the zoo and the entry-point plug-ins (once)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import models

    for info in pkgutil.iter_modules(models.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"models.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plug-in must not take the zoo down
            print(f"warning: entry point {ep.name!r} failed to load: {exc}", file=sys.stderr)


def all_architectures() -> list[Architecture]:
    discover()
    return list(_REGISTRY.values())


def list_architectures(
    pattern: str | None = None,
    *,
    domain: str | None = None,
    task: str | None = None,
    benchmark: str | None = None,
    tag: str | None = None,
) -> list[Architecture]:
    """Registered architectures, filtered; `pattern` is a glob like 'vit*' (timm's way)."""
    out = []
    for a in all_architectures():
        if pattern and not fnmatch.fnmatch(a.name, pattern):
            continue
        if domain and a.domain != domain:
            continue
        if task and a.task != task:
            continue
        if benchmark and a.benchmark != benchmark:
            continue
        if tag and tag not in a.tags:
            continue
        out.append(a)
    return sorted(
        out,
        key=lambda a: (BENCHMARKS.index(a.benchmark) if a.benchmark in BENCHMARKS else 99, a.name),
    )


def get(name: str) -> Architecture:
    """A registered architecture by exact name; an unknown name suggests close matches."""
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `harness list` shows them all"
        raise UnknownArchitectureError(f"unknown architecture {name!r}{hint}") from None


def is_file_reference(spec: str) -> bool:
    path, sep, attr = spec.rpartition(":")
    return bool(sep) and path.endswith(".py") and bool(attr)


def resolve(
    spec: str,
    *,
    input_shape: Sequence[int] | None = None,
    seq_len: int | None = None,
    vocab: int | None = None,
) -> Architecture:
    """A name, or `path/to/file.py:name`, to an Architecture.

    `name` in a file is either an Architecture (made with `@architecture`) or a plain function
    returning an nn.Module; the latter needs `input_shape` (float input, first dimension the
    batch) or `seq_len` and `vocab` (token ids) to make its example batch.
    """
    if not is_file_reference(spec):
        return get(spec)
    return load_file_reference(spec, input_shape=input_shape, seq_len=seq_len, vocab=vocab)


def load_file_reference(
    spec: str,
    *,
    input_shape: Sequence[int] | None = None,
    seq_len: int | None = None,
    vocab: int | None = None,
) -> Architecture:
    path_str, _, attr = spec.rpartition(":")
    path = Path(path_str).expanduser()
    if not path.is_file():
        raise ArchitectureLoadError(f"{spec}: file {path} does not exist")
    module_name = f"harness_user_{abs(hash(str(path.resolve())))}"
    module = sys.modules.get(module_name) or _imported_module_at(path)
    if module is None:
        mspec = importlib.util.spec_from_file_location(module_name, path)
        if mspec is None or mspec.loader is None:
            raise ArchitectureLoadError(f"{spec}: {path} is not an importable Python file")
        module = importlib.util.module_from_spec(mspec)
        sys.modules[module_name] = module
        try:
            mspec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise ArchitectureLoadError(
                f"{spec}: importing {path} failed: {type(exc).__name__}: {exc}"
            ) from exc
    if not hasattr(module, attr):
        names = [n for n in vars(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ArchitectureLoadError(f"{spec}: {path} has no attribute {attr!r}{hint}")
    obj = getattr(module, attr)
    if isinstance(obj, Architecture):
        return replace(obj, source=str(path))
    if not callable(obj):
        raise ArchitectureLoadError(
            f"{spec}: {attr!r} is a {type(obj).__name__}, not an Architecture or a function "
            "returning an nn.Module"
        )
    return architecture_from_module_factory(
        obj,
        name=f"{path.stem}:{attr}",
        input_shape=input_shape,
        seq_len=seq_len,
        vocab=vocab,
        source=str(path),
    )


def _imported_module_at(path: Path) -> Any:
    """A module already imported from `path` (a zoo file named by path), so it runs once."""
    target = path.resolve()
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and f.endswith(".py") and Path(f).resolve() == target:
            return mod
    return None


def architecture_from_module_factory(
    factory: Callable[[], nn.Module],
    *,
    name: str,
    input_shape: Sequence[int] | None = None,
    seq_len: int | None = None,
    vocab: int | None = None,
    source: str = "",
) -> Architecture:
    """Wrap a plain `() -> nn.Module` in an Architecture with a generic batch and loss.

    The loss is cross-entropy when the output looks like class logits (N, C) or token logits
    (N, L, V) against random targets, and the mean square of the output otherwise; the
    optimizer is SGD (momentum 0.9). Both are stated in the record's `loss` and `optimizer`.
    """
    if input_shape is None and seq_len is None:
        raise ArchitectureLoadError(
            f"{name}: a plain function needs --input-shape N,C,H,W (float input) or "
            "--seq-len L --vocab V (token ids) to make its example batch"
        )
    if seq_len is not None and vocab is None:
        raise ArchitectureLoadError(f"{name}: --seq-len needs --vocab V (the token-id range)")

    def checked_build() -> nn.Module:
        try:
            model = factory()
        except Exception as exc:
            raise ArchitectureLoadError(
                f"{name}: calling the factory failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(model, nn.Module):
            raise ArchitectureLoadError(
                f"{name}: the factory returned a {type(model).__name__}, not an nn.Module"
            )
        return model

    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) < 2 or any(s < 1 for s in shape):
            raise ArchitectureLoadError(f"{name}: --input-shape must be N,... with positive sizes")
        default_size = shape[-1]

        def factory_batch(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
            x = _rand((batch_size, *shape[1:]), dtype, device, generator)
            return Batch(args=(x,), kwargs={}, targets=None, size=batch_size)

        size_kind = "resolution"
    else:
        default_size = int(seq_len)  # type: ignore[arg-type]
        v = int(vocab)  # type: ignore[arg-type]

        def factory_batch(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
            ids = _randint(v, (batch_size, size), device, generator)
            return Batch(args=(ids,), kwargs={}, targets=None, size=batch_size)

        size_kind = "seq_len"

    def generic_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        out = model(*batch.args, **batch.kwargs)
        out = _first_tensor(out)
        if out.is_floating_point() and out.dim() in (2, 3) and out.shape[-1] > 1:
            gen = torch.Generator(device="cpu").manual_seed(0)
            classes = out.shape[-1]
            tgt = torch.randint(0, classes, out.shape[:-1], generator=gen).to(out.device)
            return nn.functional.cross_entropy(out.reshape(-1, classes).float(), tgt.reshape(-1))
        return out.float().pow(2).mean()

    return Architecture(
        name=name,
        domain="custom",
        task="custom",
        benchmark=None,
        year=None,
        builder=checked_build,
        tiny_builder=checked_build,
        batch_factory=factory_batch,
        loss_fn=generic_loss,
        loss_name="cross-entropy on logits, else mean square (generic)",
        optimizer=OptimizerSpec("sgd", 0.1, {"momentum": 0.9}, citation="harness default"),
        size_kind=size_kind,
        default_size=default_size,
        tiny_size=default_size,
        source=source,
        description="user-supplied nn.Module factory",
    )


def _first_tensor(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        for key in ("logits", "loss", "out"):
            if key in out and isinstance(out[key], torch.Tensor):
                return out[key]
        out = list(out.values())
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    if isinstance(out, (list, tuple)):
        for o in out:
            try:
                return _first_tensor(o)
            except TypeError:
                continue
    raise TypeError(f"model output of type {type(out).__name__} holds no tensor")


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
