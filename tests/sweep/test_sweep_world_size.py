"""A suite configuration with `world_size` > 1 runs its ranks under torchrun or is refused with
a reason; it is never timed in one process and billed as N."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import fake_jobs
import pytest
from fake_catalog import CATALOG

import harness.launch.torchrun as torchrun_module
from harness.errors import DeviceUnavailableError
from harness.pipeline.record import Measurement
from harness.sweep.loop import run_sweep
from harness.sweep.store import ResultStore
from harness.sweep.suites import parse_suite

QUIET = {"progress": False, "echo": lambda _: None}


def _jobs(text: str):
    return parse_suite(text, name="ddp").jobs(catalog=CATALOG, cuda_available=False)


def _rows(db: Path) -> dict[int, Measurement]:
    """The rows by world size."""
    with ResultStore(db, readonly=True) as store:
        return {r.config["world_size"]: r for r in store.load()}


SUITE = """
architectures = ["fake-ok"]
devices = ["cpu"]
min_seconds = 0.0

[[entry]]
architectures = ["fake-raise"]
world_size = 2
"""


def test_a_world_size_two_entry_is_launched_under_torchrun(tmp_path, monkeypatch):
    plans = []

    def fake_launch(config, plan, *, output=None):
        plans.append(plan)
        return Measurement.create(config, status="ok", burden={"processors": plan.world_size})

    monkeypatch.setattr(torchrun_module, "launch", fake_launch)
    db = tmp_path / "r.sqlite"
    jobs = _jobs(SUITE)
    assert sorted(j.config.world_size for j in jobs) == [1, 2]
    (ddp,) = [j for j in jobs if j.config.world_size == 2]
    run_sweep([ddp], db, target=torchrun_module.DEFAULT_TARGET, **QUIET)
    assert len(plans) == 1 and plans[0].nproc_per_node == 2 and plans[0].nnodes == 1
    assert plans[0].timeout_s == ddp.timeout_s
    (row,) = _rows(db).values()
    assert row.ok and row.burden["processors"] == 2 and row.key == ddp.config.key()


def test_a_world_size_two_entry_with_another_worker_target_is_refused(tmp_path):
    db = tmp_path / "r.sqlite"
    run_sweep(_jobs(SUITE), db, target=fake_jobs.target("succeed"), **QUIET)
    rows = _rows(db)
    assert rows[1].ok  # the single-process row is measured as before
    refused = rows[2]
    assert refused.status == "error"
    assert "world_size 2 runs under torchrun" in refused.error and "\n" not in refused.error
    assert not refused.burden  # nothing billed


def test_a_launch_that_cannot_start_is_a_refused_row(tmp_path, monkeypatch):
    def no_gpus(config, plan, *, output=None):
        raise DeviceUnavailableError("--nproc-per-node 2 needs that many GPUs; this node has 1")

    monkeypatch.setattr(torchrun_module, "launch", no_gpus)
    db = tmp_path / "r.sqlite"
    ddp = [j for j in _jobs(SUITE) if j.config.world_size == 2]
    run_sweep(ddp, db, target=torchrun_module.DEFAULT_TARGET, **QUIET)
    row = _rows(db)[2]
    assert row.status == "error" and "world_size 2: --nproc-per-node 2 needs" in row.error
    assert "fake-raise" in row.error  # the one line names the configuration


MODEL = """
import torch.nn as nn

def net():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))

from harness.arch.loader import architecture_from_module_factory as _arch

net_arch = _arch(net, name="ddp_suite_net", input_shape=(1, 3, 8, 8))
"""


@pytest.mark.slow
def test_a_world_size_two_suite_runs_two_gloo_ranks_on_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    model = tmp_path / "ddp_suite_net.py"
    model.write_text(textwrap.dedent(MODEL))
    suite = parse_suite(
        f'architectures = ["{model}:net_arch"]\ndevices = ["cpu"]\nbatch_sizes = [4]\n'
        "warmup_steps = 1\nmin_steps = 3\nmin_seconds = 0.0\n"
        "world_size = 2\ntimeout_s = 300\n",
        name="ddp-cpu",
    )
    db = tmp_path / "r.sqlite"
    run_sweep(suite.jobs(cuda_available=False), db, log_dir=tmp_path / "logs", **QUIET)
    (row,) = _rows(db).values()
    assert row.ok, row.error
    d = row.timing["distributed"]
    assert d["world_size"] == 2 and len(d["per_rank"]) == 2 and d["backend"] == "gloo"
    assert row.burden["processors"] == 2 == len(d["per_rank"])
    assert json.dumps(row.to_dict())
