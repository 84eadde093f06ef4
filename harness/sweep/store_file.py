"""The results database's file: refused before SQLite touches it when it cannot be used, and
opened read-only in a way that works on read-only media.

Why `immutable=1`: a database in WAL mode opened with `mode=ro` still needs its `-shm` file,
which SQLite cannot create in a folder it may not write (a read-only mount, a CD, a shared
archive); declaring the file immutable reads it without that file and without locks
(https://www.sqlite.org/uri.html, https://www.sqlite.org/wal.html#readonly). It is used only
where the file or its folder is not writable, so nobody this process could see is writing it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from harness.errors import HarnessError

SQLITE_HEADER = b"SQLite format 3\x00"


def check_path(p: Path, *, readonly: bool) -> None:
    """Refuse, before SQLite touches it, a path we cannot use or a file that is not SQLite."""
    if p.exists():
        if p.is_dir():
            raise HarnessError(f"results database {p} is a directory; pass a file path")
        try:
            with open(p, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise HarnessError(f"cannot read results database {p}: {exc.strerror}") from None
        if head and head != SQLITE_HEADER:
            raise HarnessError(
                f"{p} is not a SQLite database (corrupt or another kind of file); it was "
                "left untouched: move it aside or pass another --db"
            )
    elif readonly:
        raise HarnessError(f"no results database at {p}; run `harness measure` first or pass --db")
    if readonly:
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
    if not writable(p):
        raise HarnessError(
            f"results database {p} is not writable (permission denied or read-only media); "
            "pass a writable --db"
        )


def writable(p: Path) -> bool:
    """The folder can take new files and the file (if any) can be written."""
    folder_ok = os.access(p.parent, os.W_OK | os.X_OK)
    return folder_ok and (not p.exists() or os.access(p, os.W_OK))


def readonly_uri(p: Path) -> str:
    """A `file:` URI that opens `p` for reading only; immutable where nothing can write it."""
    resolved = p.resolve()
    query = "mode=ro" if writable(resolved) else "mode=ro&immutable=1"
    return f"file:{quote(str(resolved))}?{query}"


def connect(p: Path, *, readonly: bool, timeout_s: float) -> sqlite3.Connection:
    try:
        if readonly:
            return sqlite3.connect(
                readonly_uri(p), uri=True, timeout=timeout_s, isolation_level=None
            )
        return sqlite3.connect(p, timeout=timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        raise HarnessError(f"cannot open results database {p}: {exc}") from None
