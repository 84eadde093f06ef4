"""One rank of a data-parallel run under torchrun: the same pipeline, with the model wrapped in DDP."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import socket
import sys
import traceback
from dataclasses import replace
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
# codecarbon's first task probes the hardware for about this long (harness.energy.codecarbon_backend)
HOST_PROBE_S = 2.0


def process_group_timeout_s(requested_s: float, device_kind: str, options: Any) -> float:
    """The collective timeout: at least twice the longest a rank can spend before its first
    collective of a timed measurement (the GPU cool-down, the idle baseline, the host probe).

    Each rank cools its own GPU and takes its own baseline inside `measure()`, before DDP's
    first broadcast; a rank whose GPU is slow to cool must not trip the others' timeout.
    """
    from harness.energy.factory import MonitorSettings

    cooldown = options.cooldown_max_s if device_kind == "cuda" and options.energy else 0.0
    before_first_collective = cooldown + MonitorSettings().idle_s + HOST_PROBE_S
    return max(float(requested_s), 2.0 * before_first_collective)


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


def rank_device(device_kind: str, local_rank: int, cuda: Any = None) -> tuple[str, int | None]:
    """(device, CUDA index) of this rank: cuda:(LOCAL_RANK mod visible devices).

    A launcher that gives each process one GPU through CUDA_VISIBLE_DEVICES (Slurm's
    --gpus-per-task=1, for one) shows every rank a single cuda:0 while LOCAL_RANK runs 0..N-1;
    the modulo also keeps N ranks on fewer visible GPUs from asking for a device that is not there.
    `cuda` stands in for torch.cuda in tests.
    """
    if device_kind != "cuda":
        return "cpu", None
    count = (cuda if cuda is not None else torch.cuda).device_count()
    if count < 1:
        raise DeviceUnavailableError(
            "no CUDA device is visible to this rank (check CUDA_VISIBLE_DEVICES); use --device cpu"
        )
    index = local_rank % count
    return f"cuda:{index}", index


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        raise ConfigurationError(
            f"--distributed runs under torchrun, which sets {name}; launch with "
            "`harness measure NAME --nproc-per-node N` or `torchrun ... -m harness measure NAME --distributed`"
        ) from None


class RankFailed(Exception):
    """This rank failed; its status file and stderr already say why."""

    def __init__(self, rank: int) -> None:
        super().__init__(f"rank {rank} failed")
        self.rank = rank


def rank_main(
    config: MeasurementConfig | None, *, backend: str | None, run_dir: str | None
) -> Measurement | None:
    """One torchrun rank: measure, report this rank's status in the run folder, and (rank 0)
    return the gathered record. `config` is read from the run folder where the launcher wrote
    it; a user's own `torchrun ... --distributed` passes the one built from the options."""
    rank, world, local_rank = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    folder = Path(run_dir or os.environ.get("HARNESS_DIST_RUN_DIR") or ".")
    status: dict[str, Any] = {"rank": rank, "world_size": world, "status": "running"}
    try:
        config = _rank_config(config, folder)
        timeout_s = float(
            os.environ.get("HARNESS_COLLECTIVE_TIMEOUT_S", DEFAULT_COLLECTIVE_TIMEOUT_S)
        )
        record = measure_rank(
            config,
            rank=rank,
            world=world,
            local_rank=local_rank,
            backend=backend,
            timeout_s=timeout_s,
        )
        status["status"] = "ok"
    except BaseException as exc:
        status.update(status="error", error=one_line(f"{type(exc).__name__}: {exc}"))
        _write_json(folder / f"rank-{rank}.json", status)
        if not isinstance(exc, HarnessError):
            traceback.print_exc()
        print(f"harness measure: rank {rank}: error: {exc}", file=sys.stderr)
        raise RankFailed(rank) from exc
    _write_json(folder / f"rank-{rank}.json", status)
    if record is not None:  # rank 0
        (folder / "record.json").write_text(record.to_json())
    return record


def started_by_launcher() -> bool:
    """True under `harness measure --nproc-per-node` (its launcher collects the record)."""
    return bool(os.environ.get("HARNESS_DIST_RUN_DIR"))


def _rank_config(config: MeasurementConfig | None, run_dir: Path) -> MeasurementConfig:
    path = run_dir / "config.json"
    if path.exists():
        return MeasurementConfig.from_dict(json.loads(path.read_text()))
    if config is None:
        raise ConfigurationError("no configuration: name an architecture to measure")
    return config


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, default=str))
    tmp.replace(path)


def _noop_comm_hook(state, bucket):  # noqa: ANN001 - DDP checks the annotations at runtime
    """A DDP communication hook that skips the all-reduce: the step without communication."""
    fut: torch.futures.Future = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


def _ddp_wrappers(device: str, gpu: int | None) -> tuple[Any, Any]:
    """(DDP with its all-reduce, DDP whose communication hook skips the all-reduce)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    kw = {"device_ids": [gpu]} if gpu is not None else {}

    def no_comm(m: Any) -> Any:
        wrapped = DDP(m, **kw)
        wrapped.register_comm_hook(None, _noop_comm_hook)
        return wrapped

    return (lambda m: DDP(m, **kw)), no_comm


def _ok(record: Measurement, what: str) -> Measurement:
    if not record.ok:
        raise HarnessError(f"{what}: {record.error}")
    return record


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
    """One rank's part of a data-parallel measurement; rank 0 returns the gathered record.

    Every timing is the pipeline's `measure()`: rank 0 first times the single-process step
    (the baseline of the scaling efficiency), then every rank times its DDP step with energy,
    and again with a no-op communication hook (the communication share).
    """
    import torch.distributed as dist

    from harness.pipeline.aggregate import aggregate, rank_figures
    from harness.pipeline.measure import MeasureOptions, measure

    device, gpu = rank_device(config.device_kind, local_rank)
    backend = check_backend(backend, device)
    if gpu is not None:
        torch.cuda.set_device(gpu)
    # ranks must agree on the batch: an out-of-memory is an error here, not a retry
    quiet = MeasureOptions(
        device=device, count=False, energy=False, matmul_peak=False, cost=False, retry_oom=False
    )
    timed_options = replace(quiet, energy=True)
    timeout_s = process_group_timeout_s(timeout_s, config.device_kind, timed_options)
    dist.init_process_group(backend, timeout=dt.timedelta(seconds=timeout_s))
    try:
        _check_same_config(dist, config, rank, world)
        arch = config.resolve_architecture()
        base = None
        plan: list[Any] = [config.min_steps]
        if baseline and rank == 0:
            base = _ok(measure(config, options=quiet, architecture=arch), "single-process baseline")
            # Every rank runs the same number of steps (each is a collective); enough to cover
            # min_seconds at the single-process pace.
            plan[0] = max(config.min_steps, math.ceil(config.min_seconds / base.timing["median_s"]))
        dist.broadcast_object_list(plan, src=0)
        with_ddp, without_comm = _ddp_wrappers(device, gpu)
        timed = replace(timed_options, exact_steps=int(plan[0]), wrap_model=with_ddp)
        with_comm = _ok(measure(config, options=timed, architecture=arch), "DDP step")
        untimed = replace(timed, energy=False, wrap_model=without_comm)
        no_comm = _ok(measure(config, options=untimed, architecture=arch), "DDP step, no comm")
        name = device if gpu is None else torch.cuda.get_device_name(gpu)
        mine = rank_figures(rank, socket.gethostname(), device, name, with_comm, no_comm)
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, mine)
        if rank != 0:
            return None
        base_tput = base.timing["samples_per_s"] if base is not None else None
        return aggregate(config, gathered, base_tput, backend=backend)
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
