"""A suite on a cluster: a job array of shards through submitit, merged when it ends.

Why submitit (https://github.com/facebookincubator/submitit): it writes the sbatch script,
submits the array, pickles each task's function and arguments, and returns each task's
result or traceback; its LocalExecutor runs the same tasks as local subprocesses, which is
how the path is tested without Slurm.

Each array task measures one shard (`Shard(i, N)`: a hash split of the configuration keys)
into its own database, so no two nodes write one SQLite file. By default that database is
written in `<results>.shards/` on the shared file system with the rollback journal (WAL does
not work across nodes), where `harness status` reads its progress live; with a node-local
folder (`$TMPDIR`) it is written there and copied back when the shard ends. The launcher
waits for the array and merges the shards into the results database (`harness merge` does
the same by hand for an array left running).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError, HarnessError, one_line
from harness.launch.process import DEFAULT_TARGET, Job
from harness.sweep.journal import NO_WAL_ENV
from harness.sweep.merge import MergeResult, merge
from harness.sweep.shard import Shard, select

EXECUTORS = ("slurm", "local")
PLAN_NAME = "plan.json"


@dataclass(frozen=True)
class ClusterPlan:
    """How the array is submitted: `tasks` shards, each with `gpus_per_task` GPUs."""

    executor: str
    tasks: int
    partition: str | None = None
    gpus_per_task: int = 0
    time_min: int = 60
    shard_dir: str | None = None  # node-local folder ("$TMPDIR"); None: the shared folder
    extra: Mapping[str, Any] = field(default_factory=dict)  # more sbatch options

    def check(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigurationError(f"--executor {self.executor!r}: use slurm or local")
        if self.tasks < 1:
            raise ConfigurationError(f"--tasks must be at least 1, got {self.tasks}")
        if self.time_min < 1:
            raise ConfigurationError(f"--time must be at least 1 minute, got {self.time_min}")


@dataclass(frozen=True)
class ShardTask:
    """Everything one array task needs (pickled by submitit)."""

    shard: Shard
    jobs: tuple[Job, ...]
    notes: Mapping[str, str]
    db: str  # the shard's database in the shared folder
    shard_dir: str | None
    target: str = DEFAULT_TARGET
    force: bool = False
    claim_timeout_s: float | None = None
    gpu_pool: bool = False  # several GPUs per task: one configuration per GPU


def shards_folder(results: Path) -> Path:
    """`reports/results.sqlite` -> `reports/results.shards/`."""
    return results.with_name(results.stem + ".shards")


def shard_db(results: Path, shard: Shard) -> Path:
    return shards_folder(results) / f"shard-{shard.index}-of-{shard.count}.sqlite"


def run_shard(task: ShardTask) -> dict[str, Any]:
    """One array task: measure the shard's jobs into its database; returns the summary."""
    from harness.sweep.loop import run_sweep
    from harness.sweep.slots import gpu_slots
    from harness.sweep.suite import NotedStore

    final = Path(task.db)
    local = None
    if task.shard_dir:
        folder = Path(os.path.expandvars(task.shard_dir)).expanduser()
        local = folder / final.name
        if final.exists() and not local.exists():  # a rerun resumes where the copy left off
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(final, local)
    else:
        os.environ[NO_WAL_ENV] = "1"  # the shared file system: the rollback journal
    slots = gpu_slots("all") if task.gpu_pool else None
    with NotedStore(local or final, task.notes) as store:
        result = run_sweep(
            task.jobs,
            store,
            target=task.target,
            force=task.force,
            progress=False,
            claim_timeout_s=task.claim_timeout_s,
            slots=slots,
        )
    if local is not None:
        _copy_back(local, final)
    return {"shard": str(task.shard), "summary": result.summary(), "failed": result.failed}


def _copy_back(local: Path, final: Path) -> None:
    """The node-local database, as one file, atomically into the shared folder."""
    with sqlite3.connect(local) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")  # folds the WAL into the file
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".part")
    shutil.copyfile(local, tmp)
    os.replace(tmp, final)


def shard_tasks(
    keyed: Sequence[tuple[str, Job]],
    results: Path,
    plan: ClusterPlan,
    *,
    notes: Mapping[str, str],
    target: str = DEFAULT_TARGET,
    force: bool = False,
    claim_timeout_s: float | None = None,
) -> list[ShardTask]:
    """One task per shard (an empty shard too, so the array's numbering is the shards')."""
    out = []
    for i in range(plan.tasks):
        shard = Shard(i, plan.tasks)
        jobs = tuple(select(keyed, shard))
        mine = {k: n for k, n in notes.items() if shard.holds(k)}
        db = str(shard_db(results, shard))
        out.append(
            ShardTask(
                shard,
                jobs,
                mine,
                db,
                plan.shard_dir,
                target,
                force,
                claim_timeout_s,
                gpu_pool=plan.gpus_per_task > 1,
            )
        )
    return out


def executor(plan: ClusterPlan, folder: Path) -> Any:
    """A submitit executor for `plan` (an ImportError names the extra to install)."""
    try:
        import submitit
    except ImportError:
        raise HarnessError(
            "--executor needs submitit: pip install 'dl-cost-harness[slurm]' (or submitit)"
        ) from None
    if plan.executor == "local":
        ex = submitit.LocalExecutor(folder=str(folder))
        ex.update_parameters(timeout_min=plan.time_min, gpus_per_node=plan.gpus_per_task)
        return ex
    try:
        ex = submitit.SlurmExecutor(folder=str(folder))
    except RuntimeError as exc:  # submitit's "Could not detect srun"
        raise HarnessError(
            f"--executor slurm: {one_line(str(exc))}; submit from a Slurm login node, or use "
            "--executor local to run the shards here"
        ) from None
    params: dict[str, Any] = {
        "time": plan.time_min,
        "ntasks_per_node": 1,
        "array_parallelism": plan.tasks,
        "job_name": "harness-sweep",
    }
    if plan.partition:
        params["partition"] = plan.partition
    if plan.gpus_per_task:
        params["gpus_per_task"] = plan.gpus_per_task
    params.update(plan.extra)
    ex.update_parameters(**params)
    return ex


def submit(tasks: Sequence[ShardTask], plan: ClusterPlan, results: Path) -> list[Any]:
    """Submit the array and write its plan (job ids, totals) beside the shard databases."""
    folder = shards_folder(results)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = executor(plan, folder / "submitit").map_array(run_shard, list(tasks))
    written = {
        "executor": plan.executor,
        "tasks": plan.tasks,
        "into": str(results),
        "job_ids": [j.job_id for j in jobs],
        "totals": {str(t.shard.index): len(t.jobs) for t in tasks},
        "databases": {str(t.shard.index): t.db for t in tasks},
    }
    (folder / PLAN_NAME).write_text(json.dumps(written, indent=1))
    return jobs


def wait_and_merge(
    jobs: Sequence[Any], tasks: Sequence[ShardTask], results: Path, say
) -> tuple[MergeResult | None, list[str]]:
    """Wait for every task; merge the shard databases that exist. Returns (the merge, one
    line per task that failed)."""
    failures = []
    for job, task in zip(jobs, tasks, strict=True):
        try:
            outcome = job.result()
            say(f"shard {task.shard}: {outcome['summary']}")
        except Exception as exc:  # a task's traceback: one line here, all of it in its log
            failures.append(f"shard {task.shard} (job {job.job_id}) failed: {one_line(str(exc))}")
            say(failures[-1])
    present = [t.db for t in tasks if Path(t.db).exists()]
    merged = merge(present, results) if present else None
    return merged, failures
