"""Where the harness writes its output (one place, so nothing hard-codes paths)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# A source checkout (editable install): the harness's own repository, for `git_state`.
REPO_ROOT = PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").exists() else None


def reports_dir() -> Path:
    """Generated output: `reports/` of the source checkout, else `./reports` of the working
    directory (an installed harness); `HARNESS_REPORTS_DIR` overrides (tests use a temporary
    folder)."""
    default = (REPO_ROOT or Path.cwd()) / "reports"
    return Path(os.environ.get("HARNESS_REPORTS_DIR", default))
