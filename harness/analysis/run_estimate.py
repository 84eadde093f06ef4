"""How long a comparison will take, said before anything starts.

An order of magnitude, not a prediction: each run costs a process start (import torch, build,
count, measure the peak) plus its timed window, warm-up steps and a counting pass. A step's time
is its training FLOP (about 3 x the forward pass: forward plus a backward of about twice the
forward; Kaplan et al. 2020, arXiv:2001.08361, sec. 2.1) over a throughput: the median achieved
FLOP/s of the database's full-size rows on the same kind of device where there are some, else a
rough figure (below). A tiny variant's steps take milliseconds: its window is its cost.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

# Rough sustained fp32 training throughput (FLOP/s) where the database has none: a few CPU cores
# reach tens of GFLOP/s in a training step; a data-centre GPU tens of TFLOP/s. Harness choice,
# order of magnitude only.
ROUGH_FLOP_PER_S = {"cpu": 3e10, "cuda": 3e13}
# A fresh process: import torch, build the network, count its FLOP, measure the matmul peak.
RUN_OVERHEAD_S = {"cpu": 15.0, "cuda": 30.0}
TRAIN_OVER_FORWARD = 3.0
ASK_ABOVE_S = 180.0  # a comparison longer than this starts only with --yes


@dataclass(frozen=True)
class RunEstimate:
    """The estimated wall time of the runs still to do, and what the estimate rests on."""

    seconds: float
    runs: int
    cached: int
    basis: str

    @property
    def duration(self) -> str:
        return _duration(self.seconds)

    def line(self) -> str:
        cached = f", {self.cached} reused from the database" if self.cached else ""
        return (
            f"estimated time: about {self.duration} for {self.runs} run(s){cached} ({self.basis})"
        )


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def stored_rate(records: Iterable[Measurement], kind: str) -> float | None:
    """Median achieved FLOP/s of the ok full-size rows timed on this kind of device."""
    rates = [
        r.timing_view.utilisation.achieved_flop_per_s
        for r in records
        if r.ok
        and not r.config.get("tiny")
        and str(r.config.get("device", "")).split(":")[0] == kind
    ]
    rates = [x for x in rates if isinstance(x, (int, float)) and x > 0]
    return statistics.median(rates) if rates else None


def stored_tiny_seconds(records: Iterable[Measurement], kind: str) -> float | None:
    """Median wall time (all phases) of the database's tiny runs on this kind of device: the
    machine's own figure, load included."""
    totals = [
        sum(v for v in (r.environment.get("phase_seconds") or {}).values())
        for r in records
        if r.ok and r.config.get("tiny") and str(r.config.get("device", "")).split(":")[0] == kind
    ]
    totals = [t for t in totals if t > 0]
    return statistics.median(totals) if totals else None


def run_seconds(
    config: MeasurementConfig, gmacs: float | None, rate: float, tiny_s: float | None = None
) -> float:
    """One run's wall time: overhead, warm-up, the timed window (at least `min_steps` steps and
    `min_seconds`) and a counting pass; a tiny run's as stored, else overhead and window."""
    kind = config.device.split(":")[0]
    overhead = RUN_OVERHEAD_S.get(kind, 30.0)
    if config.tiny or not gmacs:
        return tiny_s or overhead + 1.5 * config.min_seconds
    step = TRAIN_OVER_FORWARD * 2 * gmacs * 1e9 * config.batch_size / rate
    timed = max(config.min_steps * step, config.min_seconds)
    return overhead + (config.warmup_steps + 1) * step + timed


def scaled_gmacs(published: float | None, config: MeasurementConfig, arch) -> float | None:
    """Published forward GMACs at the asked size (area for a resolution, length for a sequence)."""
    if not published or config.size is None or not arch.default_size:
        return published
    ratio = config.size / arch.default_size
    return published * (ratio * ratio if arch.size_kind == "resolution" else ratio)


def estimate(
    configs: Sequence[tuple[MeasurementConfig, object]],
    cached: set[str],
    records: Iterable[Measurement] = (),
) -> RunEstimate:
    """The wall time of the (config, architecture) pairs whose key is not in `cached`."""
    todo = [(c, a) for c, a in configs if c.key() not in cached]
    kind = configs[0][0].device.split(":")[0] if configs else "cpu"
    records = list(records)
    rate, tiny_s = stored_rate(records, kind), stored_tiny_seconds(records, kind)
    basis = (
        f"published GMACs x 6 x batch over {rate / 1e9:.3g} GFLOP/s, the median of this "
        f"database's {kind} rows"
        if rate
        else f"published GMACs x 6 x batch over a rough {ROUGH_FLOP_PER_S.get(kind, 3e13) / 1e9:g} "
        f"GFLOP/s on {kind}"
    )
    unknown = [
        c.architecture for c, a in todo if not c.tiny and not getattr(a, "published_gmacs", None)
    ]
    if unknown:
        basis += f"; no published compute for {', '.join(unknown)}: counted as overhead only"
    if tiny_s and any(c.tiny for c, _ in todo):
        basis += f"; tiny runs {tiny_s:.0f} s each, as this database's took"
    rate = rate or ROUGH_FLOP_PER_S.get(kind, 3e13)
    seconds = sum(
        run_seconds(c, scaled_gmacs(getattr(a, "published_gmacs", None), c, a), rate, tiny_s)
        for c, a in todo
    )
    return RunEstimate(seconds, len(todo), len(configs) - len(todo), basis)
