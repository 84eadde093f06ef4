"""Hardware burden, its projection to a whole training run, and its energy, carbon and dollars.

Hardware burden (Thompson et al. 2020) = processors x peak FLOP/s at the precision used x wall
time: what the hardware could have computed, not what the network needed. Beside it stands
the counted compute (training-step FLOPs x steps), so achieved FLOP/s and MFU are visible.

A measured step is projected to a run with the architecture's `TrainingRecipe`:
steps = ceil(epochs x examples per epoch / batch size), run time = steps x step time, both at
the batch size that was timed. Energy per step is the window's energy over its steps.

Carbon and dollars come two ways, always labelled and never mixed:
* energy: kWh x PUE x grid intensity; device-hours x price per device-hour;
* the paper's: linear in hardware burden from Strubell et al. 2019 (`PaperConversion`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from harness.catalog.grid import GridIntensity, grid_intensity
from harness.cost.conversions import LBS_PER_KG, PaperConversion, joules_to_kwh
from harness.energy.measurement import EnergyMeasurement, weakest
from harness.errors import ConfigurationError
from harness.vocab import UNAVAILABLE

if TYPE_CHECKING:
    from harness.arch.spec import TrainingRecipe

SECONDS_PER_HOUR = 3600.0
DEFAULT_USD_PER_DEVICE_HOUR = 2.0


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


# --------------------------------------------------------------------------------------------
# A measured step, projected to a run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Burden:
    """Everything one measured training step implies, per step and per projected run."""

    device_name: str
    processors: int
    precision: str
    peak_flop_per_s: float | None  # per processor, at `precision`
    peak_source: str
    step_time_s: float
    batch_size: int
    # hardware burden
    burden_per_step_flop: float | None
    run_steps: float | None
    run_examples: float | None
    run_time_s: float | None
    burden_per_run_flop: float | None
    projection_basis: str
    # counted compute
    train_step_flops: float | None
    counted_run_flops: float | None
    achieved_flop_per_s: float | None
    mfu: float | None  # achieved / (processors x peak)
    # energy of the measured device(s)
    energy_provenance: str
    energy_reason: str
    energy_per_step_j: float | None
    energy_per_example_j: float | None
    energy_per_run_j: float | None
    net_energy_per_step_j: float | None  # above the idle baseline
    j_per_flop: float | None
    flop_per_j: float | None
    host_energy_per_step_j: float | None  # CPU/RAM beside a GPU, where measured
    host_provenance: str | None
    # energy route: carbon and dollars
    kwh_per_run: float | None  # device + host when both are known
    kwh_provenance: str
    pue: float
    grid: GridIntensity
    co2_kg_per_run: float | None
    co2_lbs_per_run: float | None
    device_hours_per_run: float | None
    usd_per_device_hour: float
    usd_per_run: float | None
    price_source: str
    # the paper's route
    paper_co2_lbs_per_run: float | None
    paper_co2_kg_per_run: float | None
    paper_usd_low_per_run: float | None
    paper_usd_high_per_run: float | None
    paper_basis: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"] = self.grid.to_dict()
        d["notes"] = list(self.notes)
        return d

    def rows(self) -> list[dict[str, Any]]:
        """Quantity / per step / per run / unit / basis, for `harness.console.print_table`."""

        def r(q: str, step: Any, run: Any, unit: str, basis: str) -> dict[str, Any]:
            return {"quantity": q, "per step": step, "per run": run, "unit": unit, "basis": basis}

        def gflop(x):
            return None if x is None else x / 1e9

        peak = (
            f"{self.processors} x {self.peak_flop_per_s / 1e12:g} TFLOP/s"
            if self.peak_flop_per_s
            else "no peak"
        )
        return [
            r(
                "hardware burden",
                gflop(self.burden_per_step_flop),
                gflop(self.burden_per_run_flop),
                "GFLOP",
                f"{peak} ({self.precision}) x time",
            ),
            r(
                "counted compute",
                gflop(self.train_step_flops),
                gflop(self.counted_run_flops),
                "GFLOP",
                "counted fwd+bwd+optimizer",
            ),
            r("time", self.step_time_s, self.run_time_s, "s", self.projection_basis),
            r("energy", self.energy_per_step_j, self.energy_per_run_j, "J", self.energy_provenance),
            r("energy above idle", self.net_energy_per_step_j, None, "J", self.energy_provenance),
            r("energy per example", self.energy_per_example_j, None, "J", self.energy_provenance),
            r("energy efficiency", self.flop_per_j, None, "FLOP/J", "counted FLOPs / energy"),
            r(
                "CO2e (energy)",
                None,
                self.co2_kg_per_run,
                "kg",
                f"kWh x PUE {self.pue:g} x {self.grid.g_co2_per_kwh:.0f} g/kWh ({self.grid.region}); {self.kwh_provenance}",
            ),
            r(
                "CO2e (paper)",
                None,
                self.paper_co2_kg_per_run,
                "kg",
                "linear in burden, Strubell et al. 2019",
            ),
            r("cost (device-hours)", None, self.usd_per_run, "USD", self.price_source),
            r(
                "cost (paper, low)",
                None,
                self.paper_usd_low_per_run,
                "USD",
                "linear in burden, Strubell et al. 2019",
            ),
            r(
                "cost (paper, high)",
                None,
                self.paper_usd_high_per_run,
                "USD",
                "linear in burden, Strubell et al. 2019",
            ),
        ]


def compute_burden(
    *,
    step_time_s: float,
    batch_size: int,
    processors: int = 1,
    peak_flop_per_s: float | None,
    peak_source: str = "",
    precision: str = "fp32",
    device_name: str = "",
    recipe: TrainingRecipe | None = None,
    train_step_flops: float | None = None,
    energy: EnergyMeasurement | None = None,
    window_steps: int | None = None,
    grid: GridIntensity | str | float = "USA",
    pue: float = 1.0,
    usd_per_device_hour: float = DEFAULT_USD_PER_DEVICE_HOUR,
    price_source: str = "",
    paper: PaperConversion | None = None,
) -> Burden:
    """Burden, compute, energy, carbon and dollars of one measured step and its projected run.

    `step_time_s` is the (median) time of one step of `batch_size` examples on `processors`
    devices; `energy` is the window that covered `window_steps` of those steps.
    """
    if not (step_time_s > 0 and math.isfinite(step_time_s)):
        raise ConfigurationError(
            f"step time must be a positive number of seconds, got {step_time_s}"
        )
    if batch_size < 1 or processors < 1:
        raise ConfigurationError("batch size and processor count must be at least 1")
    if not (math.isfinite(pue) and pue >= 1.0):
        raise ConfigurationError(f"PUE must be at least 1.0, got {pue}")
    if usd_per_device_hour < 0:
        raise ConfigurationError(f"price per device-hour must be >= 0, got {usd_per_device_hour}")
    if energy is not None and energy.available and not (window_steps and window_steps > 0):
        raise ConfigurationError("window_steps (the steps the energy window covered) is required")
    grid = grid_intensity(grid)
    paper = paper or PaperConversion.strubell()
    notes: list[str] = []

    def mul(*xs: float | None) -> float | None:
        return None if any(x is None for x in xs) else math.prod(xs)  # type: ignore[arg-type]

    def div(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    # -- time and burden ---------------------------------------------------------------------
    run_steps = run_examples = None
    basis = "no training recipe: no projection to a run"
    if recipe is not None and recipe.examples is not None:
        run_examples = recipe.examples
        run_steps = float(math.ceil(run_examples / batch_size))
        basis = (
            f"{recipe.epochs:g} epochs x {recipe.examples_per_epoch:,} examples / batch "
            f"{batch_size} = {run_steps:,.0f} steps x {step_time_s:.4g} s"
        )
        if recipe.batch_size and recipe.batch_size != batch_size:
            notes.append(
                f"projected at the timed batch size {batch_size}, not the recipe's {recipe.batch_size}"
            )
    elif recipe is not None:
        basis = "the recipe does not state epochs and examples per epoch: no projection"
    run_time = mul(run_steps, step_time_s)
    if peak_flop_per_s is None:
        notes.append(
            f"no {precision} peak FLOP/s for {device_name or 'this device'}: no hardware burden"
        )
    burden_step = mul(processors, peak_flop_per_s, step_time_s)
    burden_run = mul(processors, peak_flop_per_s, run_time)
    counted_run = mul(train_step_flops, run_steps)
    achieved = div(train_step_flops, step_time_s)
    mfu = div(achieved, mul(processors, peak_flop_per_s))

    # -- energy ------------------------------------------------------------------------------
    e_step = net_step = host_step = None
    host_prov = None
    provenance, reason = UNAVAILABLE, "no energy measurement"
    if energy is not None:
        provenance, reason = energy.provenance, energy.reason
        if energy.available:
            e_step = energy.total_energy_j / window_steps  # type: ignore[operator]
            net_step = div(energy.net_energy_j, window_steps)
        h = energy.host
        if h is not None:
            host_prov = h.provenance
            if h.available:
                host_step = h.total_energy_j / window_steps  # type: ignore[operator]
    e_run = mul(e_step, run_steps)
    if host_step is not None and e_step is not None:
        kwh = joules_to_kwh((e_step + host_step) * run_steps) if run_steps else None
        kwh_prov = f"device + host energy; {weakest([provenance, host_prov or UNAVAILABLE])}"
    else:
        kwh = joules_to_kwh(e_run) if e_run is not None else None
        kwh_prov = f"device energy only; {provenance}"
    co2_kg = kwh * pue * grid.kg_co2_per_kwh if kwh is not None else None
    device_hours = mul(processors, run_time)
    device_hours = device_hours / SECONDS_PER_HOUR if device_hours is not None else None
    paper_usd = paper.usd(burden_run) if burden_run is not None else (None, None)

    return Burden(
        device_name=device_name,
        processors=processors,
        precision=precision,
        peak_flop_per_s=peak_flop_per_s,
        peak_source=peak_source,
        step_time_s=step_time_s,
        batch_size=batch_size,
        burden_per_step_flop=burden_step,
        run_steps=run_steps,
        run_examples=run_examples,
        run_time_s=run_time,
        burden_per_run_flop=burden_run,
        projection_basis=basis,
        train_step_flops=train_step_flops,
        counted_run_flops=counted_run,
        achieved_flop_per_s=achieved,
        mfu=mfu,
        energy_provenance=provenance,
        energy_reason=reason,
        energy_per_step_j=e_step,
        energy_per_example_j=div(e_step, batch_size),
        energy_per_run_j=e_run,
        net_energy_per_step_j=net_step,
        j_per_flop=div(e_step, train_step_flops),
        flop_per_j=div(train_step_flops, e_step),
        host_energy_per_step_j=host_step,
        host_provenance=host_prov,
        kwh_per_run=kwh,
        kwh_provenance=kwh_prov,
        pue=pue,
        grid=grid,
        co2_kg_per_run=co2_kg,
        co2_lbs_per_run=co2_kg * LBS_PER_KG if co2_kg is not None else None,
        device_hours_per_run=device_hours,
        usd_per_device_hour=usd_per_device_hour,
        usd_per_run=device_hours * usd_per_device_hour if device_hours is not None else None,
        price_source=price_source or f"${usd_per_device_hour:g} per device-hour (configurable)",
        paper_co2_lbs_per_run=paper.co2_lbs(burden_run) if burden_run is not None else None,
        paper_co2_kg_per_run=paper.co2_kg(burden_run) if burden_run is not None else None,
        paper_usd_low_per_run=paper_usd[0],
        paper_usd_high_per_run=paper_usd[1],
        paper_basis=paper.basis,
        notes=tuple(notes),
    )
