"""The measurement record's schema, written down once, and typed views of its sections.

A stored record (schema version 1) is one JSON object:

=================  ===========================================================================
key                what it holds
=================  ===========================================================================
key                the measurement's key (`MeasurementConfig.key()`): architecture, settings,
                   device model, harness version
schema_version     this schema's version (an older record is upgraded on read, a newer refused)
harness_version    the harness that wrote it
created_at         ISO 8601, UTC
status             one of `harness.vocab.STATUSES`; "ok" or a failure with `error`
error              one line: the failing stage and why (None when ok)
config             `MeasurementConfig.to_dict()`
architecture       `Architecture.summary()`: name, benchmark, year, reference metric, recipe
environment        versions, processors, driver, git state, per-phase seconds
counts             `FlopCount.to_dict()`: MACs per pass, FLOPs of forward, backward, optimizer
timing             `TimingResult.to_dict()` without its window, plus `utilisation` (achieved
                   FLOP/s, MFU against both peaks; an MFU above 1 is withheld as None with
                   `mfu_note` / `mfu_measured_note`) and `peak` (datasheet and measured
                   peaks, how the sustained peak was measured (`peak_measured_*`), whether it
                   is reliable, and which one the burden uses); data-parallel records add
                   `distributed`; a run timed on K of L layers adds `scaled_from_layers`,
                   `layer_scale`, `scaled_median_s` (its utilisation uses it) and `scaled_basis`
energy             `EnergyMeasurement.to_dict()` of the timed window, with its provenance,
                   the GPU's state at its edges and the host's share; `cooldown` before it
burden             `Burden.to_dict()`: hardware burden, projection, energy, carbon, dollars
=================  ===========================================================================

Sections are plain JSON so that any tool can read a record; the views below give readers in
this package named, typed fields instead of string keys, and tolerate sections that a failed
stage left empty (every field is then None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

SCHEMA_VERSION = 1

T = TypeVar("T")


def _view(cls: type[T], section: Mapping[str, Any] | None) -> T:
    section = section if isinstance(section, Mapping) else {}
    return cls(**{f.name: section.get(f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class CountsView:
    """The counted compute of the measured step (`counts` section)."""

    params: int | None
    forward_macs_per_example: float | None
    forward_gmacs_per_example: float | None
    train_step_flops: float | None
    backward_forward_ratio: float | None
    method: str | None
    uncounted: dict[str, int] | None
    error: str | None  # a count that failed where counting was optional

    @classmethod
    def of(cls, section: Mapping[str, Any] | None) -> CountsView:
        return _view(cls, section)


@dataclass(frozen=True)
class UtilisationView:
    achieved_flop_per_s: float | None
    mfu: float | None
    mfu_measured: float | None
    mfu_note: str | None  # why `mfu` is withheld (it would exceed 1)
    mfu_measured_note: str | None  # why `mfu_measured` is withheld

    @classmethod
    def of(cls, section: Mapping[str, Any] | None) -> UtilisationView:
        return _view(cls, section)


@dataclass(frozen=True)
class PeakView:
    device_name: str | None
    device_kind: str | None
    datasheet_flop_per_s: float | None
    measured_flop_per_s: float | None
    burden_peak_flop_per_s: float | None
    burden_peak_source: str | None
    measured_reliable: bool | None  # False: the step beat it, even after a longer remeasure
    measured_note: str | None

    @classmethod
    def of(cls, section: Mapping[str, Any] | None) -> PeakView:
        return _view(cls, section)


@dataclass(frozen=True)
class TimingView:
    """The timed steps (`timing` section)."""

    batch_size: int | None
    precision_used: str | None
    median_s: float | None
    iqr_s: float | None
    noisy: bool | None
    samples_per_s: float | None
    utilisation: UtilisationView
    peak: PeakView

    @classmethod
    def of(cls, section: Mapping[str, Any] | None) -> TimingView:
        s = section if isinstance(section, Mapping) else {}
        plain = {
            f.name: s.get(f.name) for f in fields(cls) if f.name not in ("utilisation", "peak")
        }
        return cls(
            **plain,
            utilisation=UtilisationView.of(s.get("utilisation")),
            peak=PeakView.of(s.get("peak")),
        )

    @property
    def iqr_ratio(self) -> float | None:
        if self.median_s and self.iqr_s is not None:
            return self.iqr_s / self.median_s
        return None


@dataclass(frozen=True)
class BurdenView:
    """Burden, projection, energy, carbon and dollars (`burden` section)."""

    energy_provenance: str | None
    energy_reason: str | None
    energy_per_step_j: float | None
    energy_per_example_j: float | None
    burden_per_run_flop: float | None
    run_time_s: float | None
    co2_kg_per_run: float | None
    paper_co2_lbs_per_run: float | None
    usd_per_run: float | None
    paper_usd_low_per_run: float | None
    paper_usd_high_per_run: float | None
    projection_basis: str | None
    peak_source: str | None
    paper_basis: str | None
    notes: list[str] | None

    @classmethod
    def of(cls, section: Mapping[str, Any] | None) -> BurdenView:
        return _view(cls, section)


@dataclass(frozen=True)
class ArchitectureView:
    """What the record says of its architecture (`architecture` section)."""

    name: str | None
    benchmark: str | None
    year: int | None
    reference_metric: str | None
    reference_value: float | None
    reference_citation: str | None
    reference_claimed: bool | None  # absent from records written before it was recorded
    default_size: int | None  # the resolution / sequence length of the published metric

    @classmethod
    def of(cls, section: Mapping[str, Any] | None) -> ArchitectureView:
        return _view(cls, section)


def upgrade(record: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring a record of an older schema to this one. Version 1 is the first: nothing to do;
    a later version adds one step per version here, so every stored database stays readable."""
    record["schema_version"] = SCHEMA_VERSION
    return record
