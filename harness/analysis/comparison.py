"""A new architecture beside the zoo and beside the paper's trend line (`harness compare`).

The zoo entries are measured through the sweep runner (one process each, cached in the results
database, so a second comparison reuses them); the new architecture is measured in this process
with the same step options. A network with no training recipe of its own is projected with the
recipe of the first zoo entry that has one, and the output says so.

Where it sits on the regression: the paper's polynomial fit over the benchmark's published points
gives the compute the trend needs to reach the architecture's error, C_trend = 10^((log10(1/e) -
a) / b), with a 95% interval (Fieller); the ratio C_used / C_trend < 1 means it reaches that
error with less compute than the trend predicts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.arch.registry import get, list_architectures
from harness.arch.spec import Architecture, ReferenceMetric
from harness.errors import ConfigurationError, HarnessError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

METRIC_OF = {
    "imagenet": "top1_acc",
    "coco": "box_ap",
    "squad11": "f1",
    "conll03": "f1",
    "wmt14_en_fr": "bleu",
    "wmt14_en_de": "bleu",
}


@dataclass(frozen=True)
class TrendPosition:
    """Where one measured architecture sits relative to the paper's fitted trend."""

    architecture: str
    measure: str  # "per-pass" or "burden"
    error: float
    compute_used_flop: float
    compute_at_trend_flop: float
    trend_low_flop: float
    trend_high_flop: float
    fit: str  # "k=9.7 (n=34, R2=0.63, published imagenet points)"

    @property
    def ratio(self) -> float:
        return self.compute_used_flop / self.compute_at_trend_flop

    def verdict(self) -> str:
        r = self.ratio
        inside = self.trend_low_flop <= self.compute_used_flop <= self.trend_high_flop
        side = "less" if r < 1 else "more"
        times = 1 / r if r < 1 else r
        band = "within the fit's 95% band" if inside else "outside the fit's 95% band"
        return f"uses {times:.3g}x {side} compute than the trend needs for this error ({band})"


@dataclass(frozen=True)
class Comparison:
    """A new architecture's record beside the zoo's, and where each sits on the paper's trend."""

    new: Measurement
    zoo: tuple[Measurement, ...]
    benchmark: str | None
    positions: tuple[TrendPosition, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "new": self.new.to_dict(),
            "zoo": [r.to_dict() for r in self.zoo],
            "positions": [
                {**dataclasses.asdict(p), "ratio": p.ratio, "verdict": p.verdict()}
                for p in self.positions
            ],
            "notes": list(self.notes),
        }


def compare(
    name: str,
    *,
    make_config: Callable[[str], MeasurementConfig],
    against: Sequence[str] | None = None,
    benchmark: str | None = None,
    max_against: int = 4,
    claimed_metric: float | None = None,
    db: Any = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
    published_from: str | None = None,
) -> Comparison:
    """Measure `name` and the zoo entries it is compared with; place all on the paper's trend."""
    from harness.pipeline.measure import measure
    from harness.sweep.loop import run_sweep
    from harness.sweep.store import ResultStore

    new_config = make_config(name)
    new_arch = new_config.resolve_architecture()
    zoo_names = _choose_zoo(new_arch, against, benchmark, max_against)
    bench = benchmark or new_arch.benchmark or get(zoo_names[0]).benchmark
    notes: list[str] = []
    new_arch = _lend_recipe(new_arch, zoo_names, bench, claimed_metric, notes)
    if new_config.tiny:
        notes.append(
            "tiny variants: the figures exercise the pipeline; they are not the published "
            "networks', so they are not placed on the paper's trend"
        )

    with ResultStore(db) as store:
        configs = [make_config(n) for n in zoo_names]
        echo(
            f"measuring {len(configs)} zoo entries (cached rows are reused): {', '.join(zoo_names)}"
        )
        run_sweep(configs, store, force=force, echo=echo)
        zoo = tuple(r for r in (store.get_for(c) for c in configs) if r is not None)
        echo(f"measuring {new_config.label()} ...")
        new = measure(new_config, lambda p: echo(f"  {p}"), architecture=new_arch)
        store.put(new, overwrite=True)
    positions = _trend_positions([new, *zoo], bench, notes, published_from) if bench else ()
    return Comparison(new, zoo, bench, tuple(positions), tuple(notes))


def _choose_zoo(
    new_arch: Architecture, against: Sequence[str] | None, benchmark: str | None, limit: int
) -> list[str]:
    if against:
        for n in against:
            get(n)  # unknown names fail now, with suggestions, before anything is measured
        return list(against)
    bench = benchmark or new_arch.benchmark
    if bench is None:
        raise ConfigurationError(
            f"{new_arch.name} has no benchmark: give --against a,b,c or --benchmark imagenet"
        )
    if limit < 1:
        raise ConfigurationError(f"--max must be at least 1, got {limit}")
    pool = [a for a in list_architectures(benchmark=bench, tag="paper") if a.name != new_arch.name]
    if not pool:
        pool = [a for a in list_architectures(benchmark=bench) if a.name != new_arch.name]
    if not pool:
        raise ConfigurationError(f"no zoo architectures for benchmark {bench!r}")
    return [a.name for a in pool[:limit]]


def _lend_recipe(
    arch: Architecture,
    zoo_names: list[str],
    bench: str | None,
    claimed: float | None,
    notes: list[str],
) -> Architecture:
    changes: dict[str, Any] = {}
    if arch.recipe.examples is None:
        for n in zoo_names:
            donor = get(n)
            if donor.recipe.examples is not None:
                changes["recipe"] = donor.recipe
                notes.append(
                    f"{arch.name} has no training recipe: its run is projected with {n}'s "
                    f"({donor.recipe.epochs:g} epochs x {donor.recipe.examples_per_epoch:,} examples)"
                )
                break
    if arch.benchmark is None and bench is not None:
        changes["benchmark"] = bench
    if claimed is not None:
        if not 0 < claimed < 100:
            raise ConfigurationError(f"--metric must be a percentage in (0, 100), got {claimed}")
        metric = METRIC_OF.get(bench or "", "metric")
        changes["reference"] = ReferenceMetric(
            metric, claimed, citation="claimed by the user (--metric)"
        )
    return dataclasses.replace(arch, **changes) if changes else arch


def _trend_positions(
    records: Sequence[Measurement], bench: str, notes: list[str], published_from: str | None = None
) -> list[TrendPosition]:
    from harness.analysis.authors_fit import published_points
    from harness.analysis.fit import fit

    published = published_points(bench, published_from)
    out: list[TrendPosition] = []
    for measure in ("per-pass", "burden"):
        try:
            f = fit(published, bench, measure, "polynomial")
        except HarnessError as exc:
            notes.append(f"no {measure} trend for {bench}: {exc}")
            continue
        if not f.significant:
            notes.append(f"the {bench} {measure} fit is {f.verdict}: read its position with care")
        desc = f"k={f.k:.3g} (n={f.n}, R2={f.r_squared:.2f}, published {bench} points)"
        for r in records:
            value = r.architecture.get("reference_value")
            used = _compute_used(r, measure)
            if not r.ok or value is None or used is None or r.config.get("tiny"):
                continue
            error = 1 - float(value) / 100
            x0, lo, hi = f.log10_compute_for(error)
            out.append(
                TrendPosition(
                    architecture=r.config["architecture"],
                    measure=measure,
                    error=error,
                    compute_used_flop=used,
                    compute_at_trend_flop=10**x0,
                    trend_low_flop=10**lo if math.isfinite(lo) else 0.0,
                    trend_high_flop=10**hi if math.isfinite(hi) else math.inf,
                    fit=desc,
                )
            )
    return out


def _compute_used(r: Measurement, measure: str) -> float | None:
    if measure == "per-pass":
        macs = r.counts.get("forward_macs_per_example")
        return 2.0 * macs if macs else None
    return r.burden.get("burden_per_run_flop") or None
