"""The local device pool: one configuration per GPU (or CPU share) at a time, each worker
pinned by its environment, every configuration measured once. GPUs are faked: the pool is
given a device count, and a fake worker writes the environment it saw to a file."""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from pathlib import Path

import fake_jobs
import pytest

from harness.errors import ConfigurationError, DeviceUnavailableError
from harness.pipeline.config import MeasurementConfig
from harness.sweep.loop import run_sweep
from harness.sweep.slots import check_devices, cpu_slots, gpu_slots, parse_gpus

QUIET = {"progress": False, "echo": lambda m: None}


def test_gpu_lists():
    assert parse_gpus("all", 4) == [0, 1, 2, 3]
    assert parse_gpus("0-1,3", 4) == [0, 1, 3]
    for bad, match in (("4", "does not exist"), ("2-1", "indices"), ("x", "indices")):
        with pytest.raises(ConfigurationError, match=match):
            parse_gpus(bad, 4)
    with pytest.raises(DeviceUnavailableError, match="--workers"):
        parse_gpus("all", 0)


def test_each_gpu_slot_is_pinned_to_its_own_gpu():
    slots = gpu_slots("0-1,3", available=4, environ={})
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "3"]
    assert {s.env["HARNESS_GPUS_IN_USE"] for s in slots} == {"3"}
    # under an allocation that already narrows the GPUs, indices are of the visible ones
    slots = gpu_slots("1-2", available=3, environ={"CUDA_VISIBLE_DEVICES": "2,5,7"})
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["5", "7"]


def test_cpu_workers_split_the_cores():
    assert [s.threads for s in cpu_slots(3, cores=8)] == [2, 2, 2]
    assert [s.env["OMP_NUM_THREADS"] for s in cpu_slots(4, cores=2)] == ["1"] * 4
    with pytest.raises(ConfigurationError):
        cpu_slots(0)


def test_a_pool_refuses_configurations_on_the_wrong_device():
    gpus, cpus = gpu_slots("all", available=2, environ={}), cpu_slots(2, cores=2)
    check_devices(["cuda", "cuda:0"], gpus)
    for devices, slots, match in (
        (["cuda:1"], gpus, "cuda:0"),
        (["cpu"], gpus, "--workers"),
        (["cuda"], cpus, "--gpus"),
    ):
        with pytest.raises(ConfigurationError, match=match):
            check_devices(devices, slots)


def intervals(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def overlapping(spans: list[tuple[float, float]]) -> bool:
    spans = sorted(spans)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.slow  # about 3 s: nine workers on three fake GPUs
def test_one_configuration_per_gpu_at_a_time(tmp_path, monkeypatch, request):
    from harness.hardware import environment, nvml

    log = tmp_path / "env.jsonl"
    monkeypatch.setenv("FAKE_ENV_LOG", str(log))
    monkeypatch.setenv(fake_jobs.FAKE_GPU_ENV, "Fake GPU")  # the workers' keys: no torch
    monkeypatch.setattr(nvml, "gpu_names", lambda: ["Fake GPU"])  # and the parent's
    environment.device_identity.cache_clear()  # an earlier test's "cuda" name is not this one's
    request.addfinalizer(environment.device_identity.cache_clear)
    configs = [
        MeasurementConfig("fake-ok", batch_size=b, device="cuda", min_seconds=0.3)
        for b in range(1, 10)
    ]
    slots = gpu_slots("all", available=3, environ={})
    db = tmp_path / "r.sqlite"
    res = run_sweep(configs, db, target=fake_jobs.target("record_env"), slots=slots, **QUIET)
    assert res.count("ok") == 9
    seen = intervals(log)
    assert sorted(s["key"] for s in seen) == sorted(c.key() for c in configs)  # each once
    by_gpu: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in seen:
        by_gpu[s["CUDA_VISIBLE_DEVICES"]].append((s["start"], s["end"]))
        assert s["HARNESS_GPUS_IN_USE"] == "3" and s["HARNESS_POOL_SLOT"] == "gpu" + str(
            s["CUDA_VISIBLE_DEVICES"]
        )
    assert set(by_gpu) == {"0", "1", "2"}
    assert not any(overlapping(spans) for spans in by_gpu.values())
    everything = [span for spans in by_gpu.values() for span in spans]
    assert overlapping(everything)  # the GPUs did work at the same time
    pinned = {s["key"]: s["CUDA_VISIBLE_DEVICES"] for s in seen}
    for rec in res.records:  # the record says where it ran
        assert rec.environment["pool"]["cuda_visible_devices"] == pinned[rec.key]
        assert rec.environment["pool"]["slots"] == 3


@pytest.mark.slow  # about 3 s: two pools and eight workers
def test_two_pools_on_one_database_measure_each_configuration_once(tmp_path, monkeypatch):
    log = tmp_path / "env.jsonl"
    monkeypatch.setenv("FAKE_ENV_LOG", str(log))
    configs = fake_jobs.sweep_configs(8, 0.2)
    db = tmp_path / "r.sqlite"
    run_sweep([], db, **QUIET)  # the database exists before the pools race to it

    def pool() -> None:
        run_sweep(configs, db, target=fake_jobs.target("record_env"), slots=cpu_slots(2), **QUIET)

    threads = [threading.Thread(target=pool) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    seen = intervals(log)
    assert sorted(s["key"] for s in seen) == sorted(c.key() for c in configs)
    assert {s["OMP_NUM_THREADS"] for s in seen} == {str(max(1, (os.cpu_count() or 1) // 2))}


@pytest.mark.slow  # about 3 s: a pool started, then stopped with SIGTERM
def test_sigterm_stops_every_slot_and_keeps_their_rows(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from harness.sweep.claims import running
    from harness.sweep.store import ResultStore

    db, pids = tmp_path / "r.sqlite", tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "FAKE_PID_DIR": str(pids)}
    proc = subprocess.Popen(
        [sys.executable, str(fake_jobs.HERE), str(db), "4", "60", "2"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert "interrupted" in err
    with ResultStore(db, readonly=True) as store:
        assert [r.status for r in store.load()] == ["interrupted", "interrupted"]
        assert running(store.conn) == []  # the claims are dropped, so a rerun starts at once
    for pid in (int(p.name) for p in pids.iterdir()):  # the workers died with their slots
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text()


def test_a_failed_row_names_the_gpu_its_worker_was_pinned_to(tmp_path, monkeypatch):
    """The parent describes a row its worker did not write: the slot's GPU (cuda:N of the pool's
    process, pinned as CUDA_VISIBLE_DEVICES=<id>), never the parent's cuda:0. The environment
    reader is faked: it names each GPU by its index (there is no GPU here)."""
    from harness.sweep import loop

    monkeypatch.setattr(
        loop, "capture_environment", lambda device: {"device": device, "gpu_name": f"GPU {device}"}
    )
    configs = [MeasurementConfig("fake-raise", batch_size=b, device="cuda") for b in (1, 2)]
    # under an allocation of GPUs 5 and 7: the pool's cuda:0 and cuda:1
    slots = gpu_slots("all", available=2, environ={"CUDA_VISIBLE_DEVICES": "5,7"})
    res = run_sweep(
        configs, tmp_path / "r.sqlite", target=fake_jobs.target("raise_error"), slots=slots, **QUIET
    )
    assert res.count("error") == 2
    for rec in res.records:
        env = rec.environment
        index = {"5": 0, "7": 1}[env["pool"]["cuda_visible_devices"]]
        assert env["gpu_index"] == index and env["gpu_name"] == f"GPU cuda:{index}"
        assert env["cuda_visible_devices"] == env["pool"]["cuda_visible_devices"]
        assert env["device"] == "cuda"  # as the configuration names it; the worker's cuda:0
