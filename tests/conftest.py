"""Shared test configuration.

- `@pytest.mark.gpu` is the one way to say a test needs CUDA: without a CUDA device it is
  skipped here, with the reason (`make test` also deselects it, so CI stays quiet).
- `@pytest.mark.slow` marks tests that take more than a few seconds (`make test-fast` leaves
  them out).
- `HARNESS_PEAK_SECONDS` is 0.05 unless set: the sustained matmul peak takes a fraction of a
  second per size in tests.
- `reports_dir`: generated output goes to a temporary folder, never into the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cuda_available import HAS_CUDA

# The matmul peak sustains each size for 1 s by default; tests (and the workers and CLIs they
# start, which inherit the environment) need a figure, not a second per size.
os.environ.setdefault("HARNESS_PEAK_SECONDS", "0.05")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture()
def reports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary `reports/` (HARNESS_REPORTS_DIR), so no test writes into the checkout."""
    out = tmp_path / "reports"
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(out))
    return out
