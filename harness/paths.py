"""Where the harness finds its data and writes its output (one place, so nothing hard-codes paths)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"
REFERENCE_DIR = BENCHMARKS_DIR / "reference"  # published points and processor specifications
SUITES_DIR = BENCHMARKS_DIR / "suites"


def reports_dir() -> Path:
    """Generated output; `HARNESS_REPORTS_DIR` overrides (tests point it at a temporary folder)."""
    return Path(os.environ.get("HARNESS_REPORTS_DIR", REPO_ROOT / "reports"))
