"""`--shard I/N` on `harness measure --suite`: the shards of one suite cover it, once."""

from __future__ import annotations

import pytest

import harness.sweep.loop as loop
from harness.cli import main
from harness.sweep.loop import SweepResult


@pytest.fixture
def captured(monkeypatch, tmp_path):
    calls: list = []

    def fake_run_sweep(js, store, **kw):
        calls.append(([j.config.key() for j in js], kw))
        return SweepResult(store.path, len(js), 0)

    monkeypatch.setattr(loop, "run_sweep", fake_run_sweep)
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path))
    return calls


def test_two_shards_cover_the_suite_once(captured, tmp_path):
    db = str(tmp_path / "r.sqlite")
    for shard in ("0/2", "1/2", None):
        extra = ["--shard", shard] if shard else []
        assert main(["measure", "--suite", "smoke", "--db", db, *extra]) == 0
    (first, _), (second, _), (whole, _) = captured
    assert sorted(first + second) == sorted(whole) and len(whole) == 7
    assert not set(first) & set(second)


def test_claim_timeout_reaches_the_sweep_and_shard_needs_a_suite(captured, tmp_path, capsys):
    db = str(tmp_path / "r.sqlite")
    assert main(["measure", "--suite", "smoke", "--db", db, "--claim-timeout", "30"]) == 0
    assert captured[0][1]["claim_timeout_s"] == 30
    assert main(["measure", "resnet18", "--shard", "0/2", "--db", db]) == 2
    assert "add --suite" in capsys.readouterr().err


def test_workers_make_a_cpu_pool_and_gpus_need_gpus(captured, tmp_path, capsys, monkeypatch):
    import harness.sweep.slots as slots

    db = str(tmp_path / "r.sqlite")
    assert main(["measure", "--suite", "smoke", "--db", db, "--workers", "2"]) == 0
    pool = captured[0][1]["slots"]
    assert [s.name for s in pool] == ["cpu0", "cpu1"]
    monkeypatch.setattr(slots, "cuda_device_count", lambda: 0)
    assert main(["measure", "--suite", "smoke", "--db", db, "--gpus", "all"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "--workers" in err
    assert main(["measure", "--suite", "smoke", "--db", db, "--gpus", "all", "--workers", "2"])
    assert "give one" in capsys.readouterr().err
