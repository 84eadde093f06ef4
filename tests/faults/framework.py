"""Fault cases: hostile or careless things a user does, each run against the real harness, and
what must hold afterwards (nothing measured is lost, no traceback, a one-line error, a clear
exit status).

Every `tests/faults/test_faults_*.py` module defines `CASES`, a list of `FaultCase`; its test
runs them as a table, and `benchmarks/fault_matrix.py` runs every table and prints how many
cases were tried, held, and how many rows were lost (which must be 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outcome:
    """What a case observed. `held` is the case's own verdict on what must hold."""

    held: bool
    lost_rows: int = 0
    traceback: bool = False
    detail: str = ""


@dataclass(frozen=True)
class FaultCase:
    name: str
    area: str  # e.g. "output files", "store", "validation"
    run: Callable[[Path], Outcome]  # gets an empty temporary folder
    slow: bool = False
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Cli:
    """The result of one `harness ...` run in a subprocess."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    @property
    def one_line_error(self) -> bool:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return len(lines) == 1 and lines[0].startswith("harness")


def harness(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    stdin: str | None = None,
) -> Cli:
    """Run `python -m harness ARGS` with its reports under `cwd` (never the checkout's)."""
    full_env = dict(os.environ, HARNESS_REPORTS_DIR=str(cwd / "reports"))
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )
    return Cli(proc.returncode, proc.stdout, proc.stderr)


def run_case(case: FaultCase, tmp: Path) -> Outcome:
    """Run one case; an exception escaping the case itself counts as a traceback."""
    try:
        return case.run(tmp)
    except Exception as exc:  # the matrix reports it rather than stopping
        return Outcome(held=False, traceback=True, detail=f"{type(exc).__name__}: {exc}")


def check(outcome: Outcome, case: FaultCase) -> None:
    """The assertion every table test makes."""
    assert outcome.held, f"{case.name}: {outcome.detail}"
    assert outcome.lost_rows == 0, f"{case.name}: {outcome.lost_rows} rows lost"
    assert not outcome.traceback, f"{case.name}: traceback: {outcome.detail}"


def ids(cases: Sequence[FaultCase]) -> list[str]:
    return [c.name for c in cases]
