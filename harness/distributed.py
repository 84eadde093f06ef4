"""Data-parallel measurement under torchrun (torch.distributed + DistributedDataParallel).

Two halves, one module (nothing else in the package imports torch.distributed):

* the launcher, `harness measure NAME --nproc-per-node N [--nnodes M --rdzv-endpoint H:P]`:
  writes the configuration to a run folder, starts `python -m torch.distributed.run ... -m
  harness measure NAME --distributed --run-dir DIR`, waits (with a timeout), and reads back
  each local rank's status file and rank 0's record. A rank that failed or never reported is
  named in the record; torchrun's agent stops the other ranks when one fails.
* the rank, `--distributed` (also what a user gets from `torchrun ... -m harness measure NAME
  --distributed`): joins the process group (NCCL on GPUs, gloo on CPU) with a collective
  timeout, checks that every rank has the same configuration, lets rank 0 time a
  single-process baseline while the others wait, then every rank times its DDP training steps
  with the timing issue's timer and measures its own device's energy; twice, the second time
  with a no-op gradient communication hook, so the communication share of a step is measured.
  Rank 0 gathers per-rank timing and energy (all_gather_object) and writes one record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from harness.errors import ConfigurationError, DeviceUnavailableError, HarnessError
from harness.records import Measurement, MeasurementConfig, one_line

DEFAULT_COLLECTIVE_TIMEOUT_S = 300.0
DEFAULT_LAUNCH_TIMEOUT_S = 3600.0


# --------------------------------------------------------------------------------------------
# The command (both halves)
# --------------------------------------------------------------------------------------------


def run_distributed_command(args: argparse.Namespace) -> int:
    """`harness measure ... --nproc-per-node N` (launcher) or `... --distributed` (a rank)."""
    if args.distributed:
        return rank_main(args)
    return launch(args)


# --------------------------------------------------------------------------------------------
# Launcher
# --------------------------------------------------------------------------------------------


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


def torchrun_command(
    args: argparse.Namespace, config: MeasurementConfig, run_dir: Path, backend: str
) -> list[str]:
    nnodes = args.nnodes or 1
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={args.nproc_per_node}"]
    if nnodes > 1:
        if not args.rdzv_endpoint:
            raise ConfigurationError(
                "--nnodes > 1 needs --rdzv-endpoint HOST:PORT (the same on every node)"
            )
        cmd += [
            f"--nnodes={nnodes}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={args.rdzv_endpoint}",
        ]
    else:
        cmd += ["--standalone"]
    cmd += [
        "-m",
        "harness",
        "measure",
        config.architecture,
        "--distributed",
        "--backend",
        backend,
        "--run-dir",
        str(run_dir),
    ]
    return cmd


def launch(args: argparse.Namespace) -> int:
    from harness.commands._options import measurement_config

    if not args.name:
        raise ConfigurationError("name an architecture to measure under torchrun")
    if args.nproc_per_node < 1:
        raise ConfigurationError(f"--nproc-per-node must be at least 1, got {args.nproc_per_node}")
    if (args.nnodes or 1) < 1:
        raise ConfigurationError(f"--nnodes must be at least 1, got {args.nnodes}")
    world = args.nproc_per_node * (args.nnodes or 1)
    config = measurement_config(args, args.name, world_size=world)
    backend = check_backend(args.backend, config.device)
    if config.device_kind == "cuda" and torch.cuda.device_count() < args.nproc_per_node:
        raise DeviceUnavailableError(
            f"--nproc-per-node {args.nproc_per_node} needs that many GPUs; this node has "
            f"{torch.cuda.device_count()}"
        )
    run_dir = (
        Path(args.run_dir)
        if getattr(args, "run_dir", None)
        else Path(tempfile.mkdtemp(prefix="harness-ddp-"))
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config.to_dict()))
    cmd = torchrun_command(args, config, run_dir, backend)
    timeout = getattr(args, "launch_timeout", None) or DEFAULT_LAUNCH_TIMEOUT_S
    print(f"launching {world} ranks: {' '.join(cmd)}", file=sys.stderr)
    local_world = world if (args.nnodes or 1) == 1 else None
    record = launch_and_collect(cmd, run_dir, config, timeout_s=timeout, world=local_world)
    if record is None:  # rank 0 runs on another node: its launcher writes the record
        print("this node's ranks finished; rank 0's node writes the record", file=sys.stderr)
        return 0
    return _finish(record, args)


def launch_and_collect(
    cmd: list[str],
    run_dir: Path,
    config: MeasurementConfig,
    *,
    timeout_s: float,
    world: int | None = None,
) -> Measurement | None:
    """Run torchrun, then turn what the ranks left in `run_dir` into one record."""
    env = dict(os.environ, HARNESS_DIST_RUN_DIR=str(run_dir), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait()
        timed_out = True
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise
    statuses = read_rank_statuses(run_dir)
    record_path = run_dir / "record.json"
    if record_path.exists() and rc == 0:
        return Measurement.from_json(record_path.read_text())
    if not statuses.get(0) and _rank0_elsewhere(statuses) and rc == 0:
        return None
    failed = describe_failures(statuses, world)
    why = (
        f"torchrun exited with status {rc}"
        if not timed_out
        else f"no result after {timeout_s:g} s (killed)"
    )
    return Measurement.create(
        config, status="timeout" if timed_out else "error", error=f"{why}; {failed}"
    )


def _rank0_elsewhere(statuses: Mapping[int, Mapping[str, Any]]) -> bool:
    return bool(statuses) and 0 not in statuses


def read_rank_statuses(run_dir: Path) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for p in sorted(run_dir.glob("rank-*.json")):
        try:
            d = json.loads(p.read_text())
            out[int(d["rank"])] = d
        except (ValueError, KeyError):
            continue
    return out


def describe_failures(statuses: Mapping[int, Mapping[str, Any]], world: int | None = None) -> str:
    """'rank 1 failed: ...; rank 2 did not report (hung or killed)' from the status files."""
    world = world or max((int(s.get("world_size", 0)) for s in statuses.values()), default=0)
    parts = []
    for r in range(world):
        s = statuses.get(r)
        if s is None:
            parts.append(f"rank {r} did not report (hung or killed)")
        elif s.get("status") != "ok":
            parts.append(f"rank {r} failed: {s.get('error')}")
    if not parts and not statuses:
        return "no rank reported (the launch failed before any rank started; see the output above)"
    return "; ".join(parts) or "every rank reported success, but no record was written"


def _finish(record: Measurement, args: argparse.Namespace) -> int:
    from harness.console import print_table
    from harness.store import ResultStore
    from harness.summary import figure_rows

    if not getattr(args, "no_store", False):
        with ResultStore(args.db) as store:
            store.put(record, overwrite=True)
    if args.json:
        print(json.dumps(record.to_dict(), indent=1, default=str))
    else:
        d = record.timing.get("distributed") or {}
        if d:
            print_table(distributed_rows(d), columns=["figure", "value"])
            print()
        if record.ok:
            print_table(figure_rows(record), columns=["figure", "value", "unit"])
    if not record.ok:
        print(f"harness measure: error: {record.error}", file=sys.stderr)
        return 1
    return 0


def distributed_rows(d: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = [
        {"figure": "world size", "value": d.get("world_size")},
        {"figure": "backend", "value": d.get("backend")},
        {"figure": "global batch", "value": d.get("global_batch")},
        {"figure": "slowest-rank median step (s)", "value": d.get("slowest_rank_median_s")},
        {"figure": "aggregate throughput (examples/s)", "value": d.get("aggregate_samples_per_s")},
        {"figure": "communication share of a step", "value": d.get("comm_share")},
        {
            "figure": "single-process throughput (examples/s)",
            "value": d.get("baseline_samples_per_s"),
        },
        {"figure": "scaling efficiency", "value": d.get("scaling_efficiency")},
        {"figure": "total energy of all devices (J)", "value": d.get("total_energy_j")},
    ]
    for r in d.get("per_rank") or []:
        rows.append(
            {
                "figure": f"rank {r['rank']} ({r['host']} {r['device']})",
                "value": f"{r['median_s'] * 1e3:.4g} ms/step, {r['samples_per_s']:.4g} ex/s, "
                f"energy {r.get('energy_j')} J [{r.get('energy_provenance')}]",
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# Rank
# --------------------------------------------------------------------------------------------


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
    from harness.timing import time_training

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
                monitor=monitor,
                progress=False,
                retry_oom=False,  # ranks must agree on the batch; an OOM is an error here
                wrap_model=wrap,
                exact_steps=steps is not None,
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
    from harness.burden import compute_burden
    from harness.counting import count_flops
    from harness.energy.base import EnergyMeasurement, weakest
    from harness.records import capture_environment
    from harness.timing import utilisation

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
    from harness.devices import datasheet_peak, describe_device, measure_peak_for_precision

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


__all__ = [
    "assemble_record",
    "check_backend",
    "describe_failures",
    "launch",
    "measure_rank",
    "rank_main",
    "run_distributed_command",
]
