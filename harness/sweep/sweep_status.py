"""How far a sweep has got, read from its databases: rows done, failed and being measured,
per shard of a cluster array (`<results>.shards/plan.json` lists them) or for one database."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.sweep.claims import running, stale_seconds
from harness.sweep.cluster import PLAN_NAME, shards_folder
from harness.sweep.store import ResultStore


@dataclass(frozen=True)
class Progress:
    """One database's progress; `total` is known for a shard of a submitted array."""

    name: str
    path: Path
    total: int | None
    ok: int = 0
    failed: int = 0
    running: int = 0
    stale: int = 0  # claims whose sweep stopped beating: taken over by the next sweep
    note: str = ""

    @property
    def left(self) -> int | None:
        return None if self.total is None else max(0, self.total - self.ok - self.running)

    def row(self) -> dict[str, object]:
        blank = "" if self.total is None else self.total
        return {
            "shard": self.name,
            "total": blank,
            "ok": self.ok,
            "failed": self.failed,
            "running": self.running,
            "stale": self.stale,
            "left": "" if self.left is None else self.left,
            "note": self.note,
        }


def read_progress(name: str, path: Path, total: int | None) -> Progress:
    """A database's counts; one not there yet (a shard still queued) has none."""
    if not path.exists():
        return Progress(name, path, total, note="not started")
    try:
        with ResultStore(path, readonly=True, timeout_s=5.0) as store:
            ok, rows = store.count("ok"), store.count()
            claims = running(store.conn)
    except HarnessError as exc:
        return Progress(name, path, total, note=str(exc)[:80])
    except sqlite3.Error as exc:  # a write in progress on a network file system
        return Progress(name, path, total, note=f"busy ({exc})")
    limit, now = stale_seconds(), time.time()
    live = sum(1 for c in claims if c.age_s(now) < limit)
    return Progress(name, path, total, ok, rows - ok, live, len(claims) - live)


def sweep_progress(results: Path) -> list[Progress]:
    """Each shard of the array submitted for `results`, else `results` itself."""
    plan_path = shards_folder(results) / PLAN_NAME
    if plan_path.exists():
        plan = json.loads(plan_path.read_text())
        return [
            read_progress(
                f"{i}/{plan['tasks']}", Path(plan["databases"][str(i)]), plan["totals"][str(i)]
            )
            for i in range(int(plan["tasks"]))
        ]
    if not results.exists():
        raise HarnessError(
            f"no results database at {results} and no cluster array for it; pass the --db "
            "the sweep writes"
        )
    return [read_progress("-", results, None)]
