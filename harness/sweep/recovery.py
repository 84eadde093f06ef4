"""Recovery files: a finished measurement the database would not take, kept as JSON.

A measurement can take hours; a database that is locked, full or gone when it ends must not
cost it. The record goes to `<database>.recovered-<key>-<time>.json` beside the database (or,
where that folder cannot be written, the system's temporary folder), written whole or not at
all, and `read_recovery` turns the file back into the record.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from harness.errors import HarnessError
from harness.pipeline.record import Measurement


def recovery_name(db_path: Path, key: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
    return f"{db_path.name}.recovered-{safe}-{stamp}.json"


def write_recovery(db_path: Path, record: Measurement) -> Path:
    """Write `record` beside `db_path`, else in the temporary folder; returns where it went."""
    name = recovery_name(db_path, record.key)
    text = json.dumps(record.to_dict(), indent=1, default=str)
    errors = []
    for folder in (db_path.parent, Path(tempfile.gettempdir())):
        try:
            return _write_whole(folder / name, text)
        except OSError as exc:
            errors.append(f"{folder}: {exc.strerror or exc}")
    raise HarnessError(
        f"could not write the record of {record.key} anywhere ({'; '.join(errors)}); "
        "free some space or make a folder writable and measure again"
    )


def _write_whole(path: Path, text: str) -> Path:
    """A temporary file renamed into place: a crash leaves no half-written record."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_recovery(path: str | os.PathLike[str]) -> Measurement:
    """The record a recovery file holds."""
    try:
        return Measurement.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read recovery file {path}: {exc}") from None
