"""A new architecture beside the zoo and beside the paper's trend line (`harness compare`).

The zoo entries are measured through the sweep runner (one process each, cached in the results
database, so a second comparison reuses them); the new architecture is measured in this process
with the same step options. A network with no training recipe of its own is projected with the
recipe of the first zoo entry that has one, and the output says so.

Where it sits on the regression: the paper's polynomial fit over the benchmark's published points
gives the compute the trend needs to reach the architecture's error, C_trend = 10^((log10(1/e) -
a) / b), with two bands: the line's 95% confidence band (where the trend is) and the 95%
prediction interval for a new network (where a network of that error falls); the verdict reads
the second only, and only for a significant fit (`harness.analysis.trend_position`). Tiny
variants and runs at a size other than the published metric's are never placed on the trend.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.analysis.trend_position import TrendPosition, not_placed, position
from harness.arch.registry import get, list_architectures
from harness.arch.spec import Architecture, ReferenceMetric
from harness.errors import ConfigurationError, HarnessError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.summary import CLAIMED_CITATION

METRIC_OF = {
    "imagenet": "top1_acc",
    "coco": "box_ap",
    "squad11": "f1",
    "conll03": "f1",
    "wmt14_en_fr": "bleu",
    "wmt14_en_de": "bleu",
}


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
                {
                    **dataclasses.asdict(p),
                    "ratio": p.ratio,
                    "place": p.place,
                    "verdict": p.verdict(),
                }
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
    ask_above_s: float | None = None,
    first_notes: Sequence[str] = (),
) -> Comparison:
    """Measure `name` and the zoo entries it is compared with; place all on the paper's trend.

    The estimated run time is echoed first; above `ask_above_s` nothing starts (a one-line
    ConfigurationError saying how to go ahead), so a script never waits on a prompt."""
    from harness.pipeline.measure import measure
    from harness.sweep.loop import run_sweep
    from harness.sweep.store import ResultStore

    new_config = make_config(name)
    new_arch = new_config.resolve_architecture()
    zoo_names = _choose_zoo(new_arch, against, benchmark, max_against)
    bench = benchmark or new_arch.benchmark or get(zoo_names[0]).benchmark
    notes: list[str] = []
    new_arch = _lend_recipe(new_arch, zoo_names, bench, claimed_metric, notes)

    notes += list(first_notes)
    with ResultStore(db) as store:
        configs = [make_config(n) for n in zoo_names]
        _check_time(configs, new_config, new_arch, store, force, ask_above_s, echo)
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


def _check_time(
    configs: Sequence[MeasurementConfig],
    new_config: MeasurementConfig,
    new_arch: Architecture,
    store: Any,
    force: bool,
    ask_above_s: float | None,
    echo: Callable[[str], None],
) -> None:
    """Echo the estimated time of the runs to do; refuse to start one too long to ask for."""
    from harness.analysis.run_estimate import estimate

    cached = set()
    if not force:
        cached = {c.key() for c in configs if (r := store.get(c.key())) is not None and r.ok}
    pairs = [(c, get(c.architecture)) for c in configs] + [(new_config, new_arch)]
    guess = estimate(pairs, cached, store.load(status="ok"))
    echo(guess.line())
    if ask_above_s is not None and guess.seconds > ask_above_s:
        raise ConfigurationError(
            f"this comparison would take about {guess.duration} (estimate above); add --yes "
            "to run it, or shorten it (--max 2; on a CPU, leave out --full)"
        )


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
    for tag in ("compare", "paper", None):  # the chosen few, the paper's networks, any
        pool = [a for a in list_architectures(benchmark=bench, tag=tag) if a.name != new_arch.name]
        if pool:
            return [a.name for a in spanning(pool, limit)]
    raise ConfigurationError(f"no zoo architectures for benchmark {bench!r}")


def spanning(pool: Sequence[Architecture], limit: int) -> list[Architecture]:
    """At most `limit` networks spread evenly over log10 of their published compute (cheapest
    and dearest included), so a default comparison spans the trend; unknown compute last."""
    known = sorted((a for a in pool if a.published_gmacs), key=lambda a: a.published_gmacs)
    rest = [a for a in pool if not a.published_gmacs]
    if len(known) <= limit:
        return (known + rest)[:limit]
    logs = [math.log10(a.published_gmacs) for a in known]
    chosen: list[int] = []
    for i in range(limit):
        target = logs[0] + (logs[-1] - logs[0]) * i / max(limit - 1, 1)
        free = [j for j in range(len(known)) if j not in chosen]
        chosen.append(min(free, key=lambda j: abs(logs[j] - target)))
    return [known[j] for j in sorted(chosen)]


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
            metric, claimed, citation=CLAIMED_CITATION, claimed=True
        )
    return dataclasses.replace(arch, **changes) if changes else arch


def _trend_positions(
    records: Sequence[Measurement], bench: str, notes: list[str], published_from: str | None = None
) -> list[TrendPosition]:
    from harness.analysis.authors_fit import published_points
    from harness.analysis.fit import fit

    published = published_points(bench, published_from)
    placed, tiny = [], []
    for r in records:
        why = not_placed(r)
        if r.config.get("tiny"):
            tiny.append(str(r.config.get("architecture")))
        elif why:
            notes.append(f"not placed on the paper's trend: {why}")
        else:
            placed.append(r)
    if tiny:
        notes.append(
            "not placed on the paper's trend (tiny variants, not the published networks): "
            + ", ".join(tiny)
        )
    out: list[TrendPosition] = []
    for measure in ("per-pass", "burden"):
        try:
            f = fit(published, bench, measure, "polynomial")
        except HarnessError as exc:
            notes.append(f"no {measure} trend for {bench}: {exc}")
            continue
        if not f.significant:
            notes.append(
                f"the {bench} {measure} fit is {f.verdict}: its positions carry no verdict"
            )
        desc = (
            f"k={f.k:.3g} (n={f.n}, R2={f.r_squared:.2f}, p={f.p_value:.2g}, "
            f"published {bench} points)"
        )
        out += [p for p in (position(r, f, desc) for r in placed) if p is not None]
    return out
