"""The report says what a reader must not take at face value: the size each row ran at, a
claimed metric, a noisy timing; a run at another size is not drawn on the trend."""

from __future__ import annotations

import pytest

from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.summary import CLAIMED_CITATION
from harness.present.report import write_report
from harness.present.report_figures import plotted_rows
from harness.present.rows import report_row
from harness.sweep.store import ResultStore


def _record(name: str, *, size: int | None = None, claimed: bool = False, iqr: float = 0.02):
    arch = {
        "name": name,
        "benchmark": "imagenet",
        "reference_metric": "top1_acc",
        "reference_value": 78.0 if claimed else 76.13,
        "reference_citation": CLAIMED_CITATION if claimed else "torchvision",
        "reference_claimed": claimed,
        "size_kind": "resolution",
        "default_size": 224,
    }
    config = MeasurementConfig(name, batch_size=2, device="cpu", size=size)
    return Measurement.create(
        config,
        architecture=arch,
        counts={"forward_macs_per_example": 4.1e9 * ((size or 224) / 224) ** 2},
        timing={
            "size": size or 224,
            "median_s": 0.5,
            "iqr_s": 0.5 * iqr,
            "noisy": iqr > 0.1,
            "batch_size": 2,
            "peak": {"device_name": "Test CPU", "device_kind": "cpu"},
        },
        burden={"burden_per_run_flop": 1e18},
    )


RECORDS = [
    _record("resnet50"),
    _record("resnet101", size=96),
    _record("my_net", claimed=True, iqr=0.96),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trust")
    with ResultStore(tmp / "r.sqlite") as db:
        db.put_many(RECORDS)
    paths = write_report(tmp / "r.sqlite", tmp / "out", include_published=False)
    return paths.markdown.read_text()


def test_every_row_carries_its_size_and_an_other_size_is_named(page):
    assert "size (px / tokens)" in page and "224 px" in page
    assert "96 px (published 224)" in page
    assert "not placed on the paper's trend: resnet101 @96" in page


def test_a_claimed_metric_and_a_noisy_timing_are_marked(page):
    assert "78 (claimed)" in page and "CLAIMED by the user" in page
    assert "96% NOISY" in page and "--min-seconds" in page


def test_a_run_at_another_size_is_not_drawn_on_the_trend():
    rows = [report_row(r) for r in RECORDS]
    shown = {r["architecture"] for r in plotted_rows(rows, "per_pass_flops")}
    assert shown == {"resnet50", "my_net"}


def test_figures_draw_both_bands_each_labelled():
    import numpy as np
    from matplotlib.figure import Figure

    from harness.analysis.authors_fit import published_points
    from harness.analysis.fit import fit
    from harness.present.report_figures import draw_bands

    f = fit(published_points("imagenet", None), "imagenet", "per-pass")
    ax = Figure().subplots()
    xs = np.linspace(8.5, 11.5, 20)
    draw_bands(ax, f, xs, "C2", log_y=True)
    (line, new) = ax.collections
    assert "confidence band of the line" in line.get_label()
    assert "prediction interval for a new network" in new.get_label()
    height = [np.ptp(c.get_paths()[0].vertices[:, 1]) for c in (line, new)]
    assert height[1] > height[0]  # the prediction interval is the wider


def test_a_timed_burden_is_drawn_with_the_range_of_its_timing_spread():
    import numpy as np
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    from harness.present.report_figures import _measured_panel

    rows = [report_row(r) for r in RECORDS]
    ax = Figure().subplots()
    _measured_panel(ax, plotted_rows(rows, "burden_per_run_flop"), "burden_per_run_flop")
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    widths = sorted(np.ptp(seg[:, 0]) for c in bars for seg in c.get_segments())
    assert widths == pytest.approx(sorted([1e18 * 0.02, 1e18 * 0.96]))  # IQR x burden
