"""The results database's tables, their version, and the upgrade of older databases.

Store version 2: `attempts` keeps every record ever saved, in the order saved (an
append-only history); `measurements` is the current view, one row per key, the same table a
version-1 database (harness 0.1.0) has, so anything that reads it keeps working. The store
version lives in `meta` as `store_version`; `meta.schema_version` stays the record schema's
version, which older harnesses check. A version-1 database is upgraded in place on the first
writable open: its rows become the first attempts of their keys.

Store version 3 adds `claims`: the configurations sweeps are measuring right now
(`harness.sweep.claims`); a version-2 database gains the empty table on its first writable
open. A harness that does not know claims would measure claimed configurations again, so it
is refused a version-3 database rather than let in.
"""

from __future__ import annotations

import sqlite3

STORE_VERSION = 3

_COLUMNS = """
    key             TEXT NOT NULL,
    status          TEXT NOT NULL,
    architecture    TEXT NOT NULL,
    device          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    schema_version  INTEGER NOT NULL,
    harness_version TEXT NOT NULL,
    record          TEXT NOT NULL"""

ROW_COLUMNS = (
    "key, status, architecture, device, created_at, schema_version, harness_version, record"
)

TABLES = f"""
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
    key             TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    architecture    TEXT NOT NULL,
    device          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    schema_version  INTEGER NOT NULL,
    harness_version TEXT NOT NULL,
    record          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS measurements_status ON measurements(status);
CREATE TABLE IF NOT EXISTS attempts (
    attempt  INTEGER PRIMARY KEY AUTOINCREMENT,
    saved_at TEXT NOT NULL,{_COLUMNS}
);
CREATE INDEX IF NOT EXISTS attempts_key ON attempts(key);
CREATE INDEX IF NOT EXISTS attempts_architecture ON attempts(architecture);
CREATE TABLE IF NOT EXISTS claims (
    key          TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    architecture TEXT NOT NULL,
    owner        TEXT NOT NULL,
    slot         TEXT NOT NULL,
    claimed_at   REAL NOT NULL,
    heartbeat    REAL NOT NULL
);
"""


def stored_version(conn: sqlite3.Connection) -> int:
    """The store version of an existing harness database (1 when it predates the history)."""
    row = conn.execute("SELECT value FROM meta WHERE name='store_version'").fetchone()
    return 1 if row is None else int(row[0])


def create_or_upgrade(conn: sqlite3.Connection, record_schema: int, now: str) -> None:
    """Inside a write transaction: the tables, and a version-1 database's rows as attempts."""
    for stmt in TABLES.split(";"):
        if stmt.strip():
            conn.execute(stmt)
    conn.execute(
        "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)",
        (str(record_schema),),
    )
    if conn.execute("SELECT 1 FROM meta WHERE name='store_version'").fetchone():
        # version 2 lacks only the claims table, created above
        conn.execute(
            "UPDATE meta SET value=? WHERE name='store_version' AND CAST(value AS INTEGER) < ?",
            (str(STORE_VERSION), STORE_VERSION),
        )
        return
    conn.execute(
        f"INSERT INTO attempts(saved_at, {ROW_COLUMNS}) "
        f"SELECT created_at, {ROW_COLUMNS} FROM measurements ORDER BY created_at, key"
    )
    conn.execute("INSERT INTO meta(name, value) VALUES ('store_version', ?)", (str(STORE_VERSION),))
