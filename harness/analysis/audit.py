"""Auditing a published training run: the harness's count of the work against what the run's
hardware could have delivered, and published energy and carbon against our own route.

Every figure is labelled with where it came from:
- counted: from the harness's FLOP count (per-token training FLOPs, on meta tensors) times the
  published tokens;
- published: from the run's source (paper, model card) or a datasheet (processors.csv);
- derived: arithmetic on the two, with its formula in `basis`.

The utilisation a run implies = counted training compute / (device-hours x 3600 x the dense
datasheet peak at the run's precision). It is a model-FLOP utilisation over the whole run,
restarts, evaluation and idle time included, so it sits below the MFU of a single step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.catalog.grid import GridIntensity
from harness.catalog.runs import PublishedRun

KINDS: tuple[str, ...] = ("counted", "published", "derived")


@dataclass(frozen=True)
class AuditFigure:
    """One labelled figure of an audit."""

    name: str
    value: float | None
    unit: str
    kind: str  # one of KINDS
    basis: str = ""  # the source or the formula

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MeasuredStep:
    """A measured training step of the run's model from the results store."""

    device: str
    seconds: float
    tokens_per_step: int
    devices: int = 1


@dataclass(frozen=True)
class RunAudit:
    """The audit of one published run: its figures, and the utilisation it implies."""

    run: PublishedRun
    figures: tuple[AuditFigure, ...]
    notes: tuple[str, ...] = ()

    def figure(self, name: str) -> AuditFigure | None:
        return next((f for f in self.figures if f.name == name), None)

    def value(self, name: str) -> float | None:
        f = self.figure(name)
        return f.value if f is not None else None

    @property
    def implied_utilisation(self) -> float | None:
        return self.value("implied utilisation (counted)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "figures": [f.to_dict() for f in self.figures],
            "implied_utilisation": self.implied_utilisation,
            "notes": list(self.notes),
        }


def device_hours(run: PublishedRun) -> AuditFigure:
    """Published device-hours, else devices x days x 24."""
    if run.device_hours is not None:
        return AuditFigure("device-hours", run.device_hours, "h", "published", run.source)
    if run.devices is not None and run.train_days is not None:
        value = run.devices * run.train_days * 24
        return AuditFigure("device-hours", value, "h", "derived", "devices x train days x 24")
    return AuditFigure("device-hours", None, "h", "derived", "devices or days not published")


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _product(*xs: float | None) -> float | None:
    out = 1.0
    for x in xs:
        if x is None:
            return None
        out *= x
    return out


def compute_figures(
    run: PublishedRun, per_token_flop: float | None, peak: float | None, peak_source: str
) -> list[AuditFigure]:
    """Counted compute, the hardware's capacity, and the utilisations they imply."""
    hours = device_hours(run)
    counted = _product(per_token_flop, run.tokens)
    capacity = _product(hours.value, 3600.0, peak)
    return [
        AuditFigure("training tokens", run.tokens, "tokens", "published", run.source),
        AuditFigure(
            "training FLOPs per token",
            per_token_flop,
            "FLOP",
            "counted",
            "forward + backward matmul-class FLOPs of one full-length sequence, on meta tensors",
        ),
        AuditFigure(
            "training compute (counted)",
            counted,
            "FLOP",
            "counted",
            "counted FLOPs per token x published tokens",
        ),
        AuditFigure(
            "training compute (published)", run.total_flop, "FLOP", "published", run.source
        ),
        hours,
        AuditFigure(
            f"dense peak per device ({run.precision})",
            peak,
            "FLOP/s",
            "published",
            peak_source or "no datasheet peak looked up",
        ),
        AuditFigure(
            "hardware capacity", capacity, "FLOP", "derived", "device-hours x 3600 x dense peak"
        ),
        AuditFigure(
            "implied utilisation (counted)",
            _ratio(counted, capacity),
            "",
            "derived",
            "counted training compute / hardware capacity",
        ),
        AuditFigure(
            "implied utilisation (published compute)",
            _ratio(run.total_flop, capacity),
            "",
            "derived",
            "published training compute / hardware capacity",
        ),
    ]


def energy_figures(run: PublishedRun, grid: GridIntensity | None) -> list[AuditFigure]:
    """Published energy and carbon beside power x hours and our grid route."""
    hours = device_hours(run).value
    pue = run.pue if run.pue is not None else 1.0
    derived_mwh = _product(hours, run.avg_power_w, pue)
    derived_mwh = derived_mwh / 1e6 if derived_mwh is not None else None
    pue_text = f"x PUE {run.pue:g}" if run.pue is not None else "(no PUE published: x 1)"
    energy = run.energy_mwh if run.energy_mwh is not None else derived_mwh
    energy_kind = "published" if run.energy_mwh is not None else "derived"
    co2 = energy * grid.kg_co2_per_kwh if energy is not None and grid is not None else None
    return [
        AuditFigure("energy (published)", run.energy_mwh, "MWh", "published", run.source),
        AuditFigure(
            "energy (power x hours)",
            derived_mwh,
            "MWh",
            "derived",
            f"device-hours x published power per device {pue_text}",
        ),
        AuditFigure("CO2e (published)", run.co2_t, "t", "published", run.source),
        AuditFigure(
            "CO2e (our grid route)",
            co2,
            "t",
            "derived",
            f"{energy_kind} energy x grid intensity: {grid.source}" if grid else "no grid given",
        ),
    ]


def measured_figure(run: PublishedRun, step: MeasuredStep | None) -> list[AuditFigure]:
    """Device-hours the run would take at a measured step's speed (no figure without one)."""
    if step is None or run.tokens is None or step.tokens_per_step <= 0:
        return []
    hours = run.tokens / step.tokens_per_step * step.seconds * step.devices / 3600
    return [
        AuditFigure(
            f"projected device-hours on {step.device}",
            hours,
            "h",
            "derived",
            f"published tokens / {step.tokens_per_step:,} tokens per measured step x "
            f"{step.seconds:.4g} s x {step.devices} device(s)",
        )
    ]


def audit_run(
    run: PublishedRun,
    *,
    per_token_flop: float | None,
    peak: float | None,
    peak_source: str = "",
    grid: GridIntensity | None = None,
    step: MeasuredStep | None = None,
    notes: tuple[str, ...] = (),
) -> RunAudit:
    """The audit of `run` from figures already looked up (pure arithmetic)."""
    figures = compute_figures(run, per_token_flop, peak, peak_source)
    figures += energy_figures(run, grid) + measured_figure(run, step)
    return RunAudit(run=run, figures=tuple(figures), notes=notes)
