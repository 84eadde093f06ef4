"""`harness measure --suite ... --executor slurm|local`: the suite as a job array of shards."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import ConfigurationError


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("a suite on a cluster (submitit)")
    g.add_argument(
        "--executor",
        choices=["slurm", "local"],
        default=None,
        help="submit the suite as a job array of --tasks shards (local: subprocesses, no "
        "Slurm), wait, and merge the shards into --db",
    )
    g.add_argument("--tasks", type=int, default=None, metavar="N", help="array tasks (shards)")
    g.add_argument("--partition", default=None, help="Slurm partition")
    g.add_argument(
        "--gpus-per-task",
        type=int,
        default=None,
        metavar="G",
        help="GPUs per task (default 1 for CUDA suites, else 0); G > 1 runs a GPU pool per task",
    )
    g.add_argument(
        "--time",
        default="60",
        metavar="MINUTES|HH:MM:SS",
        help="each task's time limit (default 60 minutes)",
    )
    g.add_argument(
        "--shard-dir",
        default=None,
        metavar="DIR",
        help="write each shard's database on the node (e.g. '$TMPDIR', quoted) and copy it "
        "back at the end (default: in RESULTS.shards/ on the shared disk, without WAL)",
    )


def minutes(text: str) -> int:
    """`90`, `1:30:00` or `01:30` (hours:minutes) as whole minutes."""
    parts = text.strip().split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if not numbers or len(numbers) > 3 or any(n < 0 for n in numbers):
        raise ConfigurationError(f"--time {text!r}: write minutes (90) or HH:MM:SS (1:30:00)")
    if len(numbers) == 1:
        return numbers[0]
    h, m, s = (numbers + [0])[:3]
    return h * 60 + m + (1 if s else 0)


def check_cluster_options(args: argparse.Namespace) -> None:
    given = [
        o
        for o, v in (
            ("--tasks", args.tasks),
            ("--partition", args.partition),
            ("--gpus-per-task", args.gpus_per_task),
            ("--shard-dir", args.shard_dir),
        )
        if v is not None
    ]
    if args.executor is None:
        if given:
            raise ConfigurationError(f"{', '.join(given)} submit a suite: add --executor slurm")
        return
    if not (args.suite or args.default_suite):
        raise ConfigurationError("--executor submits a suite: add --suite NAME")
    if args.tasks is None:
        raise ConfigurationError("--executor needs --tasks N (the number of shards)")
    for option, value in (
        ("--shard", args.shard),
        ("--gpus", args.gpus),
        ("--workers", args.workers),
    ):
        if value is not None:
            raise ConfigurationError(
                f"{option} runs here; with --executor each task takes a shard itself "
                "(--gpus-per-task G gives each task a GPU pool)"
            )


def run_cluster(args: argparse.Namespace, jobs: list, notes: dict) -> int:
    """Submit, wait, merge; 0 when every task ended and every row is ok."""
    from harness.sweep.cluster import (
        ClusterPlan,
        shard_tasks,
        shards_folder,
        submit,
        wait_and_merge,
    )
    from harness.sweep.store import ResultStore, default_db_path

    gpus = args.gpus_per_task
    if gpus is None:
        gpus = 1 if any(j.config.device.startswith("cuda") for j in jobs) else 0
    plan = ClusterPlan(
        args.executor, args.tasks, args.partition, gpus, minutes(args.time), args.shard_dir
    )
    plan.check()
    results = Path(args.db).expanduser() if args.db else default_db_path()
    ResultStore(results).close()  # an unusable --db is refused before anything is submitted
    keyed = [(j.config.key(), j) for j in jobs]
    tasks = shard_tasks(
        keyed, results, plan, notes=notes, force=args.force, claim_timeout_s=args.claim_timeout
    )
    submitted = submit(tasks, plan, results)
    ids = ", ".join(j.job_id for j in submitted[:3]) + (" ..." if len(submitted) > 3 else "")
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    say(
        f"submitted {len(submitted)} {plan.executor} tasks (jobs {ids}); waiting for them. "
        f"`harness status {results}` shows their progress; if this process is stopped, "
        f"merge later with `harness merge {shards_folder(results)}/*.sqlite --into {results}`"
    )
    merged, failures = wait_and_merge(submitted, tasks, results, say)
    if merged is not None:
        print(merged.summary())
    with ResultStore(results, readonly=True) as store:
        failed_rows = store.count() - store.count("ok")
    if failures or failed_rows:
        print(
            f"harness measure: error: {len(failures)} tasks failed, {failed_rows} rows not ok "
            f"(`harness report --db {results}`; task logs in {shards_folder(results)}/submitit)",
            file=sys.stderr,
        )
        return 1
    return 0
