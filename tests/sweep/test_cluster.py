"""A suite as a job array through submitit's LocalExecutor (real subprocesses, no Slurm):
the shards' databases merged equal a serial run's rows, and `harness status` reads them."""

from __future__ import annotations

import json
import sqlite3

import fake_jobs
import pytest

from harness.cli import main
from harness.errors import ConfigurationError
from harness.sweep.cluster import ClusterPlan, shard_tasks, shards_folder, submit, wait_and_merge
from harness.sweep.loop import Job, run_sweep
from harness.sweep.store import ResultStore
from harness.sweep.sweep_status import sweep_progress

pytest.importorskip("submitit")


def keys(db) -> set[str]:
    with ResultStore(db, readonly=True) as store:
        return {r.key for r in store.load(status="ok")}


@pytest.mark.slow  # about 10 s: two submitit tasks, each a Python process with its workers
@pytest.mark.parametrize("shard_dir", [None, "node"])
def test_a_two_shard_array_merges_into_the_serial_runs_rows(tmp_path, shard_dir):
    configs = fake_jobs.sweep_configs(6, 0.0)
    target = fake_jobs.target("quick")
    jobs = [Job(c, 60) for c in configs]
    results = tmp_path / "results.sqlite"
    local = None if shard_dir is None else str(tmp_path / shard_dir)
    plan = ClusterPlan("local", 2, time_min=5, shard_dir=local)
    tasks = shard_tasks([(j.config.key(), j) for j in jobs], results, plan, notes={}, target=target)
    said: list[str] = []
    submitted = submit(tasks, plan, results)
    merged, failures = wait_and_merge(submitted, tasks, results, said.append)
    assert failures == [], said
    assert merged is not None and merged.rows == 6
    serial = tmp_path / "serial.sqlite"
    run_sweep(configs, serial, target=target, progress=False, echo=lambda m: None)
    assert keys(results) == keys(serial)
    shards = sweep_progress(results)
    assert [s.name for s in shards] == ["0/2", "1/2"]
    assert sum(s.ok for s in shards) == 6 and all(s.ok == s.total for s in shards)
    plan_file = json.loads((shards_folder(results) / "plan.json").read_text())
    assert sum(plan_file["totals"].values()) == 6
    with sqlite3.connect(tasks[0].db) as con:  # the shared copy uses the rollback journal
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_status_of_a_running_database_counts_rows_and_claims(tmp_path, capsys):
    from harness.sweep.claims import Claims

    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.put(fake_jobs.quick(fake_jobs.sweep_configs(1, 0.0)[0]))
        Claims(store.conn, "node7:12:abc").claim("some-key", "fake-ok")
    assert main(["status", str(db)]) == 0
    header, _, row = capsys.readouterr().out.splitlines()[:3]
    assert "ok" in header and "running" in header
    assert row.split()[1:4] == ["1", "0", "1"]  # ok, failed, running


def test_cluster_options_that_do_not_fit_are_one_line(tmp_path, capsys):
    db = str(tmp_path / "r.sqlite")
    cases = [
        (["measure", "--suite", "smoke", "--executor", "local"], "--tasks"),
        (["measure", "--suite", "smoke", "--tasks", "2"], "--executor"),
        (
            ["measure", "--suite", "smoke", "--executor", "local", "--tasks", "2", "--gpus", "all"],
            "--gpus-per-task",
        ),
        (
            ["measure", "--suite", "smoke", "--executor", "local", "--tasks", "2", "--time", "x"],
            "--time",
        ),
    ]
    for argv, expected in cases:
        assert main([*argv, "--db", db]) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err
    with pytest.raises(ConfigurationError):
        ClusterPlan("pbs", 2).check()


def test_the_slurm_array_asks_for_the_partition_gpus_and_time(tmp_path, monkeypatch):
    from harness.errors import HarnessError
    from harness.sweep.cluster import executor

    plan = ClusterPlan("slurm", 4, partition="gpu", gpus_per_task=1, time_min=240)
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun: not a Slurm machine
    with pytest.raises(HarnessError, match="--executor local"):
        executor(plan, tmp_path / "submitit")
    fake_srun = tmp_path / "srun"  # submitit only checks that srun exists
    fake_srun.write_text("#!/bin/sh\nexit 0\n")
    fake_srun.chmod(0o755)
    script = executor(plan, tmp_path / "submitit")._make_submission_file_text("cmd", "uid")
    for line in ("--partition=gpu", "--gpus-per-task=1", "--time=240", "--ntasks-per-node=1"):
        assert f"#SBATCH {line}" in script
