"""The results database: one SQLite file, one row per measurement, the full record as JSON.

Why SQLite: transactions (a failed insert leaves nothing behind), many processes may write the
same file (WAL journal and a busy timeout: concurrent sweeps both land), and it is part of
Python. A row's `key` is the measurement's key, so a rerun skips what is done; only status
"ok" counts as done: a failed row is retried by the next run and replaced.

A file that is not a harness database, or was written by a newer schema, is refused before
anything is written to it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.output_files import atomic_path, ensure_folder, shown, writable_target
from harness.paths import reports_dir
from harness.pipeline.record import Measurement
from harness.pipeline.schema import SCHEMA_VERSION
from harness.vocab import STATUSES

if TYPE_CHECKING:
    import pandas as pd

DB_NAME = "results.sqlite"
EXPORT_FORMATS = ("csv", "parquet")
_SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
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
"""


def default_db_path() -> Path:
    """`reports/results.sqlite` (HARNESS_REPORTS_DIR moves `reports/`)."""
    return reports_dir() / DB_NAME


class ResultStore:
    """A results database at `path` (default `reports/results.sqlite`).

    `readonly=True` opens an existing database for reading only (export, report) and never
    creates one. Use as a context manager or call `close()`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        readonly: bool = False,
        timeout_s: float = 60.0,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._check_file()
        self._conn = self._connect(timeout_s)
        try:
            version = self._existing_schema_version()
            if version is not None and version > SCHEMA_VERSION:
                raise HarnessError(
                    f"results database {self.path} was written by a newer harness (schema "
                    f"{version}, this harness reads up to {SCHEMA_VERSION}); upgrade the "
                    "harness or pass another --db"
                )
            if version is None and readonly:
                raise HarnessError(
                    f"{self.path} holds no measurements yet; run `harness measure` first"
                )
            if not readonly:
                self._initialise(timeout_s)
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------------

    def _check_file(self) -> None:
        """Refuse, before SQLite touches it, a path we cannot use or a file that is not SQLite."""
        p = self.path
        if p.exists():
            if p.is_dir():
                raise HarnessError(f"results database {p} is a directory; pass a file path")
            try:
                with open(p, "rb") as f:
                    head = f.read(len(_SQLITE_HEADER))
            except OSError as exc:
                raise HarnessError(f"cannot read results database {p}: {exc.strerror}") from None
            if head and head != _SQLITE_HEADER:
                raise HarnessError(
                    f"{p} is not a SQLite database (corrupt or another kind of file); it was "
                    "left untouched: move it aside or pass another --db"
                )
        elif self.readonly:
            raise HarnessError(
                f"no results database at {p}; run `harness measure` first or pass --db"
            )
        if self.readonly:
            return
        parent = p.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HarnessError(
                f"cannot create the folder for results database {p}: {exc.strerror}; "
                "pass a writable --db"
            ) from None
        # SQLite writes a -wal and a -shm file beside the database, so the folder must be
        # writable too, not only the file.
        if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
            raise HarnessError(
                f"results database {p} is not writable (permission denied); pass a writable --db"
            )

    def _connect(self, timeout_s: float) -> sqlite3.Connection:
        try:
            if self.readonly:
                uri = f"file:{self.path.resolve()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise HarnessError(f"cannot open results database {self.path}: {exc}") from None
        return conn

    def _existing_schema_version(self) -> int | None:
        """The schema version stored in the file; None for a new, empty database."""
        try:
            tables = {
                r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:
                return None
            if "meta" not in tables or "measurements" not in tables:
                raise HarnessError(
                    f"{self.path} is a SQLite database but not a harness results database "
                    f"(tables: {', '.join(sorted(tables))}); it was left untouched: pass another --db"
                )
            row = self.conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise self._error("open it", exc) from None
            raise HarnessError(
                f"{self.path} is not a readable results database ({exc}); it was left "
                "untouched: move it aside or pass another --db"
            ) from None
        if row is None:
            return None
        try:
            return int(row[0])
        except ValueError:
            raise HarnessError(
                f"{self.path}: schema version {row[0]!r} is not a number; the file was left "
                "untouched: pass another --db"
            ) from None

    def _initialise(self, timeout_s: float) -> None:
        """WAL journal, tables and the schema version; safe when two processes race to it."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise self._error("cannot open", exc) from None
                time.sleep(0.05)
        self.journal_mode = mode
        with self._write("initialise"):
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self.conn.execute(
                "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        # Another process may have created the database between our check and our lock.
        version = self._existing_schema_version()
        if version is not None and version > SCHEMA_VERSION:
            raise HarnessError(
                f"results database {self.path} was written by a newer harness (schema {version})"
            )

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HarnessError(f"results database {self.path} is closed")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    # -- writing ------------------------------------------------------------------------------

    @contextmanager
    def _write(self, what: str) -> Iterator[None]:
        """One IMMEDIATE transaction: all of it lands, or none of it (disk full included)."""
        if self.readonly:
            raise HarnessError(f"results database {self.path} is open read-only")
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._error(what, exc) from None
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._error(what, exc) from None
            raise

    def _error(self, what: str, exc: sqlite3.Error) -> HarnessError:
        msg = str(exc)
        if "full" in msg:
            return HarnessError(
                f"results database {self.path}: disk full while trying to {what}; nothing of "
                "it was written (earlier rows are kept): free some space and rerun to resume"
            )
        if "readonly" in msg or "read-only" in msg:
            return HarnessError(
                f"results database {self.path} is read-only: {msg}; pass a writable --db"
            )
        if "locked" in msg or "busy" in msg:
            return HarnessError(
                f"results database {self.path} stayed locked by another process; try again"
            )
        return HarnessError(f"results database {self.path}: could not {what}: {msg}")

    def put(self, record: Measurement, *, overwrite: bool = False) -> bool:
        """Insert or replace the row of `record.key`; True when the row was written.

        A successful record replaces whatever was there; a failed one replaces a failed one,
        but never an "ok" row unless `overwrite` (a `--force` rerun) asks for it.
        """
        return self.put_many([record], overwrite=overwrite) == 1

    def put_many(self, records: Iterable[Measurement], *, overwrite: bool = False) -> int:
        """`put` for several records in one transaction; returns how many rows were written."""
        records = list(records)
        if not records:
            return 0
        rows = [self._row(r) for r in records]
        what = f"save {records[0].key}" if len(records) == 1 else f"save {len(records)} records"
        written = 0
        with self._write(what):
            for rec, row in zip(records, rows, strict=True):
                if not overwrite and rec.status != "ok":
                    prev = self.conn.execute(
                        "SELECT status FROM measurements WHERE key=?", (rec.key,)
                    ).fetchone()
                    if prev is not None and prev[0] == "ok":
                        continue
                self.conn.execute(
                    "INSERT OR REPLACE INTO measurements(key, status, architecture, device, "
                    "created_at, schema_version, harness_version, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                written += 1
        return written

    @staticmethod
    def _row(r: Measurement) -> tuple[Any, ...]:
        return (
            r.key,
            r.status,
            str(r.config.get("architecture", r.architecture.get("name", ""))),
            str(r.config.get("device", "")),
            r.created_at,
            r.schema_version,
            r.harness_version,
            r.to_json(),
        )

    def delete(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        with self._write(f"delete {len(keys)} rows"):
            cur = self.conn.executemany(
                "DELETE FROM measurements WHERE key=?", [(k,) for k in keys]
            )
        return cur.rowcount

    # -- reading ------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise HarnessError(f"results database {self.path}: cannot read: {exc}") from None

    def has(self, key: str) -> bool:
        """True when `key` has a successful row (a failed row does not count as done)."""
        return bool(self._query("SELECT 1 FROM measurements WHERE key=? AND status='ok'", (key,)))

    def done_keys(self) -> set[str]:
        """Keys of successful rows: what a resumed sweep skips."""
        return {r[0] for r in self._query("SELECT key FROM measurements WHERE status='ok'")}

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._query("SELECT COUNT(*) FROM measurements")[0][0]
        return self._query("SELECT COUNT(*) FROM measurements WHERE status=?", (status,))[0][0]

    def get(self, key: str) -> Measurement | None:
        rows = self._query("SELECT record FROM measurements WHERE key=?", (key,))
        return self._decode(rows[0][0], key) if rows else None

    def load(
        self, *, status: str | Sequence[str] | None = None, architecture: str | None = None
    ) -> list[Measurement]:
        """Every record (oldest first), optionally only some statuses or one architecture."""
        sql, params = "SELECT key, record FROM measurements", []
        where = []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                raise HarnessError(f"unknown status {bad[0]!r}; use one of {', '.join(STATUSES)}")
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if architecture is not None:
            where.append("architecture=?")
            params.append(architecture)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, key"
        return [self._decode(rec, key) for key, rec in self._query(sql, params)]

    def _decode(self, text: str, key: str) -> Measurement:
        try:
            return Measurement.from_dict(json.loads(text))
        except (json.JSONDecodeError, HarnessError) as exc:
            raise HarnessError(f"results database {self.path}: row {key}: {exc}") from None

    def to_dataframe(self, *, status: str | Sequence[str] | None = None) -> pd.DataFrame:
        """All rows as a DataFrame with dotted columns (`config.batch_size`, `timing.median_s`)."""
        import pandas as pd

        return pd.DataFrame([m.to_flat() for m in self.load(status=status)])

    # -- export -------------------------------------------------------------------------------

    def export(
        self,
        out: str | os.PathLike[str] | None = None,
        format: str | None = None,
        *,
        status: str | Sequence[str] | None = None,
    ) -> tuple[Path, int]:
        """Write the rows to CSV or Parquet; returns (path, rows). The format comes from
        `format`, else from the file's suffix, else CSV; a suffix that names the other format is
        refused (a `.csv` holding Parquet misleads every reader). The file is replaced
        atomically, and only a regular file or a new path is written (never a device or FIFO)."""
        suffix_fmt = _format_from_suffix(out)
        fmt = format or suffix_fmt or "csv"
        if fmt not in EXPORT_FORMATS:
            raise HarnessError(f"unknown export format {fmt!r}; use {' or '.join(EXPORT_FORMATS)}")
        if suffix_fmt is not None and suffix_fmt != fmt:
            raise HarnessError(
                f"--out {shown(out or '')} has a .{suffix_fmt} suffix but --format is {fmt}; "
                "make them agree (or leave out --format)"
            )
        path = Path(out).expanduser() if out is not None else reports_dir() / f"results.{fmt}"
        # refuse a device, FIFO or folder before loading the rows
        writable_target(path, "pass another --out")
        df = self.to_dataframe(status=status)
        if df.empty:
            raise HarnessError(f"results database {self.path} has no matching rows to export")
        write_table(df, path, fmt)
        return path, len(df)


def _format_from_suffix(out: str | os.PathLike[str] | None) -> str | None:
    if out is None:
        return None
    suffix = Path(out).suffix.lower()
    return {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(suffix)


def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns that mix types across rows (a number here, a string there) become strings, so
    Parquet, which wants one type per column, accepts them; missing values stay missing."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype != object:
            continue
        values = out[col].dropna()
        kinds = {type(v) for v in values}
        if len(kinds) > 1 and not kinds <= {int, float}:
            out[col] = out[col].map(lambda v: v if v is None or v != v else str(v))
    return out


def write_table(df: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write atomically through `harness.output_files`: a crash or a full disk leaves the old
    file, and a device, FIFO, folder or symbolic link is never replaced by the table."""
    ensure_folder(path.parent, "export folder", "pass another --out")
    with atomic_path(path, "pass another --out") as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            parquet_safe(df).to_parquet(tmp, index=False)
