"""benchmarks/gpu_acceptance.py --dry-run runs end to end on the CPU: every check prints one
PASS/FAIL/SKIP line (a SKIP with its reason), the summary counts them, the file is written,
and the exit status is 0. `make test` runs it (slow: it starts `harness measure` and torchrun)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_acceptance.py"
CHECKS = (
    "device-mapping",
    "counts",
    "step-time",
    "host-syncs",
    "energy",
    "measure",
    "torchrun",
    "peak-memory",
)
# meaningless without a GPU: these must say SKIP and why; the rest must run (PASS)
GPU_ONLY = {"device-mapping", "host-syncs", "peak-memory"}


@pytest.mark.slow
def test_dry_run_prints_every_check_and_exits_zero(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["HARNESS_REPORTS_DIR"] = str(tmp_path / "reports")
    out_dir = tmp_path / "acceptance"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = {}
    for line in done.stdout.splitlines():
        m = re.match(r"^(PASS|FAIL|SKIP)\s+([a-z-]+): (.+)$", line)
        if m:
            lines[m.group(2)] = (m.group(1), m.group(3))
    assert set(lines) == set(CHECKS), done.stdout
    for name, (status, detail) in lines.items():
        assert status == ("SKIP" if name in GPU_ONLY else "PASS"), f"{name}: {status} {detail}"
        assert len(detail) > 20  # a reason or the figures, not a bare word
    assert "0 failed of 8" in done.stdout
    written = (out_dir / "acceptance.txt").read_text()
    assert all(f"  {name}: " in written for name in CHECKS)
