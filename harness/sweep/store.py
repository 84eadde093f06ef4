"""The results database: one SQLite file; every attempt kept, one current row per measurement.

Why SQLite: transactions (a failed insert leaves nothing behind), many processes may write the
same file (WAL journal and a busy timeout: concurrent sweeps both land), and it is part of
Python. Every record saved is appended to `attempts` (the history, `harness history NAME`);
`measurements` holds the current record of each key, the view reports and exports read. A
new record never destroys an earlier "ok" one: an "ok" record becomes current, a failed one
becomes current only where no readable "ok" row is, and the attempt is kept either way. Only
a readable "ok" row counts as done, so a failed or damaged row is measured again by the next
run. Tables and versions: `harness.sweep.store_schema`.

A file that is not a harness database, or was written by a newer schema, is refused before
anything is written to it; a row that cannot be read is skipped with a warning naming its key.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.output_files import atomic_path, ensure_folder, shown, writable_target
from harness.paths import reports_dir
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.conversions import with_conversions
from harness.pipeline.record import Measurement
from harness.pipeline.schema import SCHEMA_VERSION
from harness.pipeline.summary import noisy_text
from harness.sweep.emissions_csv import append_beside
from harness.sweep.journal import journal_mode
from harness.sweep.store_file import check_path, connect
from harness.sweep.store_schema import ROW_COLUMNS, STORE_VERSION, create_or_upgrade, stored_version
from harness.vocab import STATUSES

if TYPE_CHECKING:
    import pandas as pd

DB_NAME = "results.sqlite"
EXPORT_FORMATS = ("csv", "parquet")
_DECODE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, HarnessError)
_WARNED: set[tuple[str, str]] = set()  # (database, key): a damaged row is named once a command


def default_db_path() -> Path:
    """`reports/results.sqlite` (HARNESS_REPORTS_DIR moves `reports/`)."""
    return reports_dir() / DB_NAME


def _warn_stderr(message: str) -> None:
    print(f"harness: warning: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Attempt:
    """One saved record of a configuration, as `harness history` lists it."""

    saved_at: str
    key: str
    status: str
    error: str | None
    step_s: float | None
    current: bool  # the row reports and exports read for this key
    spread: str = ""  # the step times' IQR as % of the median, "NOISY" past 10%


class ResultStore:
    """A results database at `path` (default `reports/results.sqlite`).

    `readonly=True` opens an existing database for reading only (export, report, history) and
    never creates or upgrades one; it works on read-only media. `warn` receives the one-line
    warnings about damaged rows (default: stderr). Use as a context manager or call `close()`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        readonly: bool = False,
        timeout_s: float = 60.0,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.readonly = readonly
        self._warn = warn or _warn_stderr
        self._conn: sqlite3.Connection | None = None
        check_path(self.path, readonly=readonly)
        self._conn = connect(self.path, readonly=readonly, timeout_s=timeout_s)
        try:
            versions = self._existing_versions()
            if versions is None and readonly:
                raise HarnessError(
                    f"{self.path} holds no measurements yet; run `harness measure` first"
                )
            if not readonly:
                self._initialise(timeout_s)
            self.has_history = "attempts" in self._tables()
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------------

    def _tables(self) -> set[str]:
        return {
            r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }

    def _existing_versions(self) -> tuple[int, int] | None:
        """(record schema, store version) of the file; None for a new, empty database.
        A newer one of either is refused."""
        try:
            tables = self._tables()
            if not tables:
                return None
            if "meta" not in tables or "measurements" not in tables:
                raise HarnessError(
                    f"{self.path} is a SQLite database but not a harness results database "
                    f"(tables: {', '.join(sorted(tables))}); it was left untouched: pass another --db"
                )
            row = self.conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
            if row is None:
                return None
            schema, store = int(row[0]), stored_version(self.conn)
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise self._error("open it", exc) from None
            raise HarnessError(
                f"{self.path} is not a readable results database ({exc}); it was left "
                "untouched: move it aside or pass another --db"
            ) from None
        except ValueError:
            raise HarnessError(
                f"{self.path}: its schema version is not a number; the file was left "
                "untouched: pass another --db"
            ) from None
        if schema > SCHEMA_VERSION or store > STORE_VERSION:
            raise HarnessError(
                f"results database {self.path} was written by a newer harness (schema "
                f"{schema}, store {store}; this harness reads up to {SCHEMA_VERSION}, "
                f"{STORE_VERSION}); upgrade the harness or pass another --db"
            )
        return schema, store

    def _initialise(self, timeout_s: float) -> None:
        """WAL journal (DELETE on a network file system: `harness.sweep.journal`), tables,
        versions and the upgrade of an older database; safe when two processes race to it
        (one IMMEDIATE transaction)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                wanted = journal_mode(self.path)
                mode = self.conn.execute(f"PRAGMA journal_mode={wanted}").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise self._error("cannot open", exc) from None
                time.sleep(0.05)
        self.journal_mode = mode
        with self._write("initialise"):
            create_or_upgrade(self.conn, SCHEMA_VERSION, _now())
        # Another process may have created the database between our check and our lock.
        self._existing_versions()

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
    def busy_timeout(self, seconds: float) -> Iterator[None]:
        """Wait at most `seconds` for another process's write lock (a sweep retries itself)."""
        old = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self.conn.execute(f"PRAGMA busy_timeout={max(0, int(seconds * 1000))}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA busy_timeout={int(old)}")

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
        """Keep `record` as an attempt; True when it also became its key's current row.

        An "ok" record becomes current; a failed one only where no readable "ok" row is, so a
        failed rerun (with `--force` or not) never replaces a good result. `overwrite` is
        accepted for older callers and changes nothing: a rerun always keeps the attempt.
        """
        return self.put_many([record], overwrite=overwrite) == 1

    def put_many(self, records: Iterable[Measurement], *, overwrite: bool = False) -> int:
        """`put` for several records in one transaction; returns how many became current."""
        del overwrite  # see `put`
        records = list(records)
        if not records:
            return 0
        rows = [self._row(r) for r in records]
        what = f"save {records[0].key}" if len(records) == 1 else f"save {len(records)} records"
        marks = ", ".join("?" * len(rows[0]))
        current = 0
        with self._write(what):
            for rec, row in zip(records, rows, strict=True):
                self.conn.execute(
                    f"INSERT INTO attempts(saved_at, {ROW_COLUMNS}) VALUES (?, {marks})",
                    (_now(), *row),
                )
                if rec.status != "ok" and self._current_ok(rec.key):
                    continue
                self.conn.execute(
                    f"INSERT OR REPLACE INTO measurements({ROW_COLUMNS}) VALUES ({marks})", row
                )
                current += 1
        append_beside(self.path, records, self._warn)  # emissions.csv, CodeCarbon's columns
        return current

    def _current_ok(self, key: str) -> bool:
        row = self.conn.execute(
            "SELECT record FROM measurements WHERE key=? AND status='ok'", (key,)
        ).fetchone()
        return row is not None and _parse(row[0]) is not None

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
        """Remove keys from the current view; their attempts stay in the history."""
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
        """True when `key` has a readable successful row (a failed row does not count)."""
        rows = self._query("SELECT record FROM measurements WHERE key=? AND status='ok'", (key,))
        return bool(rows) and self._decode(rows[0][0], key) is not None

    def done_keys(self) -> set[str]:
        """Keys of readable successful rows: what a resumed sweep skips."""
        rows = self._query("SELECT key, record FROM measurements WHERE status='ok'")
        return {key for key, rec in rows if self._decode(rec, key) is not None}

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._query("SELECT COUNT(*) FROM measurements")[0][0]
        return self._query("SELECT COUNT(*) FROM measurements WHERE status=?", (status,))[0][0]

    def get(self, key: str) -> Measurement | None:
        """The current record of `key`; None when there is none or it cannot be read."""
        rows = self._query("SELECT record FROM measurements WHERE key=?", (key,))
        return self._decode(rows[0][0], key) if rows else None

    def get_for(self, config: MeasurementConfig) -> Measurement | None:
        """The current record of `config`'s key, its carbon and dollars converted for
        `config`'s country, PUE and prices (those are not in the key: a row measured under
        other conversions is reused, never measured again for them)."""
        record = self.get(config.key())
        return with_conversions(record, config) if record is not None else None

    def load(
        self, *, status: str | Sequence[str] | None = None, architecture: str | None = None
    ) -> list[Measurement]:
        """Every readable current record (oldest first), optionally only some statuses or one
        architecture; a damaged row is skipped with a warning."""
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
        records = (self._decode(rec, key) for key, rec in self._query(sql, params))
        return [r for r in records if r is not None]

    def _decode(self, text: str, key: str) -> Measurement | None:
        """The record, or None (and one warning naming the key) when the row is damaged."""
        try:
            return Measurement.from_dict(json.loads(text))
        except _DECODE_ERRORS as exc:
            if (str(self.path), key) not in _WARNED:
                _WARNED.add((str(self.path), key))
                why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                self._warn(
                    f"results database {self.path}: row {key} cannot be read ({why}); skipped "
                    "(the next sweep or `harness measure` measures it again)"
                )
            return None

    def history(self, architecture: str) -> list[Attempt]:
        """Every attempt at `architecture`'s configurations, newest first. Rows of the current
        view missing from the history (an older database read-only) are listed too."""
        current = {
            k: (c, s)
            for k, c, s in self._query(
                "SELECT key, created_at, status FROM measurements WHERE architecture=?",
                (architecture,),
            )
        }
        sql = (
            "SELECT created_at, key, status, created_at, record, 0 FROM measurements m "
            "WHERE architecture=?"
        )
        params: list[Any] = [architecture]
        if self.has_history:
            sql = (
                "SELECT saved_at, key, status, created_at, record, attempt FROM attempts WHERE "
                f"architecture=? UNION ALL {sql} AND NOT EXISTS (SELECT 1 FROM attempts a "
                "WHERE a.key=m.key AND a.created_at=m.created_at)"
            )
            params.append(architecture)
        out: list[Attempt] = []
        rows = self._query(sql + " ORDER BY 1 DESC, 6 DESC", params)
        for saved, key, status, created, text, _ in rows:
            is_current = current.get(key) == (created, status)
            if is_current:
                del current[key]  # the newest matching attempt is the current one
            rec = _parse(text)
            error = rec.error if rec is not None else "(the stored record cannot be read)"
            step = rec.timing.get("median_s") if rec is not None else None
            spread = (noisy_text(rec) or "") if rec is not None else ""
            out.append(Attempt(saved, key, status, error, step, is_current, spread))
        return out

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
        path, fmt = export_target(out, format)  # refused before the rows are loaded
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


def export_target(out: str | os.PathLike[str] | None, format: str | None) -> tuple[Path, str]:
    """(path, format) of an export: the format from `format`, else the suffix, else CSV; a
    suffix naming the other format is refused, and so is anything but a regular file or a new
    path (a device or FIFO), before any row is read."""
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
    writable_target(path, "pass another --out")
    return path, fmt


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


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _parse(text: str) -> Measurement | None:
    """The record a row holds, or None when it is damaged (no warning: callers decide)."""
    try:
        return Measurement.from_dict(json.loads(text))
    except _DECODE_ERRORS:
        return None
