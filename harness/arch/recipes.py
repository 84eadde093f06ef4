"""Published recipes and rows as the records an Architecture carries.

harness.catalog reads the tables; this turns a recipe file's entry into the OptimizerSpec and
TrainingRecipe of one network, completing the run with the hardware and hours of a published
row where the entry names one (cited from that row).
"""

from __future__ import annotations

from harness.arch.spec import OptimizerSpec, TrainingRecipe
from harness.catalog.published import benchmark_row
from harness.catalog.recipes import recipe_entry


def recipe_from_row(
    benchmark: str,
    model: str,
    *,
    epochs: float | None,
    examples_per_epoch: int | None,
    batch_size: int | None,
    recipe_citation: str,
    precision: str = "fp32",
) -> TrainingRecipe:
    """A TrainingRecipe whose hardware (and hours) come from a published row, cited from it."""
    row = benchmark_row(benchmark, model)
    hours = float(row["train_hours"]) if row["train_hours"] else None
    count = int(row["processor_count"]) if row["processor_count"] else None
    hw = (
        f"hardware{' and hours' if hours else ''} from harness/data/reference/{benchmark}.csv "
        f"row {model!r}: {row['source']}"
    )
    if row.get("notes"):
        hw += f" [notes: {row['notes']}]"
    return TrainingRecipe(
        epochs=epochs,
        examples_per_epoch=examples_per_epoch,
        batch_size=batch_size,
        precision=precision,
        processor_type=row["processor_type"] or None,
        processor_count=count,
        train_hours=hours,
        citation=f"{recipe_citation}; {hw}",
    )


def published_recipe(benchmark: str, model: str) -> tuple[OptimizerSpec, TrainingRecipe]:
    """The optimizer and training run harness/data/recipes/<benchmark>.toml gives `model`."""
    entry = recipe_entry(benchmark, model)
    opt = entry.optimizer
    optimizer = OptimizerSpec(opt.name, opt.lr, dict(opt.options), citation=entry.citation)
    if entry.published_row:
        recipe = recipe_from_row(
            benchmark,
            entry.published_row,
            epochs=entry.epochs,
            examples_per_epoch=entry.examples_per_epoch,
            batch_size=entry.batch_size,
            recipe_citation=entry.run_citation,
            precision=entry.precision,
        )
    else:
        recipe = TrainingRecipe(
            epochs=entry.epochs,
            examples_per_epoch=entry.examples_per_epoch,
            batch_size=entry.batch_size,
            precision=entry.precision,
            processor_type=entry.processor_type,
            processor_count=entry.processor_count,
            train_hours=entry.train_hours,
            citation=entry.run_citation,
        )
    return optimizer, recipe
