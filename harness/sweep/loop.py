"""Sweeps: every measurement in its own process, every outcome a row, resumable.

The parent only orchestrates and records. Each configuration runs in a fresh worker process
(`python -m harness.launch.process --worker TARGET FD PARENT_PID`) in its own process group: the
config goes in on stdin as JSON; progress phases and the finished record come back as JSON
lines on a dedicated pipe (so whatever the model prints cannot corrupt them); the worker's
own stdout and stderr go to a log. A crash (non-zero exit, a signal such as SIGSEGV or the
out-of-memory killer's SIGKILL), a hang (the timeout kills the whole group) or an exception
costs one row with its status and a one-line error, never the sweep. A configuration with
`world_size` N > 1 runs its N ranks under torchrun instead (`harness.launch.torchrun`), or is
an "error" row saying why it cannot; it is never timed in one process and billed as N.

Claims: several sweeps may share one database (processes, nodes, the slots of a device pool):
each configuration is claimed before it is measured and skipped while another live sweep holds
it (`harness.sweep.claims`), so each is measured once; a dead sweep's claim is taken over once
its heartbeat is older than the claim timeout.

Resumption: a configuration whose key already has a readable "ok" row is skipped (`force`
redoes it, and keeps the old row current until the new one is "ok"); rows are written by the
parent one transaction per measurement, so a sweep killed at any moment keeps every finished
row and the next run does the rest. A worker dies with its parent. Ctrl-C (or SIGTERM) kills
the running worker, records it as "interrupted", and stops.

Saving: the database is opened (and a bad one refused) before anything is measured. A save
that fails (a lock held by another process, a full disk) is retried with backoff for about a
minute (`SaveRetry`); then the record goes to a recovery file beside the database and the
sweep goes on: a failure to save costs that row's place in the database, never the record or
the sweep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, one_line
from harness.hardware.environment import capture_environment
from harness.launch.process import DEFAULT_TARGET, DEFAULT_TIMEOUT_S, Job, run_job
from harness.output_files import ensure_folder, open_log
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.claims import BUSY, DONE, TAKEN_OVER, UNCLAIMED, Claims, Heartbeat
from harness.sweep.recovery import write_recovery
from harness.sweep.slots import Slot, check_devices
from harness.sweep.store import ResultStore
from harness.vocab import STATUSES


@dataclass(frozen=True)
class SaveRetry:
    """How a sweep retries a save: `tries` attempts, each waiting up to `busy_s` for another
    process's lock, with `waits_s` between them (about a minute in all by default); `sleep` is
    injectable so that tests take milliseconds."""

    tries: int = 4
    busy_s: float = 10.0
    waits_s: tuple[float, ...] = (2.0, 5.0, 10.0)
    sleep: Callable[[float], None] = time.sleep

    def wait(self, failed_tries: int) -> float:
        return self.waits_s[min(failed_tries, len(self.waits_s)) - 1] if self.waits_s else 0.0


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: this run's records, what it skipped, whether it was interrupted."""

    db_path: Path
    total: int  # distinct configurations in the sweep
    skipped: int  # already done (status "ok") before or during this run
    records: tuple[Measurement, ...] = field(default_factory=tuple)
    interrupted: bool = False
    recovered: tuple[Path, ...] = ()  # recovery files of records the database did not take
    busy: int = 0  # claimed by another live sweep: measured there, not here

    def count(self, status: str) -> int:
        return sum(1 for r in self.records if r.status == status)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.records if r.status != "ok")

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in STATUSES if self.count(s)]
        ran = ", ".join(parts) if parts else "nothing run"
        text = f"{self.total} configurations: {ran}, {self.skipped} already done; results in {self.db_path}"
        if self.busy:
            text += f"; {self.busy} being measured by another sweep (skipped here)"
        if self.recovered:
            text += (
                f"; {len(self.recovered)} not saved there, kept as recovery files beside it "
                f"(first: {self.recovered[0]})"
            )
        if self.interrupted:
            text += "; interrupted: rerun the same command to resume"
        return text


# --------------------------------------------------------------------------------------------
# The sweep (parent side)
# --------------------------------------------------------------------------------------------


def run_sweep(
    jobs: Iterable[Job | MeasurementConfig],
    store: ResultStore | str | os.PathLike[str] | None = None,
    *,
    target: str = DEFAULT_TARGET,
    force: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    log_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    echo: Callable[[str], None] | None = None,
    save_retry: SaveRetry | None = None,
    claim_timeout_s: float | None = None,
    slots: Sequence[Slot] | None = None,
) -> SweepResult:
    """Run every job not yet done, each in its own worker, saving each record as it finishes.

    `store` is a ResultStore or a database path (default `reports/results.sqlite`).
    `target` is the `module:function` (or `file.py:function`) a worker calls as
    `function(config, phase=callback) -> Measurement`. Bare configs get `timeout_s`.
    `log_dir` keeps each worker's output as `<architecture>-<key>.log` (default: discarded
    after its last lines are read for the error message). `progress` None shows a bar when
    stderr is a terminal. `echo` receives the one-line messages (default: stderr).
    `save_retry` says how a failed save is retried before the record goes to a recovery file.
    `claim_timeout_s`: a claim whose heartbeat is older than this belongs to a dead sweep and
    is taken over (default $HARNESS_CLAIM_TIMEOUT_S, else 120 s).
    `slots` (a device pool, `harness.sweep.slots`) runs one job per slot at a time.
    """
    say = echo or _stderr
    own_store = not isinstance(store, ResultStore)
    db = ResultStore(store) if own_store else store  # type: ignore[arg-type]
    try:
        keyed = _distinct(jobs, timeout_s)
        if slots:
            check_devices(sorted({j.config.device for _, j in keyed}), slots)
        done = set() if force else db.done_keys()
        todo = [(k, j) for k, j in keyed if k not in done]
        skipped = len(keyed) - len(todo)
        if skipped:
            say(
                f"{skipped} of {len(keyed)} configurations already measured in {db.path} "
                "(skipped; --force measures them again)"
            )
        runner = _Runner(
            db,
            len(todo),
            target=target,
            force=force,
            log_dir=log_dir,
            progress=progress,
            say=say,
            retry=save_retry or SaveRetry(),
        )
        records, done_here, busy = _claimed(todo, runner, claim_timeout_s, slots)
        skipped += done_here
        interrupted = runner.interrupted
        result = SweepResult(
            db.path,
            len(keyed),
            skipped,
            tuple(records),
            interrupted,
            tuple(runner.recovered),
            busy,
        )
        if interrupted:
            saved = db.count("ok")
            say(
                f"interrupted: {saved} finished measurements are kept in {db.path}; "
                "rerun the same command to resume"
            )
        return result
    finally:
        if own_store:
            db.close()


class _Runner:
    """One sweep's running state: the progress bar, the store, and environments by device."""

    def __init__(
        self,
        db: ResultStore,
        n: int,
        *,
        target: str,
        force: bool,
        log_dir,
        progress,
        say,
        retry: SaveRetry,
    ):
        from harness.console import progress as progress_bar

        bar_kwargs: dict[str, Any] = {"total": n, "unit": "run", "leave": True}
        if progress is not None:
            bar_kwargs["disable"] = not progress
        self.bar = progress_bar(**bar_kwargs)
        self.write = self.bar.write if not self.bar.disable else say
        self.say, self.db, self.n = say, db, n
        self.target, self.force, self.log_dir = target, force, log_dir
        self.envs: dict[str, dict[str, Any]] = {}
        self.interrupted = False
        self.retry = retry
        self.recovered: list[Path] = []

    def environment(self, device: str) -> dict[str, Any]:
        if device not in self.envs:
            try:
                self.envs[device] = capture_environment(device)
            except Exception as exc:  # the row matters more than its environment
                self.envs[device] = {"error": one_line(f"environment capture failed: {exc}")}
        return self.envs[device]

    def complete(self, rec: Measurement, job: Job, slot: Slot | None = None) -> Measurement:
        """A failure row still says what it was and where it ran: in a GPU pool, on the GPU its
        worker was pinned to (its `cuda:0`), which is `cuda:<slot.gpu_index>` here."""
        if rec.ok or rec.status == "interrupted":  # no slow imports while the user waits
            return rec
        changes: dict[str, Any] = {}
        pinned = slot.pinned_gpu() if slot is not None else {}
        if not rec.environment and pinned:
            here = self.environment(f"cuda:{pinned['gpu_index']}")
            changes["environment"] = {**here, "device": job.config.device, **pinned}
        elif not rec.environment:
            changes["environment"] = self.environment(job.config.device)
        if job.architecture is None and len(rec.architecture) <= 1:
            changes["architecture"] = _describe(job.config)  # may import the zoo: failures only
        return rec.replace(**changes) if changes else rec

    def log_path(self, job: Job, key: str) -> Path | None:
        return _log_path(self, job, key)

    def attempt(self, i: int, key: str, job: Job) -> Measurement:
        """Run one job in its worker; Ctrl-C or SIGTERM makes an `interrupted` row."""
        bar = self.bar
        bar.set_description_str(f"{i}/{self.n} {job.config.architecture}", refresh=False)
        bar.set_postfix_str("starting", refresh=True)
        if bar.disable:
            self.say(f"[{i}/{self.n}] {job.config.label()}: running")
        try:
            if job.config.world_size > 1:  # N ranks under torchrun, never one process
                bar.set_postfix_str(f"torchrun, {job.config.world_size} ranks", refresh=True)
                return _run_distributed(job, key, self.target, _log_path(self, job, key))
            return run_job(
                job,
                key=key,
                target=self.target,
                log_path=_log_path(self, job, key),
                on_phase=lambda p: bar.set_postfix_str(p, refresh=True),
                on_tick=bar.refresh,
            )
        except KeyboardInterrupt:
            self.interrupted = True
            return Measurement.create(
                job.config,
                status="interrupted",
                key=key,
                error="interrupted (Ctrl-C or SIGTERM) before it finished; rerun to measure it",
            )

    def save(self, i: int, rec: Measurement, job: Job, took: float) -> Measurement:
        self.bar.set_postfix_str(f"saving ({rec.status})", refresh=True)
        rec = self.complete(rec, job)
        with _deferred_signals():
            where = self.store(rec)
        outcome = "ok" if rec.ok else f"{rec.status}: {rec.error}"
        self.write(f"[{i}/{self.n}] {job.config.label()}: {outcome} ({took:.1f} s){where}")
        self.bar.update(1)
        return rec

    def store(self, rec: Measurement) -> str:
        """Save with retries; then a recovery file. Returns a note for the progress line."""
        retry, error = self.retry, None
        for tries in range(1, max(1, retry.tries) + 1):
            try:
                with self.db.busy_timeout(retry.busy_s):
                    current = self.db.put(rec)
                if rec.ok or current:
                    return ""
                return "; the earlier ok row stays current (this attempt is in its history)"
            except HarnessError as exc:
                error = exc
                if tries < retry.tries:
                    wait = retry.wait(tries)
                    self.write(f"saving {rec.key} failed ({exc}); retrying in {wait:g} s")
                    retry.sleep(wait)
        path = write_recovery(self.db.path, rec)
        self.recovered.append(path)
        return f"; NOT SAVED ({error}): the record is kept in {path}"


def _distinct(jobs: Iterable[Job | MeasurementConfig], timeout_s: float) -> list[tuple[str, Job]]:
    """(key, job) once per key, in order; bare configs get `timeout_s`."""
    keyed: list[tuple[str, Job]] = []
    seen: set[str] = set()
    for j in jobs:
        job = j if isinstance(j, Job) else Job(j, timeout_s)
        key = job.config.key()
        if key not in seen:
            seen.add(key)
            keyed.append((key, job))
    return keyed


def _claimed(
    todo: list[tuple[str, Job]],
    runner: _Runner,
    claim_timeout_s: float | None,
    slots: Sequence[Slot] | None,
) -> tuple[list[Measurement], int, int]:
    """Run `todo` one at a time or across a pool's slots, with claims kept alive by a
    heartbeat; returns (records, found done meanwhile, busy in another sweep)."""
    db = runner.db
    claims = Claims(db.conn, stale_s=claim_timeout_s, done=db.has)
    with Heartbeat(db.path, claims.owner, heartbeat_interval(claims.stale_s)):
        if not slots:
            return _run_all(todo, runner, claims, skipped=0)
        from harness.sweep.pool import run_slots

        with _signals_as_interrupt():
            return run_slots(todo, runner, claims, slots, claim_for)


def heartbeat_interval(stale_s: float) -> float:
    """A quarter of the claim timeout, at most 15 s: a live sweep misses several beats before
    its claims look dead."""
    return min(15.0, stale_s / 4)


def claim_for(runner: _Runner, claims: Claims, key: str, job: Job, slot: str = "") -> str:
    """Claim `key` for this sweep; a takeover from a dead sweep is said. A claim the database
    cannot take (its lock held past the save's busy wait) costs the claim, with a warning,
    never the measurement."""
    try:
        with runner.db.busy_timeout(runner.retry.busy_s):
            outcome = claims.claim(key, job.config.architecture, slot=slot, force=runner.force)
    except HarnessError as exc:
        runner.write(f"warning: {job.config.label()}: measured without a claim ({exc})")
        return UNCLAIMED
    if outcome == TAKEN_OVER:
        runner.write(
            f"{job.config.label()}: taking over from {claims.previous[key]}, whose heartbeat "
            f"is older than {claims.stale_s:g} s"
        )
    return outcome


def _run_all(
    todo: list[tuple[str, Job]], runner: _Runner, claims: Claims, *, skipped: int
) -> tuple[list[Measurement], int, int]:
    records: list[Measurement] = []
    busy = 0
    try:
        with _signals_as_interrupt():
            for i, (key, job) in enumerate(todo, 1):
                outcome = claim_for(runner, claims, key, job)
                if outcome in (DONE, BUSY):  # a concurrent sweep finished it, or measures it
                    skipped += outcome == DONE
                    busy += outcome == BUSY
                    runner.bar.update(1)
                    continue
                try:
                    t0 = time.monotonic()
                    rec = runner.attempt(i, key, job)
                    records.append(runner.save(i, rec, job, time.monotonic() - t0))
                finally:
                    with runner.db.busy_timeout(runner.retry.busy_s):
                        claims.release(key)
                if runner.interrupted:
                    break
    except KeyboardInterrupt:
        runner.interrupted = True
    finally:
        runner.bar.close()
    return records, skipped, busy


def _run_distributed(job: Job, key: str, target: str, log_path: Path | None) -> Measurement:
    """A `world_size` > 1 configuration: its ranks under torchrun, their output in the log."""
    from harness.launch.torchrun import run_distributed_job

    try:
        output = open_log(log_path) if log_path is not None else open(os.devnull, "wb")  # noqa: SIM115
    except (HarnessError, OSError):
        output = open(os.devnull, "wb")  # noqa: SIM115 - a log that cannot be opened costs the log
    with output:
        return run_distributed_job(job, key, target=target, output=output)


def _describe(config: MeasurementConfig) -> dict[str, Any]:
    """The architecture's summary for a row, or just its name if it does not resolve."""
    try:
        return config.resolve_architecture().summary()
    except Exception:
        return {"name": config.architecture}


def _log_path(runner: _Runner, job: Job, key: str) -> Path | None:
    """Where the worker's output is kept. A log folder that cannot be created costs the logs,
    with one warning, never the sweep: the worker's last lines still reach a failure row."""
    if runner.log_dir is None:
        return None
    try:
        folder = ensure_folder(runner.log_dir, "log folder", "worker output is not kept")
    except HarnessError as exc:
        runner.write(f"warning: {exc}")
        runner.log_dir = None
        return None
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.config.architecture)
    return folder / f"{safe[-60:]}-{key}.log"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (kill the worker, keep the rows, stop)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _deferred_signals() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a finished row is saved; they arrive right after."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
