"""Fault cases: bad options and hostile user files are refused early and clearly, a run that
never returns ends, a closed pipe is quiet, and a sweep's exit status says what happened.

Each case runs the real `harness` in a subprocess against tiny model files written to its
temporary folder, so the table runs in seconds per case.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from framework import Cli, FaultCase, Outcome, check, harness, ids, run_case

MODELS = """
import sys, time
from torch import nn

class Boom(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 2)

    def forward(self, x):
        raise RuntimeError("boom in forward")

class Hang(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 2)

    def forward(self, x):
        while True:
            time.sleep(0.5)

def good():
    return nn.Linear(4, 2)

def boom():
    return Boom()

def hang():
    return Hang()

def exits():
    sys.exit(7)

# Architectures (input shape included), for suites, which take no --input-shape
from harness.arch.loader import architecture_from_module_factory as _arch

good_arch = _arch(good, name="good", input_shape=(2, 4))
boom_arch = _arch(boom, name="boom", input_shape=(2, 4))
"""
GOOD = ("m.py:good", "--input-shape", "2,4")
QUICK = ("--device", "cpu", "--batch", "2", "--steps", "1", "--min-seconds", "0", "--warmup", "0")


def _models(tmp: Path) -> None:
    (tmp / "m.py").write_text(MODELS)
    (tmp / "exits_on_import.py").write_text("import sys\nsys.exit(7)\n")


def _one_line(cli: Cli, status: int, *needles: str) -> Outcome:
    """Held when the run exited `status` with one `harness ...` line holding every needle."""
    text = cli.stderr.strip()
    held = (
        cli.returncode == status
        and cli.one_line_error
        and all(n.lower() in text.lower() for n in needles)
    )
    return Outcome(
        held=held,
        traceback=cli.traceback,
        detail=f"exit {cli.returncode}, stderr: {text[-600:]!r}",
    )


def refused(*args: str, needles: tuple[str, ...], status: int = 2, stdin: str | None = None):
    """A case whose command must fail at once with one line (and never measure)."""

    def run(tmp: Path) -> Outcome:
        _models(tmp)
        t0 = time.monotonic()
        cli = harness(*args, cwd=tmp, timeout=120, stdin=stdin)
        out = _one_line(cli, status, *needles)
        stored = (tmp / "reports" / "results.sqlite").exists()
        if stored and status == 2:
            return Outcome(False, traceback=out.traceback, detail=f"stored a row: {out.detail}")
        return Outcome(
            out.held,
            traceback=out.traceback,
            detail=f"{out.detail} ({time.monotonic() - t0:.1f} s)",
        )

    return run


# -- 1: one line, not a traceback ----------------------------------------------------------------


def closed_pipe(command: str):
    """`harness COMMAND | true`: the reader is gone before anything is written."""

    def run(tmp: Path) -> Outcome:
        env = dict(os.environ, HARNESS_REPORTS_DIR=str(tmp / "reports"))
        argv = f"{sys.executable} -m harness {command}"
        proc = subprocess.run(
            ["bash", "-c", f'{argv} | true; echo "status=${{PIPESTATUS[0]}}" >&2'],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        held = lines == ["status=0"]
        return Outcome(
            held, traceback="Traceback" in proc.stderr, detail=f"stderr: {proc.stderr[-600:]!r}"
        )

    return run


def head_of_env(tmp: Path) -> Outcome:
    """`harness env | head -1` through a real pipe: one line out, nothing on stderr, status 0."""
    env = dict(os.environ, HARNESS_REPORTS_DIR=str(tmp / "reports"))
    writer = subprocess.Popen(
        [sys.executable, "-m", "harness", "env"],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader = subprocess.run(["head", "-1"], stdin=writer.stdout, capture_output=True, timeout=120)
    assert writer.stdout is not None
    writer.stdout.close()  # only `head` holds the read end now
    _, err = writer.communicate(timeout=120)
    text = err.decode()
    held = writer.returncode == 0 and not text.strip() and reader.stdout.strip() == b"harness"
    return Outcome(
        held, traceback="Traceback" in text, detail=f"exit {writer.returncode}: {text!r}"
    )


# -- 3: exit statuses of a sweep -----------------------------------------------------------------


def _suite(tmp: Path, body: str) -> Path:
    _models(tmp)
    path = tmp / "s.toml"
    path.write_text(body)
    return path


def _rows(tmp: Path) -> list[tuple[str, dict]]:
    db = tmp / "reports" / "results.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, record FROM measurements").fetchall()
    return [(s, json.loads(r).get("environment") or {}) for s, r in rows]


SUITE_SETTINGS = """
devices = ["cpu"]
batch_sizes = [2]
warmup_steps = 0
min_steps = 1
min_seconds = 0
timeout_s = 120
"""


def sweep_all_fail(tmp: Path) -> Outcome:
    """Every job fails: the sweep keeps both rows, prints the count, exits 1."""
    suite = _suite(tmp, f'architectures = ["m.py:boom_arch"]\nsizes = [4, 5]\n{SUITE_SETTINGS}')
    cli = harness("measure", "--suite", str(suite), cwd=tmp, timeout=300)
    rows = _rows(tmp)
    held = cli.returncode == 1 and "2 of 2 measurements failed" in cli.stderr and len(rows) == 2
    return Outcome(
        held,
        lost_rows=max(0, 2 - len(rows)),
        traceback=cli.traceback,
        detail=f"exit {cli.returncode}, rows {rows}, stderr {cli.stderr[-600:]!r}",
    )


def sweep_note(tmp: Path) -> Outcome:
    """A suite's note is printed at the start and kept in the record's environment."""
    note = "after the driver update"
    body = f'note = "{note}"\narchitectures = ["m.py:good_arch"]\n{SUITE_SETTINGS}'
    suite = _suite(tmp, body)
    cli = harness("measure", "--suite", str(suite), cwd=tmp, timeout=300)
    rows = _rows(tmp)
    printed = f"note: {note}" in cli.stderr.splitlines()[0]
    kept = len(rows) == 1 and rows[0][0] == "ok" and rows[0][1].get("suite_note") == note
    return Outcome(
        cli.returncode == 0 and printed and kept,
        lost_rows=max(0, 1 - len(rows)),
        traceback=cli.traceback,
        detail=f"exit {cli.returncode}, rows {rows}, stderr {cli.stderr[-600:]!r}",
    )


def bad_suite(line: str, *needles: str):
    def run(tmp: Path) -> Outcome:
        settings = SUITE_SETTINGS.replace("timeout_s = 120\n", "")
        suite = _suite(tmp, f'architectures = ["m.py:good_arch"]\n{settings}{line}\n')
        cli = harness("measure", "--suite", str(suite), cwd=tmp, timeout=120)
        out = _one_line(cli, 2, *needles)
        ran = bool(_rows(tmp))
        return Outcome(out.held and not ran, traceback=out.traceback, detail=out.detail)

    return run


# -- 4: no run hangs forever ---------------------------------------------------------------------


def hangs(command: str, *extra: str):
    """A forward that never returns, with `--timeout 3`: one line, exit 124, in seconds."""

    def run(tmp: Path) -> Outcome:
        _models(tmp)
        t0 = time.monotonic()
        args = (command, "m.py:hang", "--input-shape", "2,4", *extra, "--timeout", "3")
        cli = harness(*args, cwd=tmp, timeout=120)
        took = time.monotonic() - t0
        last = [ln for ln in cli.stderr.splitlines() if ln.strip()][-1:]  # after progress lines
        out = _one_line(Cli(cli.returncode, "", "\n".join(last)), 124, "timed out after 3 s")
        return Outcome(
            out.held and "m.py:hang" in cli.stderr and took < 60,
            traceback=cli.traceback,
            detail=f"{out.detail} after {took:.1f} s",
        )

    return run


EXIT_NEEDLES = ("sys.exit(7)", "m.py")
IMPORT_NEEDLES = ("sys.exit(7)", "exits_on_import.py", "imported")
INPUT = ("--input-shape", "2,4")

CASES = [
    # 1. a forward that raises; a closed pipe
    FaultCase(
        "time: a forward that raises is one line, exit 1",
        "validation",
        refused(
            "time",
            "m.py:boom",
            *INPUT,
            *QUICK,
            "--no-peak",
            status=1,
            needles=("harness time: error:", "boom in forward"),
        ),
    ),
    FaultCase("env | head -1 (a real pipe) is quiet, exit 0", "validation", head_of_env),
    FaultCase("env | true: closed pipe is quiet", "validation", closed_pipe("env")),
    FaultCase("list | true: closed pipe is quiet", "validation", closed_pipe("list")),
    FaultCase("fit | true: closed pipe is quiet", "validation", closed_pipe("fit")),
    # 2. validated before measuring
    FaultCase(
        "measure --country XXX is refused at start",
        "validation",
        refused("measure", *GOOD, *QUICK, "--country", "XXX", needles=("country code 'XXX'",)),
    ),
    FaultCase(
        "time --precision tf32 on CPU is refused before building",
        "validation",
        refused("time", *GOOD, *QUICK, "--precision", "tf32", needles=("tf32",)),
    ),
    FaultCase(
        "measure --precision fp16 on CPU is refused before building",
        "validation",
        refused("measure", *GOOD, *QUICK, "--precision", "fp16", needles=("fp16",)),
    ),
    FaultCase(
        "flops --vocab -3 is refused up front",
        "validation",
        refused("flops", "m.py:good", "--seq-len", "8", "--vocab", "-3", needles=("--vocab",)),
    ),
    FaultCase(
        "time --vocab 0 is refused up front",
        "validation",
        refused("time", "m.py:good", "--seq-len", "8", "--vocab", "0", *QUICK, needles=("vocab",)),
    ),
    FaultCase(
        "flops --seq-len beyond the model's positions is refused before counting",
        "validation",
        refused("flops", "bert_base_squad", "--seq-len", "5000", needles=("at most 512",)),
    ),
    FaultCase(
        "time --seq-len beyond the tiny model's positions is refused",
        "validation",
        refused(
            "time",
            "bert_base_squad",
            "--tiny",
            "--seq-len",
            "5000",
            *QUICK,
            needles=("at most 64",),
        ),
    ),
    FaultCase(
        "measure --nproc-per-node 0 is refused by the parser",
        "validation",
        refused("measure", *GOOD, "--nproc-per-node", "0", needles=("--nproc-per-node",)),
    ),
    FaultCase(
        "measure --nnodes 0 is refused by the parser",
        "validation",
        refused("measure", *GOOD, "--nproc-per-node", "1", "--nnodes", "0", needles=("--nnodes",)),
    ),
    FaultCase(
        "measure --rdzv-endpoint with one node is refused",
        "validation",
        refused(
            "measure",
            *GOOD,
            "--nproc-per-node",
            "1",
            "--rdzv-endpoint",
            "h:29500",
            needles=("--rdzv-endpoint", "--nnodes"),
        ),
    ),
    FaultCase(
        "measure --nnodes without --nproc-per-node is refused",
        "validation",
        refused("measure", *GOOD, "--nnodes", "2", needles=("--nproc-per-node",)),
    ),
    FaultCase(
        "time --timeout -1 is refused",
        "validation",
        refused("time", *GOOD, *QUICK, "--timeout", "-1", needles=("--timeout",)),
    ),
    FaultCase(
        "suite timeout_s = inf is refused when read",
        "validation",
        bad_suite("timeout_s = inf", "timeout_s", "finite"),
    ),
    FaultCase(
        "suite timeout_s = nan is refused when read",
        "validation",
        bad_suite("timeout_s = nan", "timeout_s", "finite"),
    ),
    FaultCase(
        "suite country = 'XXX' is refused when read",
        "validation",
        bad_suite('country = "XXX"', "s.toml", "country"),
    ),
    FaultCase("suite note is printed and kept in the record", "validation", sweep_note),
    # 3. exit statuses
    FaultCase("a sweep whose every job fails exits 1", "validation", sweep_all_fail),
    FaultCase(
        "measure: a file exiting on import is one line, exit 2",
        "validation",
        refused("measure", "exits_on_import.py:good", *INPUT, *QUICK, needles=IMPORT_NEEDLES),
    ),
    FaultCase(
        "flops: a file exiting on import is one line, exit 2",
        "validation",
        refused("flops", "exits_on_import.py:good", *INPUT, needles=IMPORT_NEEDLES),
    ),
    FaultCase(
        "time: a file exiting on import is one line, exit 2",
        "validation",
        refused("time", "exits_on_import.py:good", *INPUT, *QUICK, needles=IMPORT_NEEDLES),
    ),
    FaultCase(
        "measure: a factory calling sys.exit(7) is one line, exit 2",
        "validation",
        refused("measure", "m.py:exits", *INPUT, *QUICK, needles=EXIT_NEEDLES),
    ),
    FaultCase(
        "flops: a factory calling sys.exit(7) is one line, exit 2",
        "validation",
        refused("flops", "m.py:exits", *INPUT, needles=EXIT_NEEDLES),
    ),
    FaultCase(
        "time: a factory calling sys.exit(7) is one line, exit 2",
        "validation",
        refused("time", "m.py:exits", *INPUT, *QUICK, needles=EXIT_NEEDLES),
    ),
    # 4. nothing hangs
    FaultCase(
        "time: a forward that never returns, --timeout 3",
        "validation",
        hangs("time", *QUICK, "--no-peak"),
    ),
    FaultCase(
        "measure: a forward that never returns, --timeout 3",
        "validation",
        hangs("measure", *QUICK, "--no-store"),
    ),
    FaultCase("flops: a forward that never returns, --timeout 3", "validation", hangs("flops")),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_fault_case(case: FaultCase, tmp_path: Path) -> None:
    check(run_case(case, tmp_path), case)
