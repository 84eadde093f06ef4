"""Hardware burden of a published training run: its processors, their peak and its hours."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from harness.cost.conversions import PaperConversion

if TYPE_CHECKING:
    from harness.arch.spec import TrainingRecipe

SECONDS_PER_HOUR = 3600.0


class ProcessorLike(Protocol):
    """What burden needs of a processor: `harness.catalog.processors.ProcessorSpec` fits."""

    name: str
    source: str

    def peak_flop_per_s(self, precision: str) -> float | None: ...


def hardware_burden_flop(processors: int, peak_flop_per_s: float, seconds: float) -> float:
    """The paper's hardware burden in FLOP: processors x peak FLOP/s x seconds."""
    return processors * peak_flop_per_s * seconds


# --------------------------------------------------------------------------------------------
# A published run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedBurden:
    """Burden of a published training run (its processors, their peak, its training time)."""

    processor_type: str | None
    processor_count: int | None
    precision: str
    peak_flop_per_s: float | None
    train_hours: float | None
    burden_flop: float | None
    paper_co2_lbs: float | None
    paper_usd_low: float | None
    paper_usd_high: float | None
    reason: str  # why burden_flop is None, or ""
    citation: str
    peak_source: str
    paper_basis: str

    @property
    def burden_gflop(self) -> float | None:
        return None if self.burden_flop is None else self.burden_flop / 1e9

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"burden_gflop": self.burden_gflop}


def published_burden(
    recipe: TrainingRecipe,
    *,
    spec: ProcessorLike | None = None,
    paper: PaperConversion | None = None,
) -> PublishedBurden:
    """processor_count x peak(processor_type, recipe precision) x train_hours.

    `spec` defaults to `harness.catalog.processors.lookup_processor(recipe.processor_type)`. Missing facts
    give a record whose `reason` says which, not an error: many papers leave them out.
    """
    paper = paper or PaperConversion.strubell()
    missing = [
        f
        for f, v in (
            ("processor_type", recipe.processor_type),
            ("processor_count", recipe.processor_count),
            ("train_hours", recipe.train_hours),
        )
        if v is None
    ]
    if spec is None and recipe.processor_type is not None:
        from harness.catalog.processors import lookup_processor

        spec = lookup_processor(recipe.processor_type)
        if spec is None:
            missing.append(f"a processors.csv row for {recipe.processor_type!r}")
    peak = spec.peak_flop_per_s(recipe.precision) if spec is not None else None
    if spec is not None and peak is None:
        missing.append(f"a {recipe.precision} peak for {spec.name}")
    burden = None
    if not missing:
        burden = hardware_burden_flop(
            recipe.processor_count,
            peak,
            recipe.train_hours * SECONDS_PER_HOUR,  # type: ignore[arg-type]
        )
    usd = paper.usd(burden) if burden is not None else (None, None)
    return PublishedBurden(
        processor_type=recipe.processor_type,
        processor_count=recipe.processor_count,
        precision=recipe.precision,
        peak_flop_per_s=peak,
        train_hours=recipe.train_hours,
        burden_flop=burden,
        paper_co2_lbs=paper.co2_lbs(burden) if burden is not None else None,
        paper_usd_low=usd[0],
        paper_usd_high=usd[1],
        reason=("no burden: the recipe lacks " + ", ".join(missing)) if missing else "",
        citation=recipe.citation,
        peak_source=spec.source if spec is not None else "",
        paper_basis=paper.basis,
    )
