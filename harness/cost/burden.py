"""A measured training step's hardware burden, projected to a whole run, with its energy,
carbon and dollars.

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
from typing import TYPE_CHECKING, Any

from harness.catalog.grid import GridIntensity
from harness.cost.conversions import joules_to_kwh
from harness.cost.published import SECONDS_PER_HOUR
from harness.cost.routes import (
    DEFAULT_USD_PER_CPU_HOUR,
    DEFAULT_USD_PER_DEVICE_HOUR,
    CostSettings,
    cost_routes,
)
from harness.cost.utilisation import bounded_mfu
from harness.energy.measurement import EnergyMeasurement, weakest
from harness.errors import ConfigurationError
from harness.vocab import UNAVAILABLE

if TYPE_CHECKING:
    from harness.arch.spec import TrainingRecipe

__all__ = [
    "DEFAULT_USD_PER_CPU_HOUR",
    "DEFAULT_USD_PER_DEVICE_HOUR",
    "Burden",
    "CostSettings",
    "MeasuredStep",
    "PeakUsed",
    "compute_burden",
]


@dataclass(frozen=True)
class MeasuredStep:
    """One measured training step: its (median) time for `batch_size` examples on `processors`
    devices, its counted FLOPs, and how many steps the energy window covered."""

    step_time_s: float
    batch_size: int
    processors: int = 1
    train_step_flops: float | None = None
    window_steps: int | None = None
    device_kind: str = ""  # "cpu" is priced per CPU-hour, anything else per GPU-hour


@dataclass(frozen=True)
class PeakUsed:
    """The per-processor peak the burden is computed with, at the precision used."""

    flop_per_s: float | None
    source: str = ""
    precision: str = "fp32"
    device_name: str = ""
    # The datasheet fp32 peak of the same device: the convention of every published burden.
    fp32_flop_per_s: float | None = None
    fp32_source: str = ""


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
    mfu: float | None  # achieved / (processors x peak); None above 1 (a note says why)
    # energy of the measured device(s)
    energy_provenance: str
    energy_reason: str
    energy_per_step_j: float | None
    energy_per_example_j: float | None
    energy_per_run_j: float | None
    net_energy_per_step_j: float | None  # above the idle baseline
    j_per_flop: float | None
    flop_per_j: float | None
    host_energy_per_step_j: float | None  # this run's share of the host's CPU/RAM energy
    host_provenance: str | None
    # energy route: carbon and dollars
    kwh_per_run: float | None  # device + host when both are known
    kwh_provenance: str
    pue: float
    grid: GridIntensity
    co2_kg_per_run: float | None
    co2_lbs_per_run: float | None
    device_hours_per_run: float | None
    usd_per_device_hour: float | None  # per CPU-hour for a CPU (see `price_unit`)
    usd_per_run: float | None
    price_source: str
    # the paper's route
    paper_co2_lbs_per_run: float | None
    paper_co2_kg_per_run: float | None
    paper_usd_low_per_run: float | None
    paper_usd_high_per_run: float | None
    paper_basis: str
    notes: tuple[str, ...] = ()
    # the same run at the fp32 peak (the published points' convention), and the recipe's batch
    peak_fp32_flop_per_s: float | None = None
    peak_fp32_source: str = ""
    burden_per_run_flop_fp32_peak: float | None = None
    recipe_batch_size: int | None = None
    # the host's whole CPU/RAM energy per step, and the share of it charged to this run
    host_energy_per_step_unshared_j: float | None = None
    host_energy_share: float | None = None
    host_energy_share_basis: str = ""
    price_unit: str = "GPU-hour"
    cost_routes_note: str = ""  # why the hourly and the paper's dollars differ > 10x

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
            r("CO2e (energy)", None, self.co2_lbs_per_run, "lbs", "the kg above x 2.20462"),
            r("CO2e (paper)", None, self.paper_co2_lbs_per_run, "lbs", "Strubell et al. 2019"),
            r(f"cost ({self.price_unit}s)", None, self.usd_per_run, "USD", self.price_source),
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


def _mul(*xs: float | None) -> float | None:
    return None if any(x is None for x in xs) else math.prod(xs)  # type: ignore[arg-type]


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _check(step: MeasuredStep, settings: CostSettings, energy: EnergyMeasurement | None) -> None:
    if not (step.step_time_s > 0 and math.isfinite(step.step_time_s)):
        raise ConfigurationError(
            f"step time must be a positive number of seconds, got {step.step_time_s}"
        )
    if step.batch_size < 1 or step.processors < 1:
        raise ConfigurationError("batch size and processor count must be at least 1")
    settings.check()
    if (
        energy is not None
        and energy.available
        and not (step.window_steps and step.window_steps > 0)
    ):
        raise ConfigurationError("window_steps (the steps the energy window covered) is required")


@dataclass(frozen=True)
class _Projection:
    run_steps: float | None
    run_examples: float | None
    basis: str
    notes: tuple[str, ...]


def _project(recipe: TrainingRecipe | None, step: MeasuredStep) -> _Projection:
    """Steps and examples of the recipe's run, at the batch size that was timed."""
    if recipe is None:
        return _Projection(None, None, "no training recipe: no projection to a run", ())
    if recipe.examples is None:
        basis = "the recipe does not state epochs and examples per epoch: no projection"
        return _Projection(None, None, basis, ())
    batch = step.batch_size
    run_steps = float(math.ceil(recipe.examples / batch))
    basis = (
        f"{recipe.epochs:g} epochs x {recipe.examples_per_epoch:,} examples / batch "
        f"{batch} = {run_steps:,.0f} steps x {step.step_time_s:.4g} s"
    )
    notes = ()
    if recipe.batch_size and recipe.batch_size != batch:
        notes = (
            f"projected at the timed batch size {batch}, not the recipe's {recipe.batch_size}",
        )
    return _Projection(run_steps, recipe.examples, basis, notes)


@dataclass(frozen=True)
class _EnergyPerStep:
    provenance: str
    reason: str
    device_j: float | None
    net_j: float | None
    host_j: float | None  # the run's share
    host_provenance: str | None
    host_unshared_j: float | None = None
    host_share: float | None = None
    host_share_basis: str = ""

    def host_share_fields(self) -> dict[str, Any]:
        return {
            "host_energy_per_step_unshared_j": self.host_unshared_j,
            "host_energy_share": self.host_share,
            "host_energy_share_basis": self.host_share_basis,
        }


def _energy_per_step(energy: EnergyMeasurement | None, steps: int | None) -> _EnergyPerStep:
    if energy is None:
        return _EnergyPerStep(UNAVAILABLE, "no energy measurement", None, None, None, None)
    device_j = net_j = host_j = None
    if energy.available:
        device_j = energy.total_energy_j / steps  # type: ignore[operator]
        net_j = _div(energy.net_energy_j, steps)
    host = energy.host
    host_prov = host.provenance if host is not None else None
    if host is None:
        return _EnergyPerStep(energy.provenance, energy.reason, device_j, net_j, None, None)
    share, basis = energy.host_energy_share, energy.host_energy_share_basis
    if share is None:
        share, basis = 1.0, "no share recorded: the whole host is charged to this run"
    unshared_j = None
    if host.available:
        unshared_j = host.total_energy_j / steps  # type: ignore[operator]
        host_j = unshared_j * share
    return _EnergyPerStep(
        energy.provenance,
        energy.reason,
        device_j,
        net_j,
        host_j,
        host_prov,
        unshared_j,
        share,
        basis,
    )


def _kwh_per_run(e: _EnergyPerStep, run_steps: float | None) -> tuple[float | None, str]:
    """Device + host energy of the run where both are known, else the device's alone."""
    if e.host_j is not None and e.device_j is not None:
        kwh = joules_to_kwh((e.device_j + e.host_j) * run_steps) if run_steps else None
        prov = weakest([e.provenance, e.host_provenance or UNAVAILABLE])
        return kwh, f"device + {e.host_share:.3g} of the host's energy; {prov}"
    e_run = _mul(e.device_j, run_steps)
    return (
        joules_to_kwh(e_run) if e_run is not None else None
    ), f"device energy only; {e.provenance}"


def compute_burden(
    step: MeasuredStep,
    peak: PeakUsed,
    *,
    recipe: TrainingRecipe | None = None,
    energy: EnergyMeasurement | None = None,
    settings: CostSettings | None = None,
) -> Burden:
    """Burden, compute, energy, carbon and dollars of one measured step and its projected run."""
    settings = settings or CostSettings()
    _check(step, settings, energy)
    proj = _project(recipe, step)
    notes = list(proj.notes)
    run_time = _mul(proj.run_steps, step.step_time_s)
    if peak.flop_per_s is None:
        notes.append(
            f"no {peak.precision} peak FLOP/s for {peak.device_name or 'this device'}: "
            "no hardware burden"
        )
    burden_run = _mul(step.processors, peak.flop_per_s, run_time)
    fp32_peak, fp32_source = _fp32_peak(peak)
    achieved, burden_mfu = _achieved_and_mfu(step, peak, notes)
    e = _energy_per_step(energy, step.window_steps)
    e_run = _mul(e.device_j, proj.run_steps)
    kwh, kwh_prov = _kwh_per_run(e, proj.run_steps)
    device_hours = _mul(step.processors, run_time)
    device_hours = device_hours / SECONDS_PER_HOUR if device_hours is not None else None
    routes = cost_routes(kwh, device_hours, burden_run, settings, step.device_kind)
    return Burden(
        device_name=peak.device_name,
        processors=step.processors,
        precision=peak.precision,
        peak_flop_per_s=peak.flop_per_s,
        peak_source=peak.source,
        step_time_s=step.step_time_s,
        batch_size=step.batch_size,
        burden_per_step_flop=_mul(step.processors, peak.flop_per_s, step.step_time_s),
        run_steps=proj.run_steps,
        run_examples=proj.run_examples,
        run_time_s=run_time,
        burden_per_run_flop=burden_run,
        projection_basis=proj.basis,
        train_step_flops=step.train_step_flops,
        counted_run_flops=_mul(step.train_step_flops, proj.run_steps),
        achieved_flop_per_s=achieved,
        mfu=burden_mfu,
        energy_provenance=e.provenance,
        energy_reason=e.reason,
        energy_per_step_j=e.device_j,
        energy_per_example_j=_div(e.device_j, step.batch_size),
        energy_per_run_j=e_run,
        net_energy_per_step_j=e.net_j,
        j_per_flop=_div(e.device_j, step.train_step_flops),
        flop_per_j=_div(step.train_step_flops, e.device_j),
        host_energy_per_step_j=e.host_j,
        host_provenance=e.host_provenance,
        kwh_per_run=kwh,
        kwh_provenance=kwh_prov,
        device_hours_per_run=device_hours,
        notes=tuple(notes),
        peak_fp32_flop_per_s=fp32_peak,
        peak_fp32_source=fp32_source,
        burden_per_run_flop_fp32_peak=_mul(step.processors, fp32_peak, run_time),
        recipe_batch_size=recipe.batch_size if recipe is not None else None,
        **e.host_share_fields(),
        **routes,
    )


def _achieved_and_mfu(
    step: MeasuredStep, peak: PeakUsed, notes: list[str]
) -> tuple[float | None, float | None]:
    """(achieved FLOP/s, MFU); an MFU above 1 is withheld and `notes` say why."""
    achieved = _div(step.train_step_flops, step.step_time_s)
    value, why = bounded_mfu(
        achieved,
        peak.flop_per_s,
        step.processors,
        peak_name="peak used",
        cause="the peak (or the FLOP count) is unreliable",
    )
    if why:
        notes.append(f"MFU {why}")
    return achieved, value


def _fp32_peak(peak: PeakUsed) -> tuple[float | None, str]:
    """The fp32 peak: given, or the peak used when the step ran in fp32; else none."""
    if peak.fp32_flop_per_s is not None:
        return peak.fp32_flop_per_s, peak.fp32_source
    if peak.precision == "fp32" and peak.flop_per_s is not None:
        return peak.flop_per_s, peak.source
    return None, peak.fp32_source or f"no fp32 peak known for {peak.device_name or 'the device'}"
