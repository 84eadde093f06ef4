"""Shards split a suite by key hash; `harness merge` joins shard databases, each record once."""

from __future__ import annotations

import sqlite3

import fake_jobs
import pytest

from harness.cli import main
from harness.errors import ConfigurationError, HarnessError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.schema import SCHEMA_VERSION
from harness.sweep.journal import journal_mode, mount_type
from harness.sweep.merge import merge
from harness.sweep.shard import Shard, parse_shard, select, shard_of
from harness.sweep.store import ResultStore


def configs(n: int) -> list[MeasurementConfig]:
    return fake_jobs.sweep_configs(n, 0.0)


def test_shards_are_disjoint_cover_the_suite_and_do_not_move_when_it_grows():
    keys = [c.key() for c in configs(40)]
    shards = [select(((k, k) for k in keys), Shard(i, 3)) for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(keys)
    assert all(shards)  # 40 keys over 3 shards: none empty
    grown = [c.key() for c in configs(60)]
    assert all(shard_of(k, 3) == i for i, s in enumerate(shards) for k in s)
    assert select(((k, k) for k in grown[:40]), Shard(1, 3)) == shards[1]


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0"])
def test_a_bad_shard_is_one_line(text):
    with pytest.raises(ConfigurationError, match="I/N"):
        parse_shard(text)
    assert parse_shard("2/3") == Shard(2, 3)


def record(batch: int, status: str = "ok", when: str = "2026-01-01T00:00:00") -> Measurement:
    config = configs(batch)[-1]
    rec = (
        fake_jobs.quick(config)
        if status == "ok"
        else Measurement.create(config, status=status, error="fake")
    )
    return rec.replace(key=config.key(), created_at=when, status=status)


def dump(db) -> tuple[list, list]:
    with sqlite3.connect(db) as con:
        attempts = con.execute("SELECT saved_at, key, status, created_at FROM attempts").fetchall()
        current = con.execute("SELECT key, status, created_at FROM measurements").fetchall()
    return sorted(attempts), sorted(current)


def test_merge_joins_shards_and_twice_changes_nothing(tmp_path):
    a, b, into = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "all.sqlite"
    with ResultStore(a) as s:
        s.put_many([record(1), record(2)])
    with ResultStore(b) as s:
        s.put_many([record(3), record(2, "error", "2026-02-01T00:00:00")])  # a failed retry
    first = merge([a, b], into)
    assert (first.attempts_added, first.rows) == (4, 3)
    attempts, current = dump(into)
    assert {k: st for k, st, _ in current} == {
        configs(1)[0].key(): "ok",
        configs(2)[1].key(): "ok",  # the ok row stays current over the newer failure
        configs(3)[2].key(): "ok",
    }
    again = merge([b, a], into)
    assert (again.attempts_added, again.current_changed) == (0, 0)
    assert dump(into) == (attempts, current)


def test_a_newer_ok_record_replaces_an_older_one(tmp_path):
    a, b, into = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "all.sqlite"
    with ResultStore(a) as s:
        s.put(record(1, when="2026-03-01T00:00:00"))
    with ResultStore(b) as s:
        s.put(record(1, when="2026-01-01T00:00:00"))
    merge([a, b], into)
    merge([b], into)
    assert [c for _, _, c in dump(into)[1]] == ["2026-03-01T00:00:00"]


def test_merge_refuses_another_record_schema_in_one_line(tmp_path, capsys):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    for p in (a, b):
        with ResultStore(p) as s:
            s.put(record(1))
    with sqlite3.connect(b) as con:
        con.execute("UPDATE meta SET value=? WHERE name='schema_version'", (SCHEMA_VERSION - 1,))
    assert main(["merge", str(a), str(b), "--into", str(tmp_path / "m.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "schema" in err and str(b) in err and err.count("\n") == 1
    with pytest.raises(HarnessError, match="both a source"):
        merge([a], a)


def test_merge_command_prints_what_it_did(tmp_path, capsys):
    a = tmp_path / "a.sqlite"
    with ResultStore(a) as s:
        s.put(record(1))
    assert main(["merge", str(a), "--into", str(tmp_path / "m.sqlite")]) == 0
    assert "1 attempts added" in capsys.readouterr().out


MOUNTS = """\
/dev/sda1 / ext4 rw 0 0
server:/export /cluster nfs4 rw 0 0
lustre@tcp:/fs /lustre lustre rw 0 0
/dev/sdb1 /cluster/local ext4 rw 0 0
"""


def test_network_file_systems_get_the_rollback_journal(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.delenv("HARNESS_NO_WAL", raising=False)
    assert mount_type(Path("/cluster/runs/r.sqlite"), MOUNTS) == "nfs4"
    assert mount_type(Path("/cluster/local/r.sqlite"), MOUNTS) == "ext4"  # the longer mount
    assert journal_mode(Path("/lustre/x/r.sqlite"), MOUNTS) == "DELETE"
    assert journal_mode(Path("/home/r.sqlite"), MOUNTS) == "WAL"
    monkeypatch.setenv("HARNESS_NO_WAL", "1")
    assert journal_mode(Path("/home/r.sqlite"), MOUNTS) == "DELETE"
    with ResultStore(tmp_path / "r.sqlite") as s:
        assert s.journal_mode == "delete"
        s.put(record(1))
    assert not (tmp_path / "r.sqlite-wal").exists()
