"""`harness report --published-from DIR`: the report's fits are made on the authors' points
(a small synthetic file in their layout), not on the shipped ones."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "catalog"))
from test_authors import write_imagenet  # noqa: E402

from harness.present.report import write_report  # noqa: E402

OLD_DB = Path(__file__).parents[1] / "data" / "results_written_by_0.1.0.sqlite"
POINTS = (
    (1e9, 1e18, 60.0),
    (3e9, 5e18, 70.0),
    (1e10, 3e19, 77.0),
    (4e10, 2e20, 82.0),
    (1e11, 9e20, 85.0),
)


def test_report_fits_the_authors_points(tmp_path, reports_dir):
    data = tmp_path / "authors" / "data"
    rows = [
        f"Net{i},{2012 + i},{flops:.3E},,,,{burden:.3E},{score:.2f}"
        for i, (flops, burden, score) in enumerate(POINTS)
    ]
    write_imagenet(data, rows)
    db = tmp_path / "r.sqlite"
    shutil.copy(OLD_DB, db)
    paths = write_report(db=db, out_dir=tmp_path / "out", published_from=str(data.parent))
    lines = Path(paths.markdown).read_text().splitlines()
    fits = lines[lines.index("## The paper's polynomial fits over the published points") :]
    row = next(ln for ln in fits if ln.startswith("| imagenet | per-pass | polynomial |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "published 5"
    # the paper's regression, by hand: log10(1/error) on log10(per-pass FLOPs)
    x = np.log10([p[0] for p in POINTS])
    y = np.log10([1 / (1 - p[2] / 100) for p in POINTS])
    slope = np.polyfit(x, y, 1)[0]
    shown = float(cells[4].split()[0])
    assert math.isclose(shown, slope, rel_tol=5e-3), (shown, slope)
