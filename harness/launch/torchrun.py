"""Data-parallel measurement under torchrun (torch.distributed + DistributedDataParallel).

Two halves, one module (nothing else in the package imports torch.distributed):

* the launcher, `harness measure NAME --nproc-per-node N [--nnodes M --rdzv-endpoint H:P]`:
  writes the configuration to a run folder, starts `python -m torch.distributed.run ... -m
  harness measure NAME --distributed --run-dir DIR`, waits (with a timeout), and reads back
  each local rank's status file and rank 0's record. A rank that failed or never reported is
  named in the record; torchrun's agent stops the other ranks when one fails. A run folder the
  launcher made itself (`harness-ddp-*` in the temporary directory) is removed once the record
  is read; one given with `--run-dir` is kept. The timeout defaults to the single-run
  `--timeout` (`harness.watchdog.DEFAULT_TIMEOUT_S`); `--rdzv-endpoint` is refused with one
  node, which always rendezvous locally (`--standalone`).
* the rank, `--distributed` (also what a user gets from `torchrun ... -m harness measure NAME
  --distributed`): joins the process group (NCCL on GPUs, gloo on CPU) with a collective
  timeout, checks that every rank has the same configuration, lets rank 0 time a
  single-process baseline while the others wait, then every rank times its DDP training steps
  with the harness's timer and measures its own device's energy; twice, the second time
  with a no-op gradient communication hook, so the communication share of a step is measured.
  Rank 0 gathers per-rank timing and energy (all_gather_object) and writes one record.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch

from harness.errors import ConfigurationError, DeviceUnavailableError, HarnessError
from harness.launch.process import DEFAULT_TARGET, Job, with_expandable_segments
from harness.launch.rank import check_backend
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.watchdog import DEFAULT_TIMEOUT_S, check_timeout

DEFAULT_LAUNCH_TIMEOUT_S = DEFAULT_TIMEOUT_S  # the same limit as a single run


@dataclass(frozen=True)
class TorchrunPlan:
    """How to start the ranks: processes per node, nodes, rendezvous, backend, limits."""

    nproc_per_node: int
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    backend: str | None = None
    run_dir: str | None = None
    timeout_s: float | None = None

    def check(self) -> None:
        if self.nproc_per_node < 1:
            raise ConfigurationError(
                f"--nproc-per-node must be at least 1, got {self.nproc_per_node}"
            )
        if self.nnodes < 1:
            raise ConfigurationError(f"--nnodes must be at least 1, got {self.nnodes}")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ConfigurationError(
                "--nnodes > 1 needs --rdzv-endpoint HOST:PORT (the same on every node)"
            )
        if self.nnodes == 1 and self.rdzv_endpoint:
            raise ConfigurationError(
                "--rdzv-endpoint is for several nodes (--nnodes N > 1); one node rendezvous "
                "locally: drop --rdzv-endpoint"
            )
        if self.timeout_s is not None:
            check_timeout(self.timeout_s, "--launch-timeout")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes


def torchrun_command(
    plan: TorchrunPlan, config: MeasurementConfig, run_dir: Path, backend: str
) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={plan.nproc_per_node}"]
    if plan.nnodes > 1:
        cmd += [
            f"--nnodes={plan.nnodes}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={plan.rdzv_endpoint}",
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


def launch(
    config: MeasurementConfig, plan: TorchrunPlan, *, output: IO[bytes] | None = None
) -> Measurement | None:
    """Start torchrun for `config` (its world size is the plan's) and return the gathered
    record; None where rank 0 runs on another node, whose launcher writes the record.
    `output` takes torchrun's and the ranks' output (default: this process's)."""
    plan.check()
    backend = check_backend(plan.backend, config.device)
    if config.device_kind == "cuda" and torch.cuda.device_count() < plan.nproc_per_node:
        raise DeviceUnavailableError(
            f"--nproc-per-node {plan.nproc_per_node} needs that many GPUs; this node has "
            f"{torch.cuda.device_count()}"
        )
    run_dir = Path(plan.run_dir) if plan.run_dir else Path(tempfile.mkdtemp(prefix="harness-ddp-"))
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict()))
        cmd = torchrun_command(plan, config, run_dir, backend)
        timeout = plan.timeout_s or DEFAULT_LAUNCH_TIMEOUT_S
        line = f"launching {plan.world_size} ranks: {' '.join(cmd)}"
        if output is None:
            print(line, file=sys.stderr)
        else:
            output.write(f"{line}\n".encode())
            output.flush()
        local_world = plan.world_size if plan.nnodes == 1 else None
        return launch_and_collect(
            cmd, run_dir, config, timeout_s=timeout, world=local_world, output=output
        )
    finally:
        if not plan.run_dir:  # the record has been read: the folder has served its purpose
            shutil.rmtree(run_dir, ignore_errors=True)


def launch_and_collect(
    cmd: list[str],
    run_dir: Path,
    config: MeasurementConfig,
    *,
    timeout_s: float,
    world: int | None = None,
    output: IO[bytes] | None = None,
) -> Measurement | None:
    """Run torchrun, then turn what the ranks left in `run_dir` into one record."""
    env = dict(
        with_expandable_segments(os.environ),
        HARNESS_DIST_RUN_DIR=str(run_dir),
        PYTHONUNBUFFERED="1",
    )
    streams = {"stdout": output, "stderr": subprocess.STDOUT} if output is not None else {}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, **streams)
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


# --------------------------------------------------------------------------------------------
# A sweep's data-parallel configuration
# --------------------------------------------------------------------------------------------


def run_distributed_job(
    job: Job, key: str, *, target: str = DEFAULT_TARGET, output: IO[bytes] | None = None
) -> Measurement:
    """A sweep configuration with `world_size` N > 1: N ranks under torchrun on this node, as
    `harness measure NAME --nproc-per-node N` runs them; never one process billed as N.

    Refused (an "error" row saying why) where the ranks cannot run: a worker target other
    than the measuring pipeline (torchrun runs the pipeline itself), too few GPUs, or a
    backend this machine lacks. The record's burden counts the ranks that reported.
    """
    config = job.config
    label = config.label()
    if target != DEFAULT_TARGET:
        return _refused(
            job,
            key,
            f"{label}: world_size {config.world_size} runs under torchrun, which "
            f"runs the measuring pipeline, not the worker target {target!r}",
        )
    plan = TorchrunPlan(nproc_per_node=config.world_size, timeout_s=job.timeout_s)
    try:
        record = launch(config, plan, output=output)
    except HarnessError as exc:
        return _refused(job, key, f"{label}: world_size {config.world_size}: {exc}")
    if record is None:  # one node: rank 0 is always here
        return _refused(job, key, f"{label}: torchrun ended without rank 0's record")
    return record if record.key == key else record.replace(key=key)


def _refused(job: Job, key: str, why: str) -> Measurement:
    return Measurement.create(
        job.config,
        status="error",
        error=why,
        key=key,
        architecture=job.architecture or {"name": job.config.architecture},
    )
