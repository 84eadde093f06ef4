"""Published training recipes, read from harness/data/recipes/<benchmark>.toml.

A recipe is data: the run that produced a network's published weights (epochs, examples per
epoch, batch size, precision, processors, hours), its optimizer, and the citation for both. The
records here are plain data; harness.arch turns them into the TrainingRecipe and OptimizerSpec
an Architecture carries, taking hardware from a published row where a recipe names one.

File layout: `[defaults]` (values every recipe shares, and `citation_suffix`, appended to each
recipe's citation for the training run), `[text]` (citation fragments, written `{name}` in
citations) and one `[recipe.<id>]` table per recipe, listing the `models` it applies to.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.data import RECIPES_DIR
from harness.errors import ConfigurationError

_RECIPE_KEYS = frozenset(
    {
        "models",
        "citation",
        "published_row",
        "epochs",
        "examples_per_epoch",
        "batch_size",
        "precision",
        "processor_type",
        "processor_count",
        "train_hours",
        "optimizer",
    }
)
_DEFAULT_KEYS = frozenset({"examples_per_epoch", "citation_suffix", "precision"})
_OPTIMIZER_KEYS = frozenset({"name", "lr", "options"})


@dataclass(frozen=True)
class OptimizerEntry:
    """The optimizer of a recipe: a torch.optim name, its learning rate and keyword options."""

    name: str
    lr: float
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeEntry:
    """One recipe as the file states it, with its citation fragments filled in.

    `citation` cites the recipe (the optimizer's citation too); `run_citation` adds the file's
    `citation_suffix` (e.g. where examples per epoch come from). `published_row` names a row of
    reference/<benchmark>.csv whose hardware and hours complete the run.
    """

    key: str
    models: tuple[str, ...]
    citation: str
    run_citation: str
    optimizer: OptimizerEntry
    epochs: float | None = None
    examples_per_epoch: int | None = None
    batch_size: int | None = None
    precision: str = "fp32"
    processor_type: str | None = None
    processor_count: int | None = None
    train_hours: float | None = None
    published_row: str | None = None


def _fill(text: str, fragments: Mapping[str, str], where: str) -> str:
    try:
        return text.format_map(fragments)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigurationError(f"{where}: bad citation fragment {exc}") from None


def _unknown(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(extra)}")


def _optimizer(value: Any, where: str) -> OptimizerEntry:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: needs optimizer = {{ name = ..., lr = ... }}")
    _unknown(value, _OPTIMIZER_KEYS, f"{where}.optimizer")
    return OptimizerEntry(
        name=value["name"], lr=value["lr"], options=MappingProxyType(value.get("options", {}))
    )


def _entry(
    key: str, table: Mapping[str, Any], defaults: Mapping[str, Any], fragments: Mapping[str, str]
) -> RecipeEntry:
    where = f"recipe.{key}"
    _unknown(table, _RECIPE_KEYS, where)
    citation = _fill(table["citation"], fragments, where)
    merged = {**defaults, **table}
    return RecipeEntry(
        key=key,
        models=tuple(table["models"]),
        citation=citation,
        run_citation=citation + defaults.get("citation_suffix", ""),
        optimizer=_optimizer(table.get("optimizer"), where),
        epochs=merged.get("epochs"),
        examples_per_epoch=merged.get("examples_per_epoch"),
        batch_size=merged.get("batch_size"),
        precision=merged.get("precision", "fp32"),
        processor_type=merged.get("processor_type"),
        processor_count=merged.get("processor_count"),
        train_hours=merged.get("train_hours"),
        published_row=merged.get("published_row"),
    )


@cache
def _read(path: Path) -> Mapping[str, RecipeEntry]:
    with open(path, "rb") as f:
        data = tomllib.load(f)
    _unknown(data, frozenset({"defaults", "text", "recipe"}), str(path))
    defaults = data.get("defaults", {})
    _unknown(defaults, _DEFAULT_KEYS, f"{path}: defaults")
    fragments: dict[str, str] = {}
    for name, text in data.get("text", {}).items():  # a fragment may use those before it
        fragments[name] = _fill(text, fragments, f"{path}: text.{name}")
    by_model: dict[str, RecipeEntry] = {}
    for key, table in data.get("recipe", {}).items():
        entry = _entry(key, table, defaults, fragments)
        for model in entry.models:
            if model in by_model:
                raise ConfigurationError(
                    f"{path}: {model!r} is in recipe.{by_model[model].key} and recipe.{key}"
                )
            by_model[model] = entry
    return MappingProxyType(by_model)


def recipe_table(benchmark: str, recipes_dir: Path = RECIPES_DIR) -> Mapping[str, RecipeEntry]:
    """Every recipe of `<benchmark>.toml`, by model name (read once)."""
    path = Path(recipes_dir) / f"{benchmark}.toml"
    if not path.exists():
        raise ConfigurationError(f"no training recipes for benchmark {benchmark!r} ({path})")
    return _read(path)


def recipe_entry(benchmark: str, model: str, recipes_dir: Path = RECIPES_DIR) -> RecipeEntry:
    """The recipe `<benchmark>.toml` gives for `model`."""
    try:
        return recipe_table(benchmark, recipes_dir)[model]
    except KeyError:
        raise KeyError(
            f"harness/data/recipes/{benchmark}.toml has no recipe for {model!r}"
        ) from None
