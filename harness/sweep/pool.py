"""A local device pool: one configuration per slot (a GPU, or a share of the CPU) at a time.

The parent keeps one thread per busy slot, each supervising one worker process (`run_job`);
the database stays with the main thread, which claims a configuration before a slot starts it
(so slots, and other sweeps on the same database, never measure one twice), saves each record
as it arrives, and then drops the claim. Progress shows one line per slot: its configuration
and phase. Ctrl-C or SIGTERM stops every slot's worker; their rows say "interrupted".
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from harness.errors import one_line
from harness.launch.process import Job, run_job
from harness.pipeline.record import Measurement
from harness.sweep.claims import BUSY, DONE, Claims
from harness.sweep.slots import Slot

_POLL_S = 0.2


class _Lines:
    """One progress line per slot: tqdm bars on a terminal, else a line per change."""

    def __init__(self, slots: Sequence[Slot], runner: Any) -> None:
        self.write = runner.write
        self.bars: dict[str, Any] = {}
        if not runner.bar.disable:
            from harness.console import progress

            for i, slot in enumerate(slots, 1):
                self.bars[slot.name] = progress(
                    total=0, position=i, bar_format="{desc}", leave=False
                )
                self.bars[slot.name].set_description_str(f"{slot.name}: idle")

    def show(self, slot: Slot, text: str, *, log: bool = False) -> None:
        bar = self.bars.get(slot.name)
        if bar is not None:
            bar.set_description_str(f"{slot.name}: {text}", refresh=True)
        elif log:
            self.write(f"{slot.name}: {text}")

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run_slots(
    todo: list[tuple[str, Job]],
    runner: Any,
    claims: Claims,
    slots: Sequence[Slot],
    claim_for: Any,
) -> tuple[list[Measurement], int, int]:
    """Measure `todo` across `slots`; returns (records, already done, busy elsewhere).
    `runner` is the sweep's `_Runner`; `claim_for(runner, claims, key, job, slot)` claims."""
    pool = _Pool(todo, runner, claims, slots, claim_for)
    try:
        pool.run()
    except KeyboardInterrupt:
        pool.stop_all()
    finally:
        pool.lines.close()
        runner.bar.close()
    return pool.records, pool.skipped, pool.busy


class _Pool:
    """The pool's state: configurations waiting, free slots, running slot threads."""

    def __init__(self, todo, runner, claims: Claims, slots: Sequence[Slot], claim_for) -> None:
        self.waiting = deque(todo)
        self.runner, self.claims, self.slots, self.claim_for = runner, claims, slots, claim_for
        self.free = list(slots)
        self.done: queue.Queue[tuple[Slot, str, Job, Measurement, float]] = queue.Queue()
        self.stop = threading.Event()
        self.active: dict[str, threading.Thread] = {}
        self.lines = _Lines(slots, runner)
        self.records: list[Measurement] = []
        self.skipped = self.busy = 0

    def run(self) -> None:
        while self.waiting or self.active:
            while self.free and self.waiting and not self.stop.is_set():
                self.start_next()
            if not self.active:
                break
            try:
                finished = self.done.get(timeout=_POLL_S)
            except queue.Empty:
                self.runner.bar.refresh()
                continue
            self.finish(*finished)

    def start_next(self) -> None:
        """Claim the next free configuration for the first free slot and start it there."""
        runner = self.runner
        while self.waiting and not self.stop.is_set():
            key, job = self.waiting.popleft()
            outcome = self.claim_for(runner, self.claims, key, job, self.free[0].name)
            if outcome in (DONE, BUSY):
                self.skipped += outcome == DONE
                self.busy += outcome == BUSY
                runner.bar.update(1)
                continue
            slot = self.free.pop(0)
            self.lines.show(slot, f"{job.config.label()} (starting)", log=True)
            thread = threading.Thread(target=self.work, args=(slot, key, job), daemon=True)
            self.active[slot.name] = thread
            thread.start()
            return

    def work(self, slot: Slot, key: str, job: Job) -> None:
        """A slot's thread: one worker process, its record queued for the main thread."""
        t0 = time.monotonic()
        label = job.config.label()

        def tick() -> None:
            if self.stop.is_set():  # inside run_job's loop: it kills the worker and re-raises
                raise KeyboardInterrupt

        try:
            rec = run_job(
                job,
                key=key,
                target=self.runner.target,
                log_path=self.runner.log_path(job, key),
                on_phase=lambda p: self.lines.show(slot, f"{label} ({p})"),
                on_tick=tick,
                env=slot.env,
            )
        except KeyboardInterrupt:
            rec = _interrupted(job, key)
        except BaseException as exc:  # noqa: BLE001 - a slot's failure is its row's error
            why = one_line(f"{type(exc).__name__}: {exc}")
            rec = Measurement.create(job.config, status="error", key=key, error=why)
        self.done.put((slot, key, job, rec, time.monotonic() - t0))

    def finish(self, slot: Slot, key: str, job: Job, rec: Measurement, took: float) -> None:
        self.active.pop(slot.name).join()
        self.records.append(
            _save(self.runner, self.claims, slot, len(self.slots), key, job, rec, took, self.lines)
        )
        self.free.append(slot)
        if rec.status == "interrupted":
            self.stop.set()
            self.runner.interrupted = True

    def stop_all(self) -> None:
        """Ctrl-C or SIGTERM: every slot's worker killed, its row kept as interrupted."""
        self.stop.set()
        self.runner.interrupted = True
        for thread in list(self.active.values()):
            thread.join()
        while not self.done.empty():
            self.finish(*self.done.get())


def _save(
    runner: Any,
    claims: Claims,
    slot: Slot,
    n_slots: int,
    key: str,
    job: Job,
    rec: Measurement,
    took: float,
    lines: _Lines,
) -> Measurement:
    """Save a slot's record with the pool it ran in, then drop its claim."""
    try:
        if rec.status != "interrupted":
            rec = runner.complete(rec, job, slot)
        rec = rec.replace(environment={**rec.environment, "pool": slot.describe(n_slots)})
        where = runner.store(rec)
    finally:
        with runner.db.busy_timeout(runner.retry.busy_s):
            claims.release(key)
    outcome = "ok" if rec.ok else f"{rec.status}: {rec.error}"
    runner.bar.update(1)
    lines.show(slot, "idle")
    runner.write(f"[{slot.name}] {job.config.label()}: {outcome} ({took:.1f} s){where}")
    return rec


def _interrupted(job: Job, key: str) -> Measurement:
    return Measurement.create(
        job.config,
        status="interrupted",
        key=key,
        error="interrupted (Ctrl-C or SIGTERM) before it finished; rerun to measure it",
    )
