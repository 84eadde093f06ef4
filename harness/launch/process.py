"""One configuration in its own worker process: a crash, hang or out-of-memory costs one row."""

from __future__ import annotations

import contextlib
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harness.errors import HarnessError, one_line
from harness.output_files import open_log
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.user_files import import_python_file

DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_TARGET = "harness.pipeline.measure:measure"
EXIT_GRACE_S = 10.0  # a worker that sent its result but does not exit is killed after this
_POLL_S = 0.25


# --------------------------------------------------------------------------------------------
# One job in one worker (parent side)
# --------------------------------------------------------------------------------------------


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


def run_job(
    job: Job | MeasurementConfig,
    *,
    key: str | None = None,
    target: str = DEFAULT_TARGET,
    log_path: str | os.PathLike[str] | None = None,
    on_phase: Callable[[str], None] | None = None,
    on_tick: Callable[[], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Measurement:
    """Run one configuration in a fresh worker process and return its record.

    `env` adds to the worker's environment (a device pool pins a GPU or a thread count).

    Never raises for what happens inside the worker: an exception gives status "error", a
    timeout "timeout" (the worker's process group is killed), a crash "crashed". A
    KeyboardInterrupt in the parent kills the worker and propagates. Failure records carry
    no environment or architecture summary; `run_sweep` adds them.
    """
    if isinstance(job, MeasurementConfig):
        job = Job(job)
    key = key or job.config.key()
    log_file: IO[bytes]
    where = f" (log: {log_path})" if log_path is not None else ""
    try:  # never a device or FIFO; a log that cannot be opened costs the log, not the row
        log_file = open_log(log_path) if log_path is not None else tempfile.TemporaryFile()  # noqa: SIM115
    except HarnessError as exc:
        log_file, where = tempfile.TemporaryFile(), f" (log not kept: {exc})"  # noqa: SIM115
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.launch.process",
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
            env=_worker_env(env),
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


ALLOC_CONF = "PYTORCH_CUDA_ALLOC_CONF"


def with_expandable_segments(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with `expandable_segments:True` in PyTorch's CUDA allocator settings, unless the
    user's value already sets that key (theirs is kept as it is).

    Expandable segments let the caching allocator grow a segment instead of fragmenting memory
    into fixed blocks, so a batch that fits is not lost to fragmentation
    (https://pytorch.org/docs/stable/notes/cuda.html#optimizing-memory-usage-with-pytorch-cuda-alloc-conf).
    """
    out = dict(env)
    current = out.get(ALLOC_CONF, "").strip()
    keys = {part.split(":", 1)[0].strip() for part in current.split(",") if part.strip()}
    if "expandable_segments" not in keys:
        out[ALLOC_CONF] = (
            f"{current},expandable_segments:True" if current else ("expandable_segments:True")
        )
    return out


def _worker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = with_expandable_segments({**os.environ, **(extra or {})})
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
        module = import_python_file(Path(mod_name), what=f"worker target {spec!r}")
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
        "usage: python -m harness.launch.process --worker TARGET FD PARENT_PID (started by run_sweep)",
        file=sys.stderr,
    )
    sys.exit(2)
