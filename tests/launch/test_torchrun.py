"""Data-parallel measurement under torchrun: real gloo ranks on CPU, and the record's arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from harness.errors import ConfigurationError, DeviceUnavailableError
from harness.hardware.peaks import peak_figures
from harness.launch.torchrun import check_backend, describe_failures
from harness.pipeline.aggregate import aggregate
from harness.pipeline.config import MeasurementConfig

MODEL = """
import os, time
import torch.nn as nn

def net():
    {fault}
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))
"""


def _model_file(tmp_path: Path, fault: str = "pass") -> Path:
    path = tmp_path / "ddp_net.py"
    path.write_text(textwrap.dedent(MODEL.format(fault=fault)))
    return path


def _launch(tmp_path: Path, model: Path, *extra: str, timeout_s: int = 300, env_extra=None):
    env = dict(os.environ, HARNESS_REPORTS_DIR=str(tmp_path / "reports"))
    env.update(env_extra or {})
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "measure",
        f"{model}:net",
        "--input-shape",
        "1,3,8,8",
        "--device",
        "cpu",
        "--batch",
        "4",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--min-seconds",
        "0",
        "--nproc-per-node",
        "2",
        "--db",
        str(tmp_path / "r.sqlite"),
        "--json",
        "--run-dir",
        str(tmp_path / "run"),
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)


@pytest.mark.slow
def test_two_gloo_ranks_under_torchrun_give_one_gathered_record(tmp_path):
    proc = _launch(tmp_path, _model_file(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout)["records"][0]
    d = record["timing"]["distributed"]
    assert record["status"] == "ok"
    assert d["world_size"] == 2 and d["backend"] == "gloo"
    assert len(d["per_rank"]) == 2 and {r["rank"] for r in d["per_rank"]} == {0, 1}
    assert d["global_batch"] == 2 * d["local_batch"] == 8
    # synchronous data parallelism runs at the slowest rank
    assert d["slowest_rank_median_s"] == max(r["median_s"] for r in d["per_rank"])
    assert d["aggregate_samples_per_s"] == pytest.approx(8 / d["slowest_rank_median_s"])
    assert 0.0 <= d["comm_share"] < 1.0
    assert d["scaling_efficiency"] == pytest.approx(
        d["aggregate_samples_per_s"] / (2 * d["baseline_samples_per_s"])
    )
    # energy present, with provenance, for every rank; burden counts both processors
    assert all(r["energy_provenance"] for r in d["per_rank"])
    assert record["energy"]["provenance"] in {"rapl", "estimated-tdp", "unavailable"}
    assert record["burden"]["processors"] == 2
    assert record["config"]["world_size"] == 2
    # the counted step is the global batch: 2 x the single-rank forward of a 2-layer MLP
    fwd_macs = (3 * 8 * 8 * 16 + 16 * 4) * 8
    assert record["counts"]["forward_flops"] == 2 * fwd_macs


@pytest.mark.slow
def test_a_failing_rank_ends_every_rank_and_is_named(tmp_path):
    fault = 'if os.environ.get("RANK") == "1": raise RuntimeError("rank one cannot build")'
    proc = _launch(
        tmp_path, _model_file(tmp_path, fault), env_extra={"HARNESS_COLLECTIVE_TIMEOUT_S": "60"}
    )
    assert proc.returncode == 1
    record = json.loads(proc.stdout)["records"][0]
    assert record["status"] == "error"
    assert "rank 1 failed" in record["error"] and "rank one cannot build" in record["error"]


@pytest.mark.slow
def test_a_hanging_rank_times_out_on_the_collective(tmp_path):
    fault = 'if os.environ.get("RANK") == "1": time.sleep(600)'
    proc = _launch(
        tmp_path, _model_file(tmp_path, fault), env_extra={"HARNESS_COLLECTIVE_TIMEOUT_S": "15"}
    )
    assert proc.returncode == 1
    record = json.loads(proc.stdout)["records"][0]
    assert record["status"] == "error"
    # rank 0 gives up on the collective; rank 1 never reports
    assert "rank 1 did not report" in record["error"]
    assert "rank 0 failed" in record["error"]


def test_nccl_without_cuda_is_refused_before_launch():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceUnavailableError, match="NCCL backend needs CUDA"):
        check_backend("nccl", "cpu")
    assert check_backend(None, "cpu") == "gloo"


def test_nccl_request_from_the_command_line_is_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "measure",
            "resnet18",
            "--tiny",
            "--device",
            "cpu",
            "--nproc-per-node",
            "2",
            "--backend",
            "nccl",
            "--db",
            str(tmp_path / "x.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "NCCL" in proc.stderr


def test_mismatched_configurations_are_refused():
    from harness.launch.rank import _check_same_config

    mine = MeasurementConfig("resnet18", batch_size=4, tiny=True)
    other = mine.replace(batch_size=8)

    class FakeDist:
        def all_gather_object(self, out, obj):
            out[0], out[1] = obj, other.to_dict()

    with pytest.raises(ConfigurationError, match="batch_size"):
        _check_same_config(FakeDist(), mine, rank=0, world=2)


def test_failure_description_names_failed_and_silent_ranks():
    statuses = {0: {"rank": 0, "status": "error", "error": "timeout", "world_size": 3}}
    text = describe_failures(statuses, 3)
    assert "rank 0 failed: timeout" in text
    assert "rank 1 did not report" in text and "rank 2 did not report" in text
    assert "no rank reported" in describe_failures({}, None)


def _rank(rank, median, no_comm, energy, device_key, batch=4):
    return {
        "rank": rank,
        "host": "h",
        "device": "cpu",
        "device_key": device_key,
        "median_s": median,
        "samples_per_s": batch / median,
        "no_comm_median_s": no_comm,
        "steps": 5,
        "batch_size": batch,
        "energy_j": energy,
        "energy_provenance": "nvml-counter",
        "energy": {"duration_s": 1.0, "reason": ""},
        "timing": {"precision_used": "fp32", "median_s": median},
    }


def test_record_arithmetic_from_per_rank_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path))
    path = _model_file(tmp_path)
    config = MeasurementConfig(f"{path}:net", batch_size=4, input_shape=(1, 3, 8, 8), world_size=2)

    class Base:
        samples_per_s = 40.0

    ranks = [_rank(1, 0.2, 0.15, 30.0, "h/gpu1"), _rank(0, 0.1, 0.08, 10.0, "h/gpu0")]
    rec = aggregate(config, ranks, Base.samples_per_s, backend="gloo")
    d = rec.timing["distributed"]
    assert d["slowest_rank_median_s"] == 0.2
    assert d["aggregate_samples_per_s"] == pytest.approx(8 / 0.2)
    assert d["comm_share"] == pytest.approx(1 - 0.15 / 0.2)
    assert d["scaling_efficiency"] == pytest.approx((8 / 0.2) / (2 * 40.0))
    assert d["total_energy_j"] == 40.0  # two distinct devices: summed
    # two ranks on one device (CPU ranks sharing a host) measured the same energy: counted once
    same = [_rank(0, 0.1, 0.08, 10.0, "h/cpu"), _rank(1, 0.1, 0.08, 11.0, "h/cpu")]
    assert (
        aggregate(config, same, None, backend="gloo").timing["distributed"]["total_energy_j"]
        == 10.0
    )


def test_rendezvous_endpoint_with_one_node_is_refused():
    from harness.launch.torchrun import TorchrunPlan

    with pytest.raises(ConfigurationError, match="--rdzv-endpoint is for several nodes"):
        TorchrunPlan(nproc_per_node=2, rdzv_endpoint="h:29500").check()
    with pytest.raises(ConfigurationError, match="--launch-timeout"):
        TorchrunPlan(nproc_per_node=2, timeout_s=float("inf")).check()


def test_launch_removes_the_run_folder_it_made_and_keeps_a_given_one(tmp_path, monkeypatch):
    import tempfile

    import harness.launch.torchrun as tr
    from harness.watchdog import DEFAULT_TIMEOUT_S

    seen = []

    def collect(cmd, run_dir, config, *, timeout_s, world, output=None):
        assert (run_dir / "config.json").exists()
        seen.append((run_dir, timeout_s))

    monkeypatch.setattr(tr, "launch_and_collect", collect)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = MeasurementConfig("resnet18", device="cpu", world_size=2)
    tr.launch(config, tr.TorchrunPlan(nproc_per_node=2, backend="gloo"))
    made, timeout = seen[-1]
    assert made.name.startswith("harness-ddp-") and not made.exists()
    assert timeout == DEFAULT_TIMEOUT_S
    given = tmp_path / "keep"
    tr.launch(config, tr.TorchrunPlan(nproc_per_node=2, backend="gloo", run_dir=str(given)))
    assert seen[-1][0] == given and (given / "config.json").exists()


class _Stop(Exception):
    pass


def test_collective_timeout_exceeds_a_ranks_cool_down_and_baseline(monkeypatch):
    # each rank cools its GPU (up to 60 s) and takes a 2 s idle baseline before DDP's first
    # broadcast: the process group's timeout must outlast that with room to spare
    import torch.distributed as dist

    from harness.energy.factory import MonitorSettings
    from harness.launch.rank import HOST_PROBE_S, measure_rank, process_group_timeout_s
    from harness.pipeline.measure import MeasureOptions

    seen = {}

    def init(backend, **kwargs):
        seen.update(kwargs, backend=backend)
        raise _Stop

    monkeypatch.setattr(dist, "init_process_group", init)
    config = MeasurementConfig("resnet18", device="cpu")
    with pytest.raises(_Stop):
        measure_rank(config, rank=0, world=1, local_rank=0, timeout_s=1.0)
    idle = MonitorSettings().idle_s
    assert seen["backend"] == "gloo"
    assert seen["timeout"].total_seconds() >= 2 * (idle + HOST_PROBE_S) > 1.0
    gpu = MeasureOptions(energy=True)
    t = process_group_timeout_s(30.0, "cuda", gpu)
    assert t >= 2 * (gpu.cooldown_max_s + idle + HOST_PROBE_S) and t > gpu.cooldown_max_s + idle
    assert process_group_timeout_s(900.0, "cuda", gpu) == 900.0  # a longer request stands


def test_gathered_record_names_the_ranks_that_ended_throttled(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path))
    path = _model_file(tmp_path)
    config = MeasurementConfig(f"{path}:net", batch_size=4, input_shape=(1, 3, 8, 8), world_size=2)
    hot = _rank(1, 0.2, 0.15, 30.0, "h/gpu1")
    hot["energy"] = {**hot["energy"], "throttled_at_end": ["cuda:1: hw_thermal_slowdown"]}
    rec = aggregate(config, [_rank(0, 0.1, 0.08, 10.0, "h/gpu0"), hot], None, backend="gloo")
    assert rec.energy["throttled_at_end"] == ["rank 1: cuda:1: hw_thermal_slowdown"]


def test_the_gathered_burden_bills_the_ranks_that_reported(tmp_path, monkeypatch):
    """processors = ranks actually measured: a configuration that says 4 but whose gathered
    figures come from 2 ranks bills 2, and the device-hours are 2 x the run time."""
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path))
    path = _model_file(tmp_path)
    config = MeasurementConfig(f"{path}:net", batch_size=4, input_shape=(1, 3, 8, 8), world_size=4)
    ranks = [_rank(0, 0.1, 0.08, 10.0, "h/gpu0"), _rank(1, 0.1, 0.08, 10.0, "h/gpu1")]
    peak = {**peak_figures("cpu", "fp32", measure=False), "burden_peak_flop_per_s": 1e9}
    b = aggregate(config, ranks, None, backend="gloo", peak=peak).burden
    assert b["processors"] == 2
    assert b["burden_per_step_flop"] == pytest.approx(2 * 1e9 * 0.1)
