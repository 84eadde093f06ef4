"""Fault cases for the results store: nothing measured is lost or overwritten by a failure.

Failed reruns (with and without --force), unusable databases refused before measuring, read-only
media read, locks that outlast the retries, concurrent writers, damaged rows, the history, the
recovery files and the upgrade of a database written by harness 0.1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import fake_jobs
import pytest
from framework import Cli, FaultCase, Outcome, check, harness, ids, run_case

from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.loop import SaveRetry, run_sweep
from harness.sweep.recovery import read_recovery, write_recovery
from harness.sweep.store import ResultStore
from harness.sweep.store_schema import STORE_VERSION

OLD_DB = Path(__file__).parents[1] / "data" / "results_written_by_0.1.0.sqlite"
FAST_RETRY = SaveRetry(tries=3, busy_s=0.05, waits_s=(0.01, 0.02))
QUIET = {"progress": False, "echo": lambda m: None}


# -- helpers ----------------------------------------------------------------------------------


def cfg(batch_size: int = 1) -> MeasurementConfig:
    return MeasurementConfig("fake-ok", batch_size=batch_size, min_seconds=0.0)


def good(batch_size: int = 1) -> Measurement:
    return fake_jobs.succeed(cfg(batch_size))


def bad(batch_size: int = 1, status: str = "error") -> Measurement:
    return Measurement.create(cfg(batch_size), status=status, error="RuntimeError: transient")


def current(db: Path) -> dict[str, tuple[str, str]]:
    """key -> (status, created_at) of the current view, read with plain sqlite3."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            k: (s, c) for k, s, c in con.execute("SELECT key, status, created_at FROM measurements")
        }
    finally:
        con.close()


def lost(before: dict[str, tuple[str, str]], db: Path) -> int:
    """`ok` rows that existed before and are gone or no longer current (a newer ok is fine)."""
    after = current(db)
    return sum(
        1 for k, (s, _) in before.items() if s == "ok" and after.get(k, ("gone",))[0] != "ok"
    )


def attempts(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    finally:
        con.close()


def seeded(tmp: Path, n: int = 2) -> tuple[Path, dict[str, tuple[str, str]]]:
    db = tmp / "r.sqlite"
    with ResultStore(db) as store:
        store.put_many([good(b) for b in range(1, n + 1)])
    return db, current(db)


def fingerprint(path: Path) -> str:
    return path.read_bytes().hex()


def measure_args(db: Path, **kw) -> argparse.Namespace:
    return argparse.Namespace(db=str(db), no_store=False, json=True, name="fake-ok", **kw)


def read_only_harness(protect: Path, *args: str, cwd: Path) -> Cli:
    """Run `harness ARGS` with `protect` (a file or folder) on read-only media: a read-only
    bind mount in a private mount namespace where we are root (root ignores permissions),
    else permissions taken away."""
    if os.geteuid() != 0:
        mode = protect.stat().st_mode
        protect.chmod(0o555 if protect.is_dir() else 0o444)
        try:
            return harness(*args, cwd=cwd)
        finally:
            protect.chmod(mode)
    if shutil.which("unshare") is None:
        pytest.skip("root without util-linux's unshare: cannot make read-only media")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(protect)]
    env = dict(os.environ, HARNESS_REPORTS_DIR=str(cwd / "reports"))
    proc = subprocess.run(
        [*cmd, sys.executable, "-m", "harness", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and ("mount:" in proc.stderr or "unshare:" in proc.stderr):
        pytest.skip(f"no private read-only mount here: {proc.stderr.strip()[-200:]}")
    return Cli(proc.returncode, proc.stdout, proc.stderr)


def cli_outcome(cli: Cli, held: bool, detail: str = "", lost_rows: int = 0) -> Outcome:
    return Outcome(
        held, lost_rows, cli.traceback, detail or f"rc={cli.returncode} {cli.stderr[-600:]}"
    )


# -- failed reruns ----------------------------------------------------------------------------


def failed_rerun_keeps_ok(tmp: Path) -> Outcome:
    from harness.commands.measure import _finish

    db, before = seeded(tmp, 1)
    rc = _finish(bad(1), measure_args(db))
    held = rc == 1 and current(db)[good(1).key][0] == "ok" and attempts(db) == 2
    return Outcome(held, lost(before, db), detail=f"rc={rc} {current(db)}")


def force_sweep_failing_keeps_ok(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 2)
    jobs = [cfg(1), cfg(2)]
    res = run_sweep(jobs, db, target=fake_jobs.target("raise_error"), force=True, **QUIET)
    held = res.count("error") == 2 and current(db) == before and attempts(db) == 4
    return Outcome(held, lost(before, db), detail=res.summary())


def force_sweep_ok_replaces(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 2)
    res = run_sweep([cfg(1), cfg(2)], db, target=fake_jobs.target("succeed"), force=True, **QUIET)
    after = current(db)
    newer = all(after[k][1] > before[k][1] and after[k][0] == "ok" for k in before)
    return Outcome(res.count("ok") == 2 and newer and attempts(db) == 4, lost(before, db))


def interrupted_force_keeps_ok(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 1)
    with ResultStore(db) as store:
        store.put(bad(1, "interrupted"), overwrite=True)
        kept = store.get(good(1).key)
    return Outcome(kept is not None and kept.ok, lost(before, db))


# -- unusable databases refused before measuring ----------------------------------------------


def _refused_before(tmp: Path, db: Path, *extra: str) -> Outcome:
    was = fingerprint(db) if db.is_file() else None
    cli = harness(
        "measure", "resnet18", "--tiny", "--device", "cpu", "--db", str(db), *extra, cwd=tmp
    )
    unchanged = was is None or fingerprint(db) == was
    held = (
        cli.returncode == 2 and cli.one_line_error and "measuring" not in cli.stderr and unchanged
    )
    return cli_outcome(cli, held)


def corrupt_db_refused_before_measuring(tmp: Path) -> Outcome:
    db = tmp / "r.sqlite"
    db.write_bytes(b"not a database\n" * 200)
    return _refused_before(tmp, db)


def truncated_db_refused_before_measuring(tmp: Path) -> Outcome:
    db = tmp / "r.sqlite"
    data = OLD_DB.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    return _refused_before(tmp, db)


def foreign_db_refused_before_measuring(tmp: Path) -> Outcome:
    db = tmp / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    return _refused_before(tmp, db)


def newer_store_refused_before_measuring(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 1)
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value=? WHERE name='store_version'", (str(STORE_VERSION + 1),))
    con.commit()
    con.close()
    out = _refused_before(tmp, db)
    return Outcome(out.held, lost(before, db), out.traceback, out.detail)


def _refused_on_read_only(tmp: Path, protect_folder: bool) -> Outcome:
    folder = tmp / "media"
    folder.mkdir()
    db, before = seeded(folder, 1)
    was = fingerprint(db)
    protect = folder if protect_folder else db
    cli = read_only_harness(
        protect, "measure", "resnet18", "--tiny", "--device", "cpu", "--db", str(db), cwd=tmp
    )
    held = (
        cli.returncode == 2
        and cli.one_line_error
        and "not writable" in cli.stderr
        and "measuring" not in cli.stderr
        and fingerprint(db) == was
    )
    return cli_outcome(cli, held, lost_rows=lost(before, db))


def read_only_folder_refused_before_measuring(tmp: Path) -> Outcome:
    return _refused_on_read_only(tmp, protect_folder=True)


def read_only_file_refused_before_measuring(tmp: Path) -> Outcome:
    return _refused_on_read_only(tmp, protect_folder=False)


# -- read-only media can be read --------------------------------------------------------------


def _read_on_read_only(tmp: Path, *args: str, expect: str) -> Outcome:
    folder = tmp / "media"
    folder.mkdir()
    db, before = seeded(folder, 2)
    was = fingerprint(db)
    cli = read_only_harness(folder, *args, "--db", str(db), cwd=tmp)
    held = cli.returncode == 0 and expect in cli.stdout and fingerprint(db) == was
    return cli_outcome(cli, held, lost_rows=lost(before, db))


def export_reads_read_only_media(tmp: Path) -> Outcome:
    out = tmp / "out.csv"
    return _read_on_read_only(tmp, "export", "--out", str(out), expect="wrote 2 measurements")


def report_reads_read_only_media(tmp: Path) -> Outcome:
    out = tmp / "rep"
    return _read_on_read_only(tmp, "report", "--no-published", "--out", str(out), expect="html:")


def history_reads_read_only_media(tmp: Path) -> Outcome:
    return _read_on_read_only(tmp, "history", "fake-ok", expect="ok (current)")


# -- saving fails after measuring -------------------------------------------------------------


def sweep_lock_outlasts_retries_goes_to_recovery(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 1)
    store = ResultStore(db)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holding the write lock throughout
    try:
        res = run_sweep(
            [cfg(2), cfg(3)],
            store,
            target=fake_jobs.target("succeed"),
            save_retry=FAST_RETRY,
            **QUIET,
        )
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        store.close()
    back = [read_recovery(p) for p in res.recovered]
    held = (
        res.count("ok") == 2  # the sweep went on after the first row could not be saved
        and [r.key for r in back] == [cfg(2).key(), cfg(3).key()]
        and all(p.parent == tmp and p.name.startswith("r.sqlite.recovered-") for p in res.recovered)
        and back == list(res.records)
    )
    return Outcome(held, lost(before, db), detail=res.summary())


def sweep_lock_released_during_retries_saves(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 1)
    store = ResultStore(db)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")

    def release_then_wait(seconds: float) -> None:  # the lock goes away during the backoff
        if locker.in_transaction:
            locker.execute("ROLLBACK")

    retry = SaveRetry(tries=3, busy_s=0.05, waits_s=(0.01,), sleep=release_then_wait)
    try:
        res = run_sweep(
            [cfg(2)], store, target=fake_jobs.target("succeed"), save_retry=retry, **QUIET
        )
    finally:
        locker.close()
        store.close()
    held = not res.recovered and current(db)[cfg(2).key()][0] == "ok"
    return Outcome(held, lost(before, db), detail=res.summary())


def measure_store_fails_after_measuring_writes_recovery(tmp: Path) -> Outcome:
    from harness.commands.measure import _finish

    db, before = seeded(tmp, 1)
    record = good(5)
    store = ResultStore(db, timeout_s=0.05)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        rc = _finish(record, measure_args(db), store=store)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        store.close()
    files = sorted(tmp.glob("r.sqlite.recovered-*.json"))
    held = rc == 1 and len(files) == 1 and read_recovery(files[0]) == record
    return Outcome(held, lost(before, db), detail=f"rc={rc} files={files}")


def recovery_falls_back_to_temp_folder(tmp: Path) -> Outcome:
    record = good(7)
    old = tempfile.tempdir
    tempfile.tempdir = str(tmp / "system-tmp")
    (tmp / "system-tmp").mkdir()
    try:
        path = write_recovery(tmp / "gone" / "r.sqlite", record)  # that folder cannot take it
    finally:
        tempfile.tempdir = old
    held = path.parent == tmp / "system-tmp" and read_recovery(path) == record
    return Outcome(held, detail=str(path))


# -- concurrency ------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from harness.pipeline.config import MeasurementConfig
    from harness.pipeline.record import Measurement
    from harness.sweep.store import ResultStore

    path, me, keys, rounds, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    while not os.path.exists(go):
        time.sleep(0.001)
    with ResultStore(path) as db:
        for r in range(rounds):
            for k in range(keys):
                config = MeasurementConfig("fake-ok", batch_size=k + 1, min_seconds=0.0)
                if (me + r + k) % 2:
                    rec = Measurement.create(config, status="error", error="transient")
                else:
                    rec = Measurement.create(config, timing={"median_s": 0.1, "writer": me})
                db.put(rec, overwrite=True)  # what `harness measure` asked for
    """
)


def concurrent_writers_lose_no_ok(tmp: Path) -> Outcome:
    keys, rounds, procs_n = 6, 5, 4
    db, before = seeded(tmp, keys)
    go = tmp / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(i), str(keys), str(rounds), str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(procs_n)
    ]
    time.sleep(0.5)
    go.touch()
    errs = [p.communicate(timeout=120)[1] for p in procs]
    ok_exit = all(p.returncode == 0 for p in procs)
    held = ok_exit and attempts(db) == keys + keys * rounds * procs_n
    return Outcome(
        held, lost(before, db), any("Traceback" in e for e in errs), " ".join(errs)[-600:]
    )


# -- damaged rows -----------------------------------------------------------------------------


def _damage(db: Path, key: str, text: str) -> None:
    con = sqlite3.connect(db)
    con.execute("UPDATE measurements SET record=? WHERE key=?", (text, key))
    con.commit()
    con.close()


def corrupt_json_row_skipped_in_export(tmp: Path) -> Outcome:
    db, _ = seeded(tmp, 3)
    _damage(db, good(2).key, '{"key": "trunc')
    cli = harness("export", "--db", str(db), "--out", str(tmp / "o.csv"), cwd=tmp)
    warned = [ln for ln in cli.stderr.splitlines() if good(2).key in ln]
    held = cli.returncode == 0 and "wrote 2 measurements" in cli.stdout and len(warned) == 1
    return cli_outcome(cli, held)


def corrupt_json_row_skipped_in_report(tmp: Path) -> Outcome:
    db, _ = seeded(tmp, 2)
    _damage(db, good(1).key, "\x00garbage")
    cli = harness("report", "--no-published", "--db", str(db), "--out", str(tmp / "rep"), cwd=tmp)
    warned = [ln for ln in cli.stderr.splitlines() if good(1).key in ln]
    held = cli.returncode == 0 and "html:" in cli.stdout and len(warned) == 1
    return cli_outcome(cli, held)


def unparseable_record_skipped_and_not_done(tmp: Path) -> Outcome:
    db, _ = seeded(tmp, 2)
    _damage(db, good(1).key, json.dumps(["not", "a", "record"]))
    seen: list[str] = []
    with ResultStore(db, readonly=True, warn=seen.append) as store:
        rows = store.load()
        done = store.done_keys()
        store.load()
    held = [r.key for r in rows] == [good(2).key] and done == {good(2).key} and len(seen) == 1
    return Outcome(held, detail=f"{seen}")


def corrupt_row_remeasured_by_sweep(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 2)
    _damage(db, good(1).key, "{broken")
    res = run_sweep([cfg(1), cfg(2)], db, target=fake_jobs.target("succeed"), **QUIET)
    with ResultStore(db, readonly=True) as store:
        fixed = store.get(good(1).key)
    held = res.skipped == 1 and res.count("ok") == 1 and fixed is not None and fixed.ok
    return Outcome(held, lost({good(2).key: before[good(2).key]}, db), detail=res.summary())


def failed_rerun_replaces_a_corrupt_ok_row(tmp: Path) -> Outcome:
    db, _ = seeded(tmp, 1)
    _damage(db, good(1).key, "{broken")
    with ResultStore(db, warn=lambda m: None) as store:
        store.put(bad(1))
        now = store.get(good(1).key)
    return Outcome(now is not None and now.status == "error", detail=str(now))


# -- history, upgrade -------------------------------------------------------------------------


def history_lists_attempts_newest_first(tmp: Path) -> Outcome:
    db, before = seeded(tmp, 1)
    with ResultStore(db) as store:
        store.put(bad(1, "timeout"))
    cli = harness("history", "fake-ok", "--db", str(db), cwd=tmp)
    lines = [ln for ln in cli.stdout.splitlines() if good(1).key in ln]
    held = (
        cli.returncode == 0
        and len(lines) == 2
        and "timeout" in lines[0]
        and "RuntimeError: transient" in lines[0]
        and "ok (current)" in lines[1]
        and "500 ms" in lines[1]
    )
    missing = harness("history", "nonesuch", "--db", str(db), cwd=tmp)
    held = held and missing.returncode == 2 and missing.one_line_error
    return cli_outcome(cli, held, detail=cli.stdout + missing.stderr, lost_rows=lost(before, db))


def old_database_upgrades_and_keeps_rows(tmp: Path) -> Outcome:
    db = tmp / "old.sqlite"
    shutil.copy(OLD_DB, db)
    before = current(db)
    with ResultStore(db) as store:
        old = store.load()
        key = old[0].key
        store.put(
            old[0].replace(
                status="error", error="rerun failed", created_at="2030-01-01T00:00:00+00:00"
            )
        )
        history = [a for a in store.history(old[0].config["architecture"]) if a.key == key]
        version = store.conn.execute("SELECT value FROM meta WHERE name='store_version'").fetchone()
    held = (
        len(old) == 3
        and version == (str(STORE_VERSION),)
        and attempts(db) == 4
        and [a.status for a in history] == ["error", "ok"]
        and history[1].current
        and history[1].key == key
    )
    return Outcome(held, lost(before, db), detail=f"{version} {history}")


def old_database_reads_read_only_untouched(tmp: Path) -> Outcome:
    db = tmp / "old.sqlite"
    shutil.copy(OLD_DB, db)
    was = fingerprint(db)
    with ResultStore(db, readonly=True) as store:
        rows = store.load()
        hist = store.history(rows[0].config["architecture"])
    same = [r for r in rows if r.config["architecture"] == rows[0].config["architecture"]]
    held = (
        len(rows) == 3
        and sorted(a.key for a in hist) == sorted(r.key for r in same)
        and all(a.current for a in hist)
        and fingerprint(db) == was
    )
    return Outcome(held, detail=str(hist))


CASES = [
    FaultCase("failed rerun keeps ok", "store", failed_rerun_keeps_ok),
    FaultCase("--force sweep failing keeps ok", "store", force_sweep_failing_keeps_ok),
    FaultCase("--force sweep ok replaces", "store", force_sweep_ok_replaces),
    FaultCase("interrupted --force keeps ok", "store", interrupted_force_keeps_ok),
    FaultCase("corrupt db refused before measuring", "store", corrupt_db_refused_before_measuring),
    FaultCase(
        "truncated db refused before measuring",
        "store",
        truncated_db_refused_before_measuring,
        slow=True,
    ),
    FaultCase(
        "foreign db refused before measuring",
        "store",
        foreign_db_refused_before_measuring,
        slow=True,
    ),
    FaultCase(
        "newer store refused before measuring",
        "store",
        newer_store_refused_before_measuring,
        slow=True,
    ),
    FaultCase(
        "read-only folder refused before measuring",
        "store",
        read_only_folder_refused_before_measuring,
        slow=True,
    ),
    FaultCase(
        "read-only file refused before measuring",
        "store",
        read_only_file_refused_before_measuring,
        slow=True,
    ),
    FaultCase("export reads read-only media", "store", export_reads_read_only_media),
    FaultCase("report reads read-only media", "store", report_reads_read_only_media, slow=True),
    FaultCase("history reads read-only media", "store", history_reads_read_only_media),
    FaultCase(
        "sweep lock outlasts retries: recovery file",
        "store",
        sweep_lock_outlasts_retries_goes_to_recovery,
    ),
    FaultCase(
        "sweep lock released during retries: saved",
        "store",
        sweep_lock_released_during_retries_saves,
    ),
    FaultCase(
        "measure store fails after measuring: recovery",
        "store",
        measure_store_fails_after_measuring_writes_recovery,
    ),
    FaultCase(
        "recovery falls back to the temp folder", "store", recovery_falls_back_to_temp_folder
    ),
    FaultCase("concurrent writers lose no ok", "store", concurrent_writers_lose_no_ok),
    FaultCase("corrupt json row skipped in export", "store", corrupt_json_row_skipped_in_export),
    FaultCase(
        "corrupt row skipped in report", "store", corrupt_json_row_skipped_in_report, slow=True
    ),
    FaultCase(
        "unparseable record skipped, not done", "store", unparseable_record_skipped_and_not_done
    ),
    FaultCase("corrupt row remeasured by sweep", "store", corrupt_row_remeasured_by_sweep),
    FaultCase(
        "failed rerun replaces a corrupt ok row", "store", failed_rerun_replaces_a_corrupt_ok_row
    ),
    FaultCase("history lists attempts newest first", "store", history_lists_attempts_newest_first),
    FaultCase("0.1.0 database upgrades, keeps rows", "store", old_database_upgrades_and_keeps_rows),
    FaultCase(
        "0.1.0 database reads read-only, untouched", "store", old_database_reads_read_only_untouched
    ),
]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c.slow else c for c in CASES],
    ids=ids(CASES),
)
def test_fault_case(case: FaultCase, tmp_path: Path) -> None:
    check(run_case(case, tmp_path), case)
