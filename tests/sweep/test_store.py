"""The results database: resumable rows, exports that round-trip, and bad files left alone."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import HarnessError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.schema import SCHEMA_VERSION
from harness.sweep.store import ResultStore, default_db_path


def ok(batch_size: int = 1, **sections) -> Measurement:
    config = MeasurementConfig("resnet18", batch_size=batch_size, tiny=True)
    return Measurement.create(
        config,
        architecture={"name": "resnet18", "domain": "vision", "benchmark": "imagenet"},
        environment={"torch": "2.x", "gpu_name": None},
        counts=sections.get("counts", {"forward_macs_per_example": 1000 * batch_size}),
        timing=sections.get(
            "timing", {"median_s": 0.125 * batch_size, "samples_s": [0.1, 0.2], "noisy": False}
        ),
        energy={"total_energy_j": 12.5, "provenance": "rapl"},
        burden={"hardware_burden_flop": 3.0e12},
    )


def failed(batch_size: int = 1, status: str = "error") -> Measurement:
    config = MeasurementConfig("resnet18", batch_size=batch_size, tiny=True)
    return Measurement.create(config, status=status, error="RuntimeError: boom")


def fingerprint(path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_default_path_is_under_reports(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "rep"))
    assert default_db_path() == tmp_path / "rep" / "results.sqlite"
    with ResultStore() as db:
        db.put(ok())
    assert (tmp_path / "rep" / "results.sqlite").is_file()


def test_put_load_and_resume_keys(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as db:
        a, b = ok(1), failed(2)
        assert db.put(a) and db.put(b)
        assert db.count() == 2
        assert db.load() == [a, b]
        assert db.get(a.key) == a
        assert db.has(a.key) and not db.has(b.key)  # a failed row is not done
        assert db.done_keys() == {a.key}
        assert db.load(status="error") == [b]
    with ResultStore(tmp_path / "r.sqlite", readonly=True) as db:
        assert db.count() == 2 and db.done_keys() == {a.key}


def test_failed_row_is_replaced_but_never_replaces_ok(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as db:
        bad = failed(1)
        db.put(bad)
        good = ok(1)
        assert good.key == bad.key
        assert db.put(good)
        assert db.count() == 1 and db.get(good.key) == good
        # a later failure (say a concurrent run that crashed) keeps the good row...
        assert not db.put(failed(1, "timeout"))
        assert db.get(good.key) == good
        # ...and so does a --force rerun that fails: it is kept as an attempt, not as current
        assert not db.put(failed(1, "timeout"), overwrite=True)
        assert db.get(good.key) == good
        assert [a.status for a in db.history("resnet18")] == ["timeout", "timeout", "ok", "error"]


def test_dataframe_is_one_call(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as db:
        db.put_many([ok(1), ok(2), failed(3)])
        df = db.to_dataframe()
    assert len(df) == 3
    assert list(df["config.batch_size"]) == [1, 2, 3]
    assert list(df["status"]) == ["ok", "ok", "error"]
    assert df["timing.median_s"].iloc[1] == 0.25
    assert pd.isna(df["timing.median_s"].iloc[2])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips(tmp_path, fmt):
    with ResultStore(tmp_path / "r.sqlite") as db:
        db.put_many([ok(1), ok(2), failed(3, "timeout"), ok(4, counts={"method": 7})])
        expected = db.to_dataframe()
        path, n = db.export(tmp_path / f"out.{fmt}")
    assert n == 4 and path == tmp_path / f"out.{fmt}"
    back = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    assert list(back.columns) == list(expected.columns)
    for col in expected.columns:
        for want, got in zip(expected[col], back[col], strict=True):
            if want is None or (isinstance(want, float) and pd.isna(want)):
                assert pd.isna(got), col
            elif isinstance(want, float):
                assert float(got) == pytest.approx(want), col
            else:
                assert str(got) == str(want), col
    # the exported samples decode to the stored ones
    assert back["timing.samples_s"].iloc[0] == "[0.1, 0.2]"


def test_export_format_from_suffix_and_errors(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as db:
        with pytest.raises(HarnessError, match="no matching rows"):
            db.export(tmp_path / "x.csv")
        db.put(ok())
        path, _ = db.export(tmp_path / "x.parquet")
        assert pd.read_parquet(path)["config.batch_size"].tolist() == [1]
        with pytest.raises(HarnessError, match="unknown export format"):
            db.export(tmp_path / "x.json", "json")
        (tmp_path / "afile").write_text("")
        with pytest.raises(HarnessError, match="cannot write"):
            db.export(tmp_path / "afile" / "x.csv")


def test_corrupt_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "r.sqlite"
    path.write_bytes(b"this is not a database\n" * 100)
    before = fingerprint(path)
    with pytest.raises(HarnessError) as exc:
        ResultStore(path)
    assert "not a SQLite database" in str(exc.value) and "\n" not in str(exc.value)
    assert fingerprint(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite"]


def test_damaged_sqlite_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as db:
        db.put_many([ok(i) for i in range(1, 30)])
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wipe the schema page after the header
    path.write_bytes(bytes(data))
    before = fingerprint(path)
    with pytest.raises(HarnessError, match="not a readable results database|not a harness"):
        ResultStore(path)
    assert fingerprint(path) == before


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    with pytest.raises(HarnessError, match="not a harness results database"):
        ResultStore(path)
    assert fingerprint(path) == before


def test_newer_schema_is_refused_and_untouched(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as db:
        db.put(ok())
        db.conn.execute(
            "UPDATE meta SET value=? WHERE name='schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    before = fingerprint(path)
    for readonly in (False, True):
        with pytest.raises(HarnessError, match="newer harness"):
            ResultStore(path, readonly=readonly)
    assert fingerprint(path) == before


def test_unwritable_paths_are_one_line_errors(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(HarnessError, match="cannot create the folder"):
        ResultStore(blocker / "sub" / "r.sqlite")
    with pytest.raises(HarnessError, match="is a directory"):
        ResultStore(tmp_path)
    with pytest.raises(HarnessError, match="no results database"):
        ResultStore(tmp_path / "missing.sqlite", readonly=True)
    assert blocker.read_text() == "x"


def _refuses_read_only_folder(folder: Path) -> None:
    before = fingerprint(folder / "r.sqlite")
    folder.chmod(0o500)
    try:
        with pytest.raises(HarnessError, match="not writable"):
            ResultStore(folder / "r.sqlite")
    finally:
        folder.chmod(0o700)
    assert fingerprint(folder / "r.sqlite") == before


REFUSE_READ_ONLY = """
import sys
from harness.errors import HarnessError
from harness.sweep.store import ResultStore
try:
    ResultStore(sys.argv[1])
except HarnessError as exc:
    print("refused:", exc)
    sys.exit(0)
sys.exit(1)
"""


def test_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with ResultStore(folder / "r.sqlite") as db:
        db.put(ok())
    if os.geteuid() != 0:
        _refuses_read_only_folder(folder)
        return
    # Root ignores file permissions. In a new user namespace the same process keeps owning its
    # files but loses that override, so the check runs there (util-linux `unshare --user`).
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("running as root without util-linux's unshare to drop the override")
    before = fingerprint(folder / "r.sqlite")
    folder.chmod(0o500)
    try:
        proc = subprocess.run(
            ["unshare", "--user", sys.executable, "-c", REFUSE_READ_ONLY, str(folder / "r.sqlite")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        folder.chmod(0o700)
    if proc.returncode != 0 and "unshare" in proc.stderr:
        pytest.skip(f"user namespaces are not available here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0 and "not writable" in proc.stdout, proc.stderr[-2000:]
    assert fingerprint(folder / "r.sqlite") == before


def test_full_disk_rolls_back_the_transaction(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as db:
        db.put(ok(1))
        pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
        # SQLite reports a database that may not grow exactly as a full disk does.
        db.conn.execute(f"PRAGMA max_page_count={pages}")
        big = ok(2, timing={"samples_s": [float(i) for i in range(50_000)]})
        with pytest.raises(HarnessError) as exc:
            db.put_many([ok(3), big])  # the small one must not land either
        assert "disk full" in str(exc.value) and "\n" not in str(exc.value)
        assert db.count() == 1 and not db.conn.in_transaction
        db.conn.execute("PRAGMA max_page_count=1073741823")
        db.put(big)
        assert db.count() == 2
    with ResultStore(path) as db:
        assert [m.config["batch_size"] for m in db.load()] == [1, 2]
        assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


WRITER = textwrap.dedent(
    """
    import os, sys, time
    from harness.pipeline.config import MeasurementConfig; from harness.pipeline.record import Measurement
    from harness.sweep.store import ResultStore

    path, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    while not os.path.exists(go):  # start together: both create the database at once
        time.sleep(0.001)
    with ResultStore(path) as db:
        for i in range(n):
            config = MeasurementConfig(f"net_{tag}", batch_size=i + 1)
            db.put(Measurement.create(config, timing={"median_s": i}))
    """
)


def test_concurrent_writers_both_land(tmp_path):
    """Two processes create and fill one database at the same moment; without WAL and a busy
    timeout one of them fails with 'database is locked'."""
    path, go = tmp_path / "shared.sqlite", tmp_path / "go"
    n = 60
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), tag, str(n), str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    time.sleep(1.0)  # both interpreters started and waiting
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    with ResultStore(path) as db:
        rows = db.load()
        assert len(rows) == 2 * n and len({r.key for r in rows}) == 2 * n
        assert {r.config["architecture"] for r in rows} == {"net_a", "net_b"}
        assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_export_command(tmp_path, capsys):
    from harness.cli import main

    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.put_many([ok(1), failed(2)])
    out = tmp_path / "out" / "results.parquet"
    assert main(["export", "--db", str(db), "--out", str(out), "--status", "ok"]) == 0
    assert "wrote 1 measurement to" in capsys.readouterr().out
    assert pd.read_parquet(out)["status"].tolist() == ["ok"]
    assert main(["export", "--db", str(db), "--format", "csv", "--out", str(tmp_path / "a")]) == 0
    assert len(pd.read_csv(tmp_path / "a")) == 2
    assert main(["export", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no results database" in capsys.readouterr().err
