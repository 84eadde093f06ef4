"""One rank of a data-parallel run under torchrun: the same pipeline, with the model wrapped in DDP."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import socket
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from harness.errors import ConfigurationError, DeviceUnavailableError, HarnessError, one_line
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

# --------------------------------------------------------------------------------------------
# Rank
# --------------------------------------------------------------------------------------------


DEFAULT_COLLECTIVE_TIMEOUT_S = 300.0


def check_backend(backend: str | None, device: str) -> str:
    """NCCL for CUDA, gloo for CPU; NCCL without CUDA is refused before anything starts."""
    kind = device.split(":")[0]
    chosen = backend or ("nccl" if kind == "cuda" else "gloo")
    if chosen == "nccl":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                "the NCCL backend needs CUDA GPUs and none is visible here; use --backend gloo "
                "with --device cpu"
            )
        if kind != "cuda":
            raise ConfigurationError("the NCCL backend runs on CUDA devices: use --device cuda")
    elif chosen != "gloo":
        raise ConfigurationError(f"unknown backend {chosen!r}; use nccl or gloo")
    return chosen


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        raise ConfigurationError(
            f"--distributed runs under torchrun, which sets {name}; launch with "
            "`harness measure NAME --nproc-per-node N` or `torchrun ... -m harness measure NAME --distributed`"
        ) from None


def rank_main(args: argparse.Namespace) -> int:
    rank, world, local_rank = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    run_dir = Path(getattr(args, "run_dir", None) or os.environ.get("HARNESS_DIST_RUN_DIR") or ".")
    status: dict[str, Any] = {"rank": rank, "world_size": world, "status": "running"}
    try:
        config = _rank_config(args, run_dir, world)
        record = measure_rank(
            config,
            rank=rank,
            world=world,
            local_rank=local_rank,
            backend=args.backend,
            timeout_s=float(
                os.environ.get("HARNESS_COLLECTIVE_TIMEOUT_S", DEFAULT_COLLECTIVE_TIMEOUT_S)
            ),
        )
        status["status"] = "ok"
    except BaseException as exc:
        status.update(status="error", error=one_line(f"{type(exc).__name__}: {exc}"))
        _write_json(run_dir / f"rank-{rank}.json", status)
        if not isinstance(exc, HarnessError):
            traceback.print_exc()
        print(f"harness measure: rank {rank}: error: {exc}", file=sys.stderr)
        return 1
    _write_json(run_dir / f"rank-{rank}.json", status)
    if record is not None:  # rank 0
        (run_dir / "record.json").write_text(record.to_json())
        if not os.environ.get("HARNESS_DIST_RUN_DIR"):  # started by a user's own torchrun
            from harness.launch.torchrun import _finish

            return _finish(record, args)
    return 0


def _rank_config(args: argparse.Namespace, run_dir: Path, world: int) -> MeasurementConfig:
    path = run_dir / "config.json"
    if path.exists():
        return MeasurementConfig.from_dict(json.loads(path.read_text()))
    from harness.commands._options import measurement_config

    return measurement_config(args, args.name, world_size=world)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, default=str))
    tmp.replace(path)


def _noop_comm_hook(state, bucket):  # noqa: ANN001 - DDP checks the annotations at runtime
    """A DDP communication hook that skips the all-reduce: the step without communication."""
    fut: torch.futures.Future = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


def measure_rank(
    config: MeasurementConfig,
    *,
    rank: int,
    world: int,
    local_rank: int,
    backend: str | None = None,
    timeout_s: float = DEFAULT_COLLECTIVE_TIMEOUT_S,
    baseline: bool = True,
) -> Measurement | None:
    """One rank's part of a data-parallel measurement; rank 0 returns the gathered record."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from harness.energy import make_energy_monitor
    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    device = f"cuda:{local_rank}" if config.device_kind == "cuda" else "cpu"
    backend = check_backend(backend, device)
    if config.device_kind == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, timeout=dt.timedelta(seconds=timeout_s))
    try:
        _check_same_config(dist, config, rank, world)
        arch = config.resolve_architecture()

        def timed(wrap, monitor=None, steps=None):
            return time_training(
                arch,
                TimingRequest(
                    batch_size=config.batch_size,
                    size=config.size,
                    tiny=config.tiny,
                    device=device,
                    precision=config.precision,
                    channels_last=config.channels_last,
                    compile_mode=config.compile_mode,
                    warmup_steps=config.warmup_steps,
                    min_steps=steps or config.min_steps,
                    min_seconds=config.min_seconds,
                    seed=config.seed,
                    retry_oom=False,  # ranks must agree on the batch; an OOM is an error here
                    exact_steps=steps is not None,
                ),
                monitor=monitor,
                progress=False,
                wrap_model=wrap,
            )

        ddp_kw = {"device_ids": [local_rank]} if device.startswith("cuda") else {}
        base = None
        plan: list[Any] = [config.min_steps]
        if baseline and rank == 0:
            base = timed(None)  # the single-process path, for scaling efficiency
            # Every rank runs the same number of steps (each is a collective); enough to cover
            # min_seconds at the single-process pace.
            plan[0] = max(config.min_steps, math.ceil(config.min_seconds / base.median_s))
        dist.broadcast_object_list(plan, src=0)
        steps = int(plan[0])
        with make_energy_monitor(
            device, country=config.country or "USA", pue=config.pue
        ) as monitor:
            with_comm = timed(lambda m: DDP(m, **ddp_kw), monitor, steps)

        def no_comm(m):
            wrapped = DDP(m, **ddp_kw)
            wrapped.register_comm_hook(None, _noop_comm_hook)
            return wrapped

        without_comm = timed(no_comm, None, steps)
        energy = with_comm.window
        mine = {
            "rank": rank,
            "host": socket.gethostname(),
            "device": device if device == "cpu" else torch.cuda.get_device_name(local_rank),
            "device_key": f"{socket.gethostname()}/{device}",
            "median_s": with_comm.median_s,
            "samples_per_s": with_comm.samples_per_s,
            "no_comm_median_s": without_comm.median_s,
            "steps": with_comm.steps,
            "batch_size": with_comm.batch_size,
            "config_key": config.key(),
            "energy": energy.to_dict(timeline=False) if energy is not None else None,
            "energy_j": energy.total_energy_j if energy is not None else None,
            "energy_provenance": energy.provenance if energy is not None else "unavailable",
            "timing": with_comm.to_dict(),
        }
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, mine)
        if rank != 0:
            return None
        return assemble_record(config, gathered, base, backend=backend)
    finally:
        dist.destroy_process_group()


def _check_same_config(dist: Any, config: MeasurementConfig, rank: int, world: int) -> None:
    """Every rank must measure the same thing: compare configuration keys before any work."""
    keys: list[Any] = [None] * world
    mine = config.to_dict()
    dist.all_gather_object(keys, mine)
    for r, other in enumerate(keys):
        if other != mine:
            diff = sorted(k for k in set(mine) | set(other) if mine.get(k) != other.get(k))
            raise ConfigurationError(
                f"rank {rank} and rank {r} have different configurations ({', '.join(diff)}); "
                "every rank must be started with the same options"
            )


def assemble_record(
    config: MeasurementConfig,
    per_rank: list[Mapping[str, Any]],
    baseline: Any,
    *,
    backend: str,
) -> Measurement:
    """One record from every rank's figures (pure arithmetic; tested without a process group)."""
    from harness.cost.burden import compute_burden
    from harness.cost.utilisation import utilisation
    from harness.counting.count import count_flops
    from harness.energy.base import EnergyMeasurement, weakest
    from harness.hardware.environment import capture_environment

    world = len(per_rank)
    per_rank = sorted(per_rank, key=lambda r: r["rank"])
    local_batch = per_rank[0]["batch_size"]
    global_batch = sum(r["batch_size"] for r in per_rank)
    slowest = max(r["median_s"] for r in per_rank)
    aggregate = global_batch / slowest  # synchronous data parallelism runs at the slowest rank
    no_comm = max(r["no_comm_median_s"] for r in per_rank)
    comm_share = max(0.0, 1.0 - no_comm / slowest)
    # Ranks that share a device (CPU ranks on one host) measured the same energy: count once.
    by_device: dict[str, Mapping[str, Any]] = {}
    for r in per_rank:
        by_device.setdefault(r["device_key"], r)
    energies = [r["energy_j"] for r in by_device.values()]
    provenance = weakest([r["energy_provenance"] for r in by_device.values()])
    total_energy = None if any(e is None for e in energies) else float(sum(energies))
    base_tput = baseline.samples_per_s if baseline is not None else None
    efficiency = aggregate / (world * base_tput) if base_tput else None

    arch = config.resolve_architecture()
    # The step is the global step: every rank's batch, at the slowest rank's pace.
    counts = count_flops(
        arch, batch_size=global_batch, size=config.size, tiny=config.tiny, train=True
    )
    window = per_rank[0]["energy"] or {}
    energy = (
        EnergyMeasurement(
            name="ddp",
            backend="distributed",
            duration_s=float(window.get("duration_s") or 0.0),
            energy_j_by_device={k: float(r["energy_j"]) for k, r in by_device.items()},
            total_energy_j=total_energy,
            provenance=provenance,
            reason="sum over the distinct devices of all ranks",
        )
        if total_energy is not None
        else EnergyMeasurement.unavailable(
            "ddp",
            "distributed",
            "; ".join(
                f"rank {r['rank']}: {(r['energy'] or {}).get('reason', '')}" for r in per_rank
            ),
        )
    )
    peak = _peak(config, per_rank[0]["timing"]["precision_used"])
    steps = min(r["steps"] for r in per_rank)
    burden = compute_burden(
        step_time_s=slowest,
        batch_size=global_batch,
        processors=world,
        peak_flop_per_s=peak[0],
        peak_source=peak[1],
        precision=per_rank[0]["timing"]["precision_used"],
        device_name=per_rank[0]["device"],
        recipe=arch.recipe,
        train_step_flops=counts.train_step_flops,
        energy=energy,
        window_steps=steps,
        grid=config.country or "USA",
        pue=config.pue,
        usd_per_device_hour=config.price_per_gpu_hour,
    )
    timing = dict(per_rank[0]["timing"])
    timing.pop("window", None)
    timing.update(
        median_s=slowest,
        batch_size=global_batch,
        samples_per_s=aggregate,
        rank0_median_s=per_rank[0]["median_s"],
    )
    timing["utilisation"] = utilisation(
        counts.train_step_flops,
        slowest,
        datasheet_peak_flop_per_s=peak[0] if peak[2] == "datasheet" else None,
        measured_peak_flop_per_s=peak[0] if peak[2] == "measured" else None,
        devices=world,
    ).to_dict()
    timing["distributed"] = {
        "world_size": world,
        "backend": backend,
        "local_batch": local_batch,
        "global_batch": global_batch,
        "slowest_rank_median_s": slowest,
        "aggregate_samples_per_s": aggregate,
        "sum_of_rank_samples_per_s": sum(r["samples_per_s"] for r in per_rank),
        "no_comm_slowest_median_s": no_comm,
        "comm_share": comm_share,
        "comm_share_method": "1 - step time with a no-op DDP comm hook / step time with all-reduce",
        "baseline_samples_per_s": base_tput,
        "scaling_efficiency": efficiency,
        "total_energy_j": total_energy,
        "energy_provenance": provenance,
        "per_rank": [
            {
                k: r[k]
                for k in (
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
            }
            for r in per_rank
        ],
    }
    return Measurement.create(
        config,
        status="ok",
        architecture=arch.summary(),
        environment={**capture_environment(config.device), "world_size": world, "backend": backend},
        counts={**counts.to_dict(), "note": "counted for the global batch (world x local batch)"},
        timing=timing,
        energy=energy.to_dict(),
        burden=burden.to_dict(),
    )


def _peak(config: MeasurementConfig, precision: str) -> tuple[float | None, str, str]:
    """(peak FLOP/s per device, its source, "datasheet" | "measured" | "none")."""
    from harness.hardware.devices import describe_device
    from harness.hardware.peaks import datasheet_peak, measure_peak_for_precision

    info = describe_device(config.device if config.device_kind == "cpu" else "cuda:0")
    sheet = datasheet_peak(info, precision)
    if sheet is not None:
        return sheet, f"datasheet peak of {info.name}", "datasheet"
    if info.kind == "cpu":
        m = measure_peak_for_precision("cpu", precision)
        return (
            m.flop_per_s,
            f"no datasheet figure for CPUs: the measured matmul peak is the peak; {m.source}",
            "measured",
        )
    return None, f"{info.name!r} is not in processors.csv", "none"
