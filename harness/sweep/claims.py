"""Claims: which sweep is measuring which configuration right now, so that several sweeps on
one database (processes on one node, slots of a device pool) never measure one twice.

A claim is a row of the `claims` table with status "running", its owner
(`host:pid:random`), and a heartbeat (Unix seconds) that the owning sweep refreshes from a
thread while its worker measures. A sweep claims a configuration in one `BEGIN IMMEDIATE`
transaction (SQLite takes the write lock at BEGIN, so two sweeps cannot both see the key free:
https://www.sqlite.org/lang_transaction.html); it skips a key that is done or claimed by a
live owner, and takes over a claim whose heartbeat is older than the stale timeout (its owner
was killed, or its node went down), or at once when the owner ran on this host and its
process is gone (a sweep killed with SIGKILL and started again). The claim is dropped after
the record is saved, so the next sweep to look finds the key done rather than free.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigurationError, HarnessError

DEFAULT_STALE_S = 120.0  # a claim not refreshed for this long belongs to a dead sweep
STALE_ENV = "HARNESS_CLAIM_TIMEOUT_S"
CLAIMED, DONE, BUSY, TAKEN_OVER = "claimed", "done", "busy", "taken over"
UNCLAIMED = "unclaimed"  # the database could not take the claim; measured all the same


def new_owner() -> str:
    """`host:pid:random`: unique across the nodes and processes sharing a database."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True when `owner` ran on this host and its process is gone (a sweep killed with
    SIGKILL): its claim is taken over at once instead of after the stale timeout. An owner on
    another host, or whose pid is alive, counts as alive until its heartbeat goes stale."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def stale_seconds(given: float | None = None) -> float:
    """The stale timeout: `given`, else $HARNESS_CLAIM_TIMEOUT_S, else 120 s."""
    raw = given if given is not None else os.environ.get(STALE_ENV)
    try:
        value = DEFAULT_STALE_S if raw is None else float(raw)
    except ValueError:
        raise ConfigurationError(f"{STALE_ENV}={raw!r} is not a number of seconds") from None
    if not value > 0:
        raise ConfigurationError(f"the claim timeout must be positive seconds, got {raw!r}")
    return value


@dataclass(frozen=True)
class Claim:
    """A configuration some sweep is measuring."""

    key: str
    architecture: str
    owner: str
    slot: str
    heartbeat: float  # Unix seconds of the last sign of life

    def age_s(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.heartbeat


class Claims:
    """The claims of one sweep (`owner`) on an open read-write connection. `done(key)` says
    whether a key is measured already (the store's: a readable "ok" row)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        owner: str | None = None,
        *,
        stale_s: float | None = None,
        clock: Callable[[], float] = time.time,
        done: Callable[[str], bool] | None = None,
    ) -> None:
        self.conn = conn
        self.done = done or self._has_ok_row
        self.owner = owner or new_owner()
        self.stale_s = stale_seconds(stale_s)
        self.clock = clock
        self.previous: dict[str, str] = {}  # key -> the dead owner a claim was taken from

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise HarnessError(f"cannot claim a configuration: {exc}; try again") from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def claim(self, key: str, architecture: str, *, slot: str = "", force: bool = False) -> str:
        """CLAIMED, TAKEN_OVER (from a dead owner), DONE (an ok row exists; not with `force`)
        or BUSY (a live owner measures it)."""
        now = self.clock()
        with self._immediate() as conn:
            if not force and self.done(key):
                return DONE
            row = conn.execute("SELECT owner, heartbeat FROM claims WHERE key=?", (key,)).fetchone()
            outcome = CLAIMED
            if row is not None and row[0] != self.owner:
                if now - float(row[1]) < self.stale_s and not owner_is_dead(row[0]):
                    return BUSY
                outcome = TAKEN_OVER
                self.previous[key] = row[0]
            conn.execute(
                "INSERT OR REPLACE INTO claims(key, status, architecture, owner, slot, "
                "claimed_at, heartbeat) VALUES (?, 'running', ?, ?, ?, ?, ?)",
                (key, architecture, self.owner, slot, now, now),
            )
        return outcome

    def _has_ok_row(self, key: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM measurements WHERE key=? AND status='ok'", (key,))
        return row.fetchone() is not None

    def release(self, key: str) -> None:
        """Drop this sweep's claim on `key` (after its record is saved, or on a failure)."""
        with contextlib.suppress(HarnessError, sqlite3.Error), self._immediate() as conn:
            conn.execute("DELETE FROM claims WHERE key=? AND owner=?", (key, self.owner))

    def mine(self) -> list[str]:
        rows = self.conn.execute("SELECT key FROM claims WHERE owner=?", (self.owner,))
        return [r[0] for r in rows.fetchall()]


def beat(conn: sqlite3.Connection, owner: str, now: float) -> int:
    """Refresh every claim of `owner`; returns how many."""
    cur = conn.execute("UPDATE claims SET heartbeat=? WHERE owner=?", (now, owner))
    return cur.rowcount


def running(conn: sqlite3.Connection) -> list[Claim]:
    """Every claim (live or stale), oldest heartbeat first; none in a database without the
    table (one written before claims existed)."""
    try:
        rows = conn.execute(
            "SELECT key, architecture, owner, slot, heartbeat FROM claims ORDER BY heartbeat"
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [Claim(k, a, o, s or "", float(h)) for k, a, o, s, h in rows]


class Heartbeat:
    """A daemon thread that refreshes one owner's claims every `interval_s` on its own
    connection (a sqlite3 connection belongs to its thread). A beat that fails (the database
    briefly locked) is tried again at the next interval; the stale timeout is many intervals."""

    def __init__(self, path: Path, owner: str, interval_s: float) -> None:
        self.path, self.owner, self.interval_s = path, owner, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="harness-heartbeat", daemon=True)
        self.beats = 0

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self.interval_s, isolation_level=None)
        try:
            while not self._stop.wait(self.interval_s):
                with contextlib.suppress(sqlite3.Error):
                    beat(conn, self.owner, time.time())
                    self.beats += 1
        finally:
            conn.close()
