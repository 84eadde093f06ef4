"""Claims: sweeps sharing a database measure each configuration once, and a dead sweep's
configuration is taken over once its heartbeat is stale."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time

import fake_jobs
import pytest

from harness.sweep.claims import BUSY, CLAIMED, DONE, TAKEN_OVER, Claims, running
from harness.sweep.loop import run_sweep
from harness.sweep.store import ResultStore
from harness.sweep.store_schema import STORE_VERSION

QUIET = {"progress": False, "echo": lambda m: None}


def attempts_per_key(db) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT key, COUNT(*) FROM attempts GROUP BY key").fetchall())


@pytest.mark.slow  # about 2.5 s: eight workers in four sweeps
def test_four_concurrent_sweeps_measure_each_configuration_once(tmp_path):
    db = tmp_path / "r.sqlite"
    configs = fake_jobs.sweep_configs(8, 0.15)
    ResultStore(db).close()
    results = []

    def sweep() -> None:  # each sweep its own connection, like a separate process
        results.append(run_sweep(configs, db, target=fake_jobs.target("succeed"), **QUIET))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4
    assert attempts_per_key(db) == {c.key(): 1 for c in configs}
    assert sum(len(r.records) for r in results) == 8
    assert sum(r.busy for r in results) > 0  # they did meet: some keys were skipped as claimed
    with ResultStore(db) as store:
        assert running(store.conn) == []  # every claim dropped after its save


def test_a_live_claim_is_skipped_and_a_stale_one_taken_over(tmp_path):
    db = tmp_path / "r.sqlite"
    live, dead = fake_jobs.sweep_configs(2, 0.0)
    now = time.time()
    with ResultStore(db) as store:
        Claims(store.conn, "other:1:live", clock=lambda: now).claim(live.key(), "fake-ok")
        old = Claims(store.conn, "gone:2:dead", clock=lambda: now - 600)
        old.claim(dead.key(), "fake-ok")
    said: list[str] = []
    res = run_sweep(
        [live, dead],
        db,
        target=fake_jobs.target("quick"),
        progress=False,
        echo=said.append,
        claim_timeout_s=300,
    )
    assert [r.key for r in res.records] == [dead.key()] and res.busy == 1
    assert any("taking over from gone:2:dead" in m for m in said)
    with ResultStore(db) as store:
        assert [c.owner for c in running(store.conn)] == ["other:1:live"]


def test_claim_outcomes(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        t = [100.0]
        a = Claims(store.conn, "a", stale_s=10, clock=lambda: t[0])
        b = Claims(store.conn, "b", stale_s=10, clock=lambda: t[0])
        assert a.claim("k", "x") == CLAIMED
        assert b.claim("k", "x") == BUSY
        t[0] = 109.0
        assert b.claim("k", "x") == BUSY  # 9 s without a heartbeat: still alive
        t[0] = 111.0
        assert b.claim("k", "x") == TAKEN_OVER and b.previous["k"] == "a"
        rec = fake_jobs.quick(fake_jobs.sweep_configs(1, 0.0)[0])
        store.put(rec)
        done_key = rec.key
        assert a.claim(done_key, "x") == DONE
        assert a.claim(done_key, "x", force=True) == CLAIMED


@pytest.mark.slow  # about 3 s: a sweep started, killed, and started again
def test_a_sigkilled_sweeps_claim_is_taken_over_by_the_rerun_at_once(tmp_path):
    db = tmp_path / "r.sqlite"
    (config,) = fake_jobs.sweep_configs(1, 30.0)
    proc = subprocess.Popen([sys.executable, str(fake_jobs.HERE), str(db), "1", "30"])
    try:

        def claimed() -> bool:
            if not db.exists():
                return False
            try:
                with ResultStore(db, readonly=True) as store:
                    return bool(running(store.conn))
            except Exception:
                return False

        deadline = time.monotonic() + 30
        while not claimed() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert claimed()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    said: list[str] = []
    res = run_sweep(
        [config], db, target=fake_jobs.target("quick"), progress=False, echo=said.append
    )  # the default timeout is 120 s: the dead pid on this host is what frees the claim
    assert [r.status for r in res.records] == ["ok"]
    assert any(f":{proc.pid}:" in m and "taking over" in m for m in said)
    assert attempts_per_key(db) == {config.key(): 1}


def test_another_nodes_claim_is_taken_over_when_its_heartbeat_expires(tmp_path):
    db = tmp_path / "r.sqlite"
    (config,) = fake_jobs.sweep_configs(1, 0.0)
    with ResultStore(db) as store:  # a sweep on another node that then went silent
        Claims(store.conn, "node-b:4242:abcd").claim(config.key(), "fake-ok")
    quick = fake_jobs.target("quick")
    live = run_sweep([config], db, target=quick, claim_timeout_s=60, **QUIET)
    assert live.busy == 1 and not live.records  # its heartbeat is fresh: not taken yet
    time.sleep(0.6)
    res = run_sweep([config], db, target=quick, claim_timeout_s=0.5, **QUIET)
    assert [r.status for r in res.records] == ["ok"]
    assert attempts_per_key(db) == {config.key(): 1}


def test_a_version_2_database_gains_the_claims_table(tmp_path):
    db = tmp_path / "r.sqlite"
    ResultStore(db).close()
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE claims")
        con.execute("UPDATE meta SET value='2' WHERE name='store_version'")
    with ResultStore(db, readonly=True) as store:
        assert running(store.conn) == []  # read-only: no table, no claims, no error
    with ResultStore(db) as store:
        version = store.conn.execute("SELECT value FROM meta WHERE name='store_version'")
        assert version.fetchone() == (str(STORE_VERSION),)
        assert Claims(store.conn, "a").claim("k", "x") == CLAIMED
