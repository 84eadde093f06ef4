"""One record from the ranks of a data-parallel run: rank 0 gathers every rank's figures and
turns them into the global step's record with the same stages as a single measurement (count,
peak, utilisation, burden), so the two kinds of record cannot drift apart.

Synchronous data parallelism runs at the slowest rank's pace; the global step is every rank's
batch. The communication share is one minus the ratio of two step times: with a no-op DDP comm
hook and with the real all-reduce. Ranks that share a device (CPU ranks on one host) measured the
same energy, which is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.energy.measurement import EnergyMeasurement, weakest
from harness.hardware.environment import capture_environment
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.measure import burden_section, count_training_step, timing_section
from harness.pipeline.record import Measurement

RANK_FIELDS = (
    "rank",
    "host",
    "device",
    "median_s",
    "samples_per_s",
    "no_comm_median_s",
    "steps",
    "energy_j",
    "energy_provenance",
)


def rank_figures(
    rank: int,
    host: str,
    device: str,
    device_name: str,
    with_comm: Measurement,
    no_comm: Measurement,
) -> dict[str, Any]:
    """What one rank contributes to the gathered record: its two timings and its energy."""
    timing, energy = with_comm.timing, dict(with_comm.energy or {})
    energy.pop("timeline", None)
    available = energy.get("total_energy_j") is not None
    return {
        "rank": rank,
        "host": host,
        "device": device_name,
        "device_key": f"{host}/{device}",
        "median_s": timing["median_s"],
        "samples_per_s": timing["samples_per_s"],
        "no_comm_median_s": no_comm.timing["median_s"],
        "steps": len(timing["samples_s"]),
        "batch_size": timing["batch_size"],
        "config_key": with_comm.key,
        "energy": energy or None,
        "energy_j": energy.get("total_energy_j") if available else None,
        "energy_provenance": energy.get("provenance", "unavailable"),
        "timing": timing,
    }


def _total_energy(per_rank: Sequence[Mapping[str, Any]]) -> EnergyMeasurement:
    by_device: dict[str, Mapping[str, Any]] = {}
    for r in per_rank:
        by_device.setdefault(r["device_key"], r)
    energies = [r["energy_j"] for r in by_device.values()]
    if any(e is None for e in energies):
        reasons = "; ".join(
            f"rank {r['rank']}: {(r['energy'] or {}).get('reason', '')}" for r in per_rank
        )
        return EnergyMeasurement.unavailable("ddp", "distributed", reasons)
    window = per_rank[0]["energy"] or {}
    return EnergyMeasurement(
        name="ddp",
        backend="distributed",
        duration_s=float(window.get("duration_s") or 0.0),
        energy_j_by_device={k: float(r["energy_j"]) for k, r in by_device.items()},
        total_energy_j=float(sum(energies)),
        provenance=weakest([r["energy_provenance"] for r in by_device.values()]),
        reason="sum over the distinct devices of all ranks",
        throttled_at_end=_throttled(per_rank),
    )


def _throttled(per_rank: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Every rank's power or thermal throttling at the end of its window, named by rank."""
    return tuple(
        f"rank {r['rank']}: {reason}"
        for r in per_rank
        for reason in (r["energy"] or {}).get("throttled_at_end") or ()
    )


def _distributed_section(
    per_rank: Sequence[Mapping[str, Any]],
    baseline_samples_per_s: float | None,
    energy: EnergyMeasurement,
    backend: str,
) -> dict[str, Any]:
    world = len(per_rank)
    global_batch = sum(r["batch_size"] for r in per_rank)
    slowest = max(r["median_s"] for r in per_rank)
    aggregate_tput = global_batch / slowest
    no_comm = max(r["no_comm_median_s"] for r in per_rank)
    efficiency = (
        aggregate_tput / (world * baseline_samples_per_s) if baseline_samples_per_s else None
    )
    return {
        "world_size": world,
        "backend": backend,
        "local_batch": per_rank[0]["batch_size"],
        "global_batch": global_batch,
        "slowest_rank_median_s": slowest,
        "aggregate_samples_per_s": aggregate_tput,
        "sum_of_rank_samples_per_s": sum(r["samples_per_s"] for r in per_rank),
        "no_comm_slowest_median_s": no_comm,
        "comm_share": max(0.0, 1.0 - no_comm / slowest),
        "comm_share_method": "1 - step time with a no-op DDP comm hook / step time with all-reduce",
        "baseline_samples_per_s": baseline_samples_per_s,
        "scaling_efficiency": efficiency,
        "total_energy_j": energy.total_energy_j,
        "energy_provenance": energy.provenance,
        "per_rank": [{k: r[k] for k in RANK_FIELDS} for r in per_rank],
    }


def aggregate(
    config: MeasurementConfig,
    per_rank: Sequence[Mapping[str, Any]],
    baseline_samples_per_s: float | None,
    *,
    backend: str,
    peak: Mapping[str, Any] | None = None,
) -> Measurement:
    """The gathered record (pure arithmetic on the ranks' figures; tested without a process
    group). `peak` is rank 0's peak figures (`harness.hardware.peaks.peak_figures`)."""
    from harness.hardware.peaks import peak_figures

    per_rank = sorted(per_rank, key=lambda r: r["rank"])
    world = len(per_rank)
    energy = _total_energy(per_rank)
    dist = _distributed_section(per_rank, baseline_samples_per_s, energy, backend)
    precision = per_rank[0]["timing"]["precision_used"]
    if peak is None:
        peak = peak_figures(config.device, precision, measure=config.device_kind == "cpu")
    arch = config.resolve_architecture()
    # The step is the global step: every rank's batch, at the slowest rank's pace.
    global_batch, slowest = dist["global_batch"], dist["slowest_rank_median_s"]
    counts = count_training_step(arch, config, global_batch)
    timing = dict(per_rank[0]["timing"])
    timing.update(
        median_s=slowest,
        batch_size=global_batch,
        samples_per_s=dist["aggregate_samples_per_s"],
        rank0_median_s=per_rank[0]["median_s"],
    )
    timing = timing_section(timing, counts, dict(peak), devices=world)
    timing["distributed"] = dist
    steps = min(r["steps"] for r in per_rank)
    burden = burden_section(
        arch,
        config,
        counts,
        (slowest, global_batch, steps, precision),
        energy,
        peak,
        processors=world,  # the ranks that reported, not the configured world size
    )
    return Measurement.create(
        config,
        status="ok",
        architecture=arch.summary(),
        environment={**capture_environment(config.device), "world_size": world, "backend": backend},
        counts={**counts.to_dict(), "note": "counted for the global batch (world x local batch)"},
        timing=timing,
        energy=energy.to_dict(),
        burden=burden,
    )
