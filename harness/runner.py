"""Sweeps: every measurement in its own process, every outcome a row, resumable.

The parent only orchestrates and records. Each configuration runs in a fresh worker process
(`python -m harness.runner --worker TARGET FD PARENT_PID`) in its own process group: the
config goes in on stdin as JSON; progress phases and the finished record come back as JSON
lines on a dedicated pipe (so whatever the model prints cannot corrupt them); the worker's
own stdout and stderr go to a log. A crash (non-zero exit, a signal such as SIGSEGV or the
out-of-memory killer's SIGKILL), a hang (the timeout kills the whole group) or an exception
costs one row with its status and a one-line error, never the sweep.

Resumption: a configuration whose key already has an "ok" row is skipped (`force` redoes it);
rows are written by the parent one transaction per measurement, so a sweep killed at any
moment keeps every finished row and the next run does the rest. A worker dies with its parent.
Ctrl-C (or SIGTERM) kills the running worker, records it as "interrupted", and stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.errors import HarnessError
from harness.records import STATUSES, Measurement, MeasurementConfig, capture_environment, one_line
from harness.store import ResultStore

DEFAULT_TARGET = "harness.measure:measure_config"
DEFAULT_TIMEOUT_S = 1800.0
EXIT_GRACE_S = 10.0  # a worker that sent its result but does not exit is killed after this
_POLL_S = 0.25


@dataclass(frozen=True)
class Job:
    """One configuration of a sweep, its time limit, and (for failure rows) the architecture's
    summary, so a row that never ran still says what it was."""

    config: MeasurementConfig
    timeout_s: float = DEFAULT_TIMEOUT_S
    architecture: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout_s, (int, float)) and self.timeout_s > 0):
            raise HarnessError(f"{self.config.architecture}: timeout must be positive seconds")


@dataclass(frozen=True)
class SweepResult:
    """What a sweep did: this run's records, what it skipped, whether it was interrupted."""

    db_path: Path
    total: int  # distinct configurations in the sweep
    skipped: int  # already done (status "ok") before or during this run
    records: tuple[Measurement, ...] = field(default_factory=tuple)
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.records if r.status == status)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.records if r.status != "ok")

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in STATUSES if self.count(s)]
        ran = ", ".join(parts) if parts else "nothing run"
        text = f"{self.total} configurations: {ran}, {self.skipped} already done; results in {self.db_path}"
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
) -> SweepResult:
    """Run every job not yet done, each in its own worker, saving each record as it finishes.

    `store` is a ResultStore or a database path (default `reports/results.sqlite`).
    `target` is the `module:function` (or `file.py:function`) a worker calls as
    `function(config, phase=callback) -> Measurement`. Bare configs get `timeout_s`.
    `log_dir` keeps each worker's output as `<architecture>-<key>.log` (default: discarded
    after its last lines are read for the error message). `progress` None shows a bar when
    stderr is a terminal. `echo` receives the one-line messages (default: stderr).
    """
    say = echo or _stderr
    own_store = not isinstance(store, ResultStore)
    db = ResultStore(store) if own_store else store  # type: ignore[arg-type]
    try:
        keyed: list[tuple[str, Job]] = []
        seen: set[str] = set()
        for j in jobs:
            job = j if isinstance(j, Job) else Job(j, timeout_s)
            key = job.config.key()
            if key not in seen:
                seen.add(key)
                keyed.append((key, job))
        done = set() if force else db.done_keys()
        todo = [(k, j) for k, j in keyed if k not in done]
        skipped = len(keyed) - len(todo)
        if skipped:
            say(
                f"{skipped} of {len(keyed)} configurations already measured in {db.path} "
                "(skipped; --force measures them again)"
            )
        records, interrupted, skipped = _run_all(
            todo,
            db,
            target=target,
            force=force,
            log_dir=log_dir,
            progress=progress,
            say=say,
            skipped=skipped,
        )
        result = SweepResult(db.path, len(keyed), skipped, tuple(records), interrupted)
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


def _run_all(
    todo: list[tuple[str, Job]],
    db: ResultStore,
    *,
    target: str,
    force: bool,
    log_dir: str | os.PathLike[str] | None,
    progress: bool | None,
    say: Callable[[str], None],
    skipped: int,
) -> tuple[list[Measurement], bool, int]:
    from harness.console import progress as progress_bar

    n = len(todo)
    bar_kwargs: dict[str, Any] = {"total": n, "unit": "run", "leave": True}
    if progress is not None:
        bar_kwargs["disable"] = not progress
    bar = progress_bar(**bar_kwargs)
    write = bar.write if not bar.disable else say
    records: list[Measurement] = []
    envs: dict[str, dict[str, Any]] = {}
    interrupted = False

    def environment(device: str) -> dict[str, Any]:
        if device not in envs:
            try:
                envs[device] = capture_environment(device)
            except Exception as exc:  # the row matters more than its environment
                envs[device] = {"error": one_line(f"environment capture failed: {exc}")}
        return envs[device]

    def complete(rec: Measurement, job: Job) -> Measurement:
        """A failure row still says what it was and where it ran."""
        if rec.ok or rec.status == "interrupted":  # no slow imports while the user waits
            return rec
        changes: dict[str, Any] = {}
        if not rec.environment:
            changes["environment"] = environment(job.config.device)
        if job.architecture is None and len(rec.architecture) <= 1:
            changes["architecture"] = _describe(job.config)  # may import the zoo: failures only
        return rec.replace(**changes) if changes else rec

    try:
        with _signals_as_interrupt():
            for i, (key, job) in enumerate(todo, 1):
                label = job.config.label()
                if not force and db.has(key):  # a concurrent sweep finished it meanwhile
                    skipped += 1
                    bar.update(1)
                    continue
                bar.set_description_str(f"{i}/{n} {job.config.architecture}", refresh=False)
                bar.set_postfix_str("starting", refresh=True)
                if bar.disable:
                    say(f"[{i}/{n}] {label}: running")
                log_path = _log_path(log_dir, job, key)
                t0 = time.monotonic()
                try:
                    rec = run_job(
                        job,
                        key=key,
                        target=target,
                        log_path=log_path,
                        on_phase=lambda p: bar.set_postfix_str(p, refresh=True),
                        on_tick=bar.refresh,
                    )
                except KeyboardInterrupt:
                    rec = Measurement.create(
                        job.config,
                        status="interrupted",
                        key=key,
                        error="interrupted (Ctrl-C or SIGTERM) before it finished; rerun to measure it",
                    )
                    interrupted = True
                bar.set_postfix_str(f"saving ({rec.status})", refresh=True)
                rec = complete(rec, job)
                with _deferred_signals():
                    db.put(rec, overwrite=force and not interrupted)
                records.append(rec)
                took = time.monotonic() - t0
                outcome = "ok" if rec.ok else f"{rec.status}: {rec.error}"
                write(f"[{i}/{n}] {label}: {outcome} ({took:.1f} s)")
                bar.update(1)
                if interrupted:
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    return records, interrupted, skipped


def _describe(config: MeasurementConfig) -> dict[str, Any]:
    """The architecture's summary for a row, or just its name if it does not resolve."""
    try:
        return config.resolve_architecture().summary()
    except Exception:
        return {"name": config.architecture}


def _log_path(log_dir: str | os.PathLike[str] | None, job: Job, key: str) -> Path | None:
    if log_dir is None:
        return None
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.config.architecture)
    return Path(log_dir) / f"{safe[-60:]}-{key}.log"


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


# --------------------------------------------------------------------------------------------
# One job in one worker (parent side)
# --------------------------------------------------------------------------------------------


def run_job(
    job: Job | MeasurementConfig,
    *,
    key: str | None = None,
    target: str = DEFAULT_TARGET,
    log_path: str | os.PathLike[str] | None = None,
    on_phase: Callable[[str], None] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> Measurement:
    """Run one configuration in a fresh worker process and return its record.

    Never raises for what happens inside the worker: an exception gives status "error", a
    timeout "timeout" (the worker's process group is killed), a crash "crashed". A
    KeyboardInterrupt in the parent kills the worker and propagates. Failure records carry
    no environment or architecture summary; `run_sweep` adds them.
    """
    if isinstance(job, MeasurementConfig):
        job = Job(job)
    key = key or job.config.key()
    log_file: IO[bytes]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "w+b")  # noqa: SIM115 - closed below
    else:
        log_file = tempfile.TemporaryFile()  # noqa: SIM115
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.runner",
                "--worker",
                target,
                str(wfd),
                str(os.getpid()),
            ],
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(wfd,),
            start_new_session=True,  # its own process group: the timeout kills all of it
            env=_worker_env(),
        )
    except OSError as exc:
        os.close(rfd)
        os.close(wfd)
        log_file.close()
        raise HarnessError(f"cannot start a worker process: {exc}") from None
    os.close(wfd)
    try:
        outcome = _supervise(proc, rfd, job, on_phase, on_tick)
    finally:
        os.close(rfd)
        _kill_group(proc)
    log_tail = _tail(log_file)
    log_file.close()
    where = f" (log: {log_path})" if log_path is not None else ""
    return _record(job, key, proc.returncode, outcome, log_tail, where)


@dataclass
class _Outcome:
    record: dict[str, Any] | None = None
    error: str | None = None
    phase: str = "starting"
    timed_out: bool = False
    elapsed_s: float = 0.0
    bad_lines: int = 0


def _supervise(
    proc: subprocess.Popen[bytes],
    rfd: int,
    job: Job,
    on_phase: Callable[[str], None] | None,
    on_tick: Callable[[], None] | None,
) -> _Outcome:
    out = _Outcome()
    start = time.monotonic()
    deadline = start + job.timeout_s
    buf = b""
    try:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(job.config.to_dict()).encode())
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the worker died at once; its exit status tells why

    def consume(chunk: bytes) -> None:
        nonlocal buf, deadline
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                out.bad_lines += 1
                continue
            if "phase" in msg:
                out.phase = str(msg["phase"])
                if on_phase:
                    on_phase(out.phase)
            if "record" in msg:
                out.record = msg["record"]
            if "error" in msg:
                out.error = str(msg["error"])
            if "record" in msg or "error" in msg:
                deadline = min(deadline, time.monotonic() + EXIT_GRACE_S)

    eof = False
    try:
        while True:
            now = time.monotonic()
            if proc.poll() is not None:
                break
            if now >= deadline:
                out.timed_out = True
                _kill_group(proc)
                proc.wait()
                break
            if not eof:
                ready, _, _ = select.select([rfd], [], [], min(_POLL_S, deadline - now))
                if ready:
                    chunk = os.read(rfd, 1 << 16)
                    if chunk:
                        consume(chunk)
                    else:
                        eof = True
            else:  # the channel is closed: wait for the exit itself
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=min(_POLL_S, max(0.0, deadline - now)))
            if on_tick:
                on_tick()
        # The worker has exited: read what it wrote before it went.
        while not eof:
            ready, _, _ = select.select([rfd], [], [], 0)
            if not ready:
                break
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                break
            consume(chunk)
    except KeyboardInterrupt:
        _kill_group(proc)
        proc.wait()
        raise
    out.elapsed_s = time.monotonic() - start
    return out


def _record(
    job: Job, key: str, returncode: int | None, out: _Outcome, log_tail: str, where: str
) -> Measurement:
    def failed(status: str, error: str) -> Measurement:
        return Measurement.create(
            job.config,
            status=status,
            error=error,
            key=key,
            architecture=job.architecture or {"name": job.config.architecture},
        )

    if out.record is not None:  # a worker that hung on exit after sending it still counts
        try:
            rec = Measurement.from_dict(out.record)
        except HarnessError as exc:
            return failed("error", f"the worker returned an invalid record: {exc}{where}")
        return rec if rec.key == key else rec.replace(key=key)
    if out.error is not None:
        return failed("error", f"{out.error} (phase: {out.phase}){where}")
    if out.timed_out:
        return failed(
            "timeout",
            f"no result after {job.timeout_s:g} s (last phase: {out.phase}); the worker was "
            f"killed{where}",
        )
    last = f"; last output: {log_tail}" if log_tail else ""
    if returncode is not None and returncode < 0:
        sig = -returncode
        name = _signal_name(sig)
        why = " (the out-of-memory killer sends SIGKILL)" if sig == signal.SIGKILL else ""
        return failed(
            "crashed", f"worker killed by {name}{why} during phase {out.phase}{last}{where}"
        )
    return failed(
        "crashed",
        f"worker exited with status {returncode} without a result during phase {out.phase}"
        f"{last}{where}",
    )


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's process group (it and anything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(f: IO[bytes], limit: int = 4096) -> str:
    """The last meaningful line of a worker's output (a traceback's last line, a fatal error)."""
    try:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        text = f.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(("Fatal Python error", "Segmentation fault")) or "Error" in ln:
            return one_line(ln, 300)
    return one_line(lines[-1], 300) if lines else ""


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["HARNESS_WORKER"] = "1"
    # The worker must import this very harness, installed or not.
    root = str(Path(__file__).resolve().parents[1])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env


# --------------------------------------------------------------------------------------------
# The worker (child side)
# --------------------------------------------------------------------------------------------


def load_target(spec: str) -> Callable[..., Any]:
    """`package.module:function` or `path/to/file.py:function` to the function."""
    mod_name, sep, attr = spec.rpartition(":")
    if not sep or not mod_name or not attr:
        raise HarnessError(f"worker target {spec!r} must be module:function or file.py:function")
    if mod_name.endswith(".py"):
        path = Path(mod_name).expanduser().resolve()
        if not path.is_file():
            raise HarnessError(f"worker target file {path} does not exist")
        name = "harness_target_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        spec_ = importlib.util.spec_from_file_location(name, path)
        if spec_ is None or spec_.loader is None:
            raise HarnessError(f"worker target {path} is not an importable Python file")
        module = importlib.util.module_from_spec(spec_)
        sys.modules[name] = module
        spec_.loader.exec_module(module)
    else:
        module = importlib.import_module(mod_name)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise HarnessError(f"worker target {spec!r}: no function {attr!r} in {mod_name}")
    return fn


def _die_with_parent(parent_pid: int) -> None:
    """A worker must not outlive a killed sweep: Linux's parent-death signal, and a watcher
    thread that kills the worker's whole process group if the parent goes away."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                with contextlib.suppress(OSError):
                    os.killpg(os.getpgrp(), signal.SIGKILL)
                os._exit(1)

    threading.Thread(target=watch, name="harness-parent-watch", daemon=True).start()


def worker_main(argv: list[str]) -> int:
    target, fd, parent_pid = argv[0], int(argv[1]), int(argv[2])
    _die_with_parent(parent_pid)
    channel = os.fdopen(fd, "w", buffering=1)
    lock = threading.Lock()

    def send(msg: dict[str, Any]) -> None:
        with lock:
            channel.write(json.dumps(msg) + "\n")
            channel.flush()

    try:
        config = MeasurementConfig.from_dict(json.loads(sys.stdin.read()))
        fn = load_target(target)
        result = fn(config, phase=lambda p: send({"phase": str(p)}))
        if isinstance(result, Measurement):
            record = result.to_dict()
        elif isinstance(result, Mapping):
            record = dict(result)
        else:
            raise TypeError(f"{target} returned {type(result).__name__}, not a Measurement")
        send({"record": record})
    except BaseException as exc:  # noqa: BLE001 - every failure becomes the row's error
        traceback.print_exc()
        msg = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
        send({"error": one_line(msg)})
        return 1
    finally:
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        sys.exit(worker_main(sys.argv[2:]))
    print(
        "usage: python -m harness.runner --worker TARGET FD PARENT_PID (started by run_sweep)",
        file=sys.stderr,
    )
    sys.exit(2)
