"""The sweep runner: one row per configuration whatever the worker does, and resumption after
the sweep itself is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fake_jobs
import pytest
from fake_catalog import CATALOG

from harness.launch import process as runner
from harness.launch.process import run_job
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.loop import Job, run_sweep
from harness.sweep.store import ResultStore
from harness.sweep.suites import parse_suite


def cfg(arch: str = "fake-ok", seconds: float = 0.0, **kw) -> MeasurementConfig:
    return MeasurementConfig(arch, min_seconds=seconds, **kw)


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_for(predicate, timeout: float = 20.0, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def rows(db_path: Path) -> list[Measurement]:
    with ResultStore(db_path, readonly=True) as db:
        return db.load()


def test_suite_with_raising_hanging_and_good_jobs_gives_three_rows(tmp_path):
    suite = parse_suite(
        'architectures = ["fake-raise", "fake-hang", "fake-ok"]\n'
        'devices = ["cpu"]\ntimeout_s = 2\nmin_seconds = 0.2\n',
        name="mixed",
    )
    jobs = suite.jobs(catalog=CATALOG, cuda_available=False)
    messages: list[str] = []
    t0 = time.monotonic()
    result = run_sweep(
        jobs,
        tmp_path / "r.sqlite",
        target=fake_jobs.target("by_architecture"),
        progress=False,
        echo=messages.append,
    )
    assert time.monotonic() - t0 < 15
    got = {r.config["architecture"]: r for r in rows(tmp_path / "r.sqlite")}
    assert {a: r.status for a, r in got.items()} == {
        "fake-raise": "error",
        "fake-hang": "timeout",
        "fake-ok": "ok",
    }
    assert got["fake-raise"].error == "RuntimeError: fake failure (phase: counting)"
    assert "no result after 2 s (last phase: timing)" in got["fake-hang"].error
    ok = got["fake-ok"]
    assert ok.counts["forward_macs_per_example"] == fake_jobs.expected_macs(jobs[2].config)
    assert ok.key == jobs[2].config.key() and ok.error is None
    # failure rows still say what they were and where they ran
    assert got["fake-hang"].architecture["benchmark"] is None
    assert got["fake-hang"].architecture["name"] == "fake-hang"
    assert got["fake-raise"].environment["device_identity"].startswith("cpu/")
    assert result.count("ok") == 1 and result.failed == 2 and not result.interrupted
    assert sum("[3/3]" in m for m in messages) == 2  # start and finish lines


@pytest.mark.parametrize(
    "fn, expected",
    [
        ("abort", "worker killed by SIGABRT during phase build; last output: about to abort"),
        ("sigkill_self", "worker killed by SIGKILL (the out-of-memory killer sends SIGKILL)"),
        (
            "exit_nonzero",
            "worker exited with status 3 without a result during phase starting; "
            "last output: RuntimeError: something broke in C code",
        ),
    ],
)
def test_a_crash_is_one_row(fn, expected):
    rec = run_job(Job(cfg(), timeout_s=10), target=fake_jobs.target(fn))
    assert rec.status == "crashed"
    assert rec.error.startswith(expected)


def test_timeout_kills_the_whole_process_group(tmp_path, monkeypatch):
    pid_file = tmp_path / "grandchild.pid"
    monkeypatch.setenv("FAKE_GRANDCHILD_PID_FILE", str(pid_file))
    rec = run_job(Job(cfg(), timeout_s=1.5), target=fake_jobs.target("hang_with_grandchild"))
    assert rec.status == "timeout"
    grandchild = int(pid_file.read_text())
    assert wait_for(lambda: not alive(grandchild), timeout=5)


def test_worker_output_cannot_corrupt_a_large_record(tmp_path):
    log = tmp_path / "logs" / "w.log"
    rec = run_job(cfg(batch_size=3), target=fake_jobs.target("noisy_big"), log_path=log)
    assert rec.status == "ok"
    assert len(rec.timing["samples_s"]) == 100_000 and rec.timing["samples_s"][-1] == 99.999
    assert "not a record 1999" in log.read_text()


def test_worker_that_hangs_after_its_result_still_gives_the_row(monkeypatch):
    monkeypatch.setattr(runner, "EXIT_GRACE_S", 0.5)
    t0 = time.monotonic()
    rec = run_job(Job(cfg(), timeout_s=30), target=fake_jobs.target("hang_after_result"))
    assert rec.status == "ok" and time.monotonic() - t0 < 10


def test_phases_reach_the_parent_in_order():
    phases: list[str] = []
    rec = run_job(cfg(seconds=0.2), target=fake_jobs.target("succeed"), on_phase=phases.append)
    assert rec.ok and phases == ["build", "timing"]


def test_record_key_is_the_sweeps_key():
    config = cfg()
    rec = run_job(config, target=fake_jobs.target("wrong_key"))
    assert rec.key == config.key()


def test_bad_target_is_an_error_row():
    rec = run_job(cfg(), target=fake_jobs.target("no_such_function"))
    assert rec.status == "error" and "no function 'no_such_function'" in rec.error


def test_rerun_skips_done_retries_failed_and_force_redoes(tmp_path):
    db = tmp_path / "r.sqlite"
    configs = [Job(cfg(batch_size=b), 30, {"name": "fake-ok"}) for b in (1, 2)]
    first = run_sweep(
        configs[:1], db, target=fake_jobs.target("succeed"), progress=False, echo=lambda m: None
    )
    assert first.count("ok") == 1
    failing = run_sweep(
        configs, db, target=fake_jobs.target("raise_error"), progress=False, echo=lambda m: None
    )
    assert failing.skipped == 1 and failing.count("error") == 1
    before = {r.key: r for r in rows(db)}
    again = run_sweep(
        configs, db, target=fake_jobs.target("succeed"), progress=False, echo=lambda m: None
    )
    assert again.skipped == 1 and again.count("ok") == 1
    after = {r.key: r for r in rows(db)}
    assert len(after) == 2 and all(r.ok for r in after.values())
    k1 = configs[0].config.key()
    assert after[k1] == before[k1]  # the finished row was not measured again
    forced = run_sweep(
        configs,
        db,
        target=fake_jobs.target("succeed"),
        force=True,
        progress=False,
        echo=lambda m: None,
    )
    assert forced.skipped == 0 and forced.count("ok") == 2
    redone = {r.key: r for r in rows(db)}
    assert redone[k1].created_at != after[k1].created_at


def _launch_sweep(db: Path, n: int, seconds: float, pid_dir: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, FAKE_PID_DIR=str(pid_dir))
    return subprocess.Popen(
        [sys.executable, str(fake_jobs.HERE), str(db), str(n), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with ResultStore(db, readonly=True, timeout_s=1) as store:
            return store.count()
    except Exception:
        return 0


@pytest.mark.slow  # about 5 s: real processes, killed and restarted
def test_sigkill_mid_sweep_then_rerun_completes_without_duplicates(tmp_path):
    db, pids = tmp_path / "r.sqlite", tmp_path / "pids"
    pids.mkdir()
    n = 4
    sweep = _launch_sweep(db, n, 0.5, pids)
    assert wait_for(lambda: _count(db) >= 1, timeout=30), sweep.communicate()
    assert sweep.poll() is None, "the sweep finished before it could be killed"
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    landed = {r.key: r for r in rows(db)}
    assert 1 <= len(landed) < n
    # the worker that was running dies with the sweep
    workers = [int(p.read_text()) for p in pids.iterdir()]
    assert wait_for(lambda: not any(alive(p) for p in workers), timeout=5)

    rerun = _launch_sweep(db, n, 0.5, pids)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert f"{len(landed)} of {n} configurations already measured" in err
    final = rows(db)
    assert len(final) == n and len({r.key for r in final}) == n
    assert all(r.ok for r in final)
    assert {r.key for r in final} == {c.key() for c in fake_jobs.sweep_configs(n, 0.5)}
    for key, rec in landed.items():  # nothing finished was lost or measured again
        assert next(r for r in final if r.key == key) == rec


@pytest.mark.slow  # about 5 s
def test_ctrl_c_kills_the_worker_keeps_rows_and_says_how_to_resume(tmp_path):
    db, pids = tmp_path / "r.sqlite", tmp_path / "pids"
    pids.mkdir()
    sweep = _launch_sweep(db, 3, 0.5, pids)
    assert wait_for(lambda: _count(db) >= 1 and len(list(pids.iterdir())) >= 2, timeout=30)
    sweep.send_signal(signal.SIGINT)
    out, err = sweep.communicate(timeout=30)
    assert "rerun the same command to resume" in err
    statuses = sorted(r.status for r in rows(db))
    assert statuses.count("interrupted") == 1 and statuses.count("ok") >= 1
    assert not any(alive(int(p.read_text())) for p in pids.iterdir())
    rerun = _launch_sweep(db, 3, 0.5, pids)
    rerun.communicate(timeout=60)
    final = rows(db)
    assert len(final) == 3 and all(r.ok for r in final)
