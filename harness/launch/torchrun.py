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
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from harness.errors import ConfigurationError, DeviceUnavailableError
from harness.launch.rank import check_backend, rank_main
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

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
    from harness.pipeline.summary import figure_rows
    from harness.sweep.store import ResultStore

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
