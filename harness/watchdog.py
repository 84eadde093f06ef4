"""A time limit for one command: `--timeout SECONDS` on `time`, `flops` and `measure`.

A forward that never returns must not hang a terminal or a CI job forever. Python's signal
handlers run only between bytecodes of the main thread, so an alarm cannot interrupt a main
thread stuck inside C code (a kernel, a lock, `time.sleep`). The limit is therefore kept by
two things outside the main thread:

* a daemon thread, which at the deadline prints one line naming what timed out and ends the
  process with `os._exit(124)` (124: the status of coreutils `timeout`), without needing the
  main thread: it works whenever the stuck C code has released the GIL, as torch kernels,
  sleeps and I/O do;
* a small helper process, the backstop for C code that holds the GIL: `GRACE_S` after the
  deadline, if this process is still alive, it prints the line and kills it (SIGKILL, so
  the shell sees 137). It exits by itself when this process ends or the limit is cancelled.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

from harness.errors import ConfigurationError

DEFAULT_TIMEOUT_S = 1800.0  # the same as a sweep job's default limit
EXIT_TIMEOUT = 124
GRACE_S = 10.0

# Run by the helper: wait for EOF on stdin (the command finished) or the deadline.
_BACKSTOP = r"""
import os, select, signal, sys
pid, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ready, _, _ = select.select([sys.stdin], [], [], seconds)
if not ready:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(0)
    os.write(2, (message + " (it did not respond; killed)\n").encode())
    os.kill(pid, signal.SIGKILL)
"""


def check_timeout(seconds: float, option: str = "--timeout") -> float:
    """A usable limit in seconds, or a one-line error saying what to give."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(f"{option} must be a positive number of seconds, got {seconds}")
    return float(seconds)


@contextlib.contextmanager
def time_limit(seconds: float, message: str, *, backstop: bool = True) -> Iterator[None]:
    """End the process with one line `message` and status 124 if the block runs past `seconds`."""
    seconds = check_timeout(seconds)
    done = threading.Event()

    def expire() -> None:
        if done.wait(seconds):
            return
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        os.write(2, (message + "\n").encode())
        os._exit(EXIT_TIMEOUT)

    thread = threading.Thread(target=expire, name="harness-watchdog", daemon=True)
    thread.start()
    helper = _start_backstop(seconds + GRACE_S, message) if backstop else None
    try:
        yield
    finally:
        done.set()
        if helper is not None:
            _stop_backstop(helper)


def _start_backstop(seconds: float, message: str) -> subprocess.Popen[bytes] | None:
    try:
        return subprocess.Popen(
            [sys.executable, "-c", _BACKSTOP, str(os.getpid()), repr(seconds), message],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal is not for it
        )
    except OSError:
        return None  # the thread still keeps the limit


def _stop_backstop(helper: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        assert helper.stdin is not None
        helper.stdin.close()  # EOF: the helper exits
    try:
        helper.wait(timeout=5)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()
