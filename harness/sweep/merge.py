"""Merging results databases (the shards of a sweep) into one.

Every attempt of every source lands in the target once (an attempt is known by its key, the
time its record was created and its status, so merging the same shard twice adds nothing).
The current row of each key follows the store's rule: an "ok" record wins over a failed one,
and between two of the same kind the newer one wins; so the result does not depend on the
order of the sources either. Claims are not merged: they describe processes, not results.
A source written with another record schema is refused: its rows would be read wrongly.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.sweep.store import ResultStore
from harness.sweep.store_schema import ROW_COLUMNS

_FIELDS = ROW_COLUMNS.split(", ")
_KEY, _STATUS, _CREATED = (_FIELDS.index(f) for f in ("key", "status", "created_at"))


@dataclass(frozen=True)
class MergeResult:
    into: Path
    sources: int
    attempts_added: int
    current_changed: int
    rows: int  # current rows in the target after the merge

    def summary(self) -> str:
        return (
            f"merged {self.sources} database(s) into {self.into}: {self.attempts_added} "
            f"attempts added, {self.current_changed} current rows added or replaced; "
            f"{self.rows} rows in all"
        )


def merge(sources: Sequence[str | os.PathLike[str]], into: str | os.PathLike[str]) -> MergeResult:
    """Merge `sources` into the database `into` (created if missing); see the module."""
    target_path = Path(into).expanduser()
    paths = [Path(s).expanduser() for s in sources]
    if not paths:
        raise HarnessError("name the databases to merge: harness merge A.sqlite B.sqlite --into R")
    for p in paths:
        if target_path.exists() and p.resolve() == target_path.resolve():
            raise HarnessError(f"{p} is both a source and --into; merge into another file")
    loaded = [_read(p) for p in paths]  # every source read (and checked) before any write
    added = changed = 0
    with ResultStore(target_path) as target:
        mine = _schema(target.conn)
        for p, (schema, _, _) in zip(paths, loaded, strict=True):
            if schema != mine:
                raise HarnessError(
                    f"{p} holds records of schema {schema} and {target_path} of schema {mine}; "
                    "merge databases written by the same harness version (or export each)"
                )
        conn = target.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for _, attempts, current in loaded:
                added += _add_attempts(conn, attempts)
                changed += _add_current(conn, current)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        rows = target.count()
    return MergeResult(target_path, len(paths), added, changed, rows)


def _schema(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
    return int(row[0]) if row else -1


def _read(p: Path) -> tuple[int, list[tuple], list[tuple]]:
    """(record schema, attempts as (saved_at, *row), current rows) of one source."""
    with ResultStore(p, readonly=True) as src:
        conn = src.conn
        current = conn.execute(f"SELECT {ROW_COLUMNS} FROM measurements").fetchall()
        if src.has_history:
            attempts = conn.execute(
                f"SELECT saved_at, {ROW_COLUMNS} FROM attempts ORDER BY attempt"
            ).fetchall()
        else:  # a version-1 database: its rows are its only attempts
            attempts = [(r[_CREATED], *r) for r in current]
        return _schema(conn), attempts, current


def _add_attempts(conn: sqlite3.Connection, attempts: list[tuple]) -> int:
    seen = set(conn.execute("SELECT key, created_at, status FROM attempts").fetchall())
    marks = ", ".join("?" * (len(_FIELDS) + 1))
    added = 0
    for a in attempts:
        row = a[1:]
        ident = (row[_KEY], row[_CREATED], row[_STATUS])
        if ident in seen:
            continue
        seen.add(ident)
        conn.execute(f"INSERT INTO attempts(saved_at, {ROW_COLUMNS}) VALUES ({marks})", a)
        added += 1
    return added


def _add_current(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    marks = ", ".join("?" * len(_FIELDS))
    changed = 0
    for row in rows:
        have = conn.execute(
            "SELECT status, created_at FROM measurements WHERE key=?", (row[_KEY],)
        ).fetchone()
        if have is not None and _rank(have[0], have[1]) >= _rank(row[_STATUS], row[_CREATED]):
            continue
        conn.execute(f"INSERT OR REPLACE INTO measurements({ROW_COLUMNS}) VALUES ({marks})", row)
        changed += 1
    return changed


def _rank(status: str, created_at: str) -> tuple[bool, str]:
    """An ok row outranks a failed one; then the newer one wins."""
    return (status == "ok", created_at)
