"""`harness measure` says when a timing is noisy (with the spread and what to do), when a run is
at another size than the published metric's, and when a metric is only claimed."""

from __future__ import annotations

from harness.commands.measure import _print_notes
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.summary import CLAIMED_CITATION, figure_rows


def _record(*, iqr: float, size: int | None = None, claimed: bool = False) -> Measurement:
    config = MeasurementConfig("resnet50", batch_size=8, device="cpu", size=size)
    return Measurement.create(
        config,
        architecture={
            "name": "resnet50",
            "benchmark": "imagenet",
            "reference_value": 78.0 if claimed else 76.13,
            "reference_citation": CLAIMED_CITATION if claimed else "torchvision",
            "size_kind": "resolution",
            "default_size": 224,
        },
        timing={"median_s": 0.2, "iqr_s": 0.2 * iqr, "noisy": iqr > 0.1, "size": size or 224},
    )


def test_a_noisy_measurement_says_so_with_its_spread_and_a_remedy(capsys):
    record = _record(iqr=0.96)
    _print_notes(record)
    out = capsys.readouterr().out
    assert "noisy:" in out and "96% NOISY" in out and "--min-seconds" in out
    iqr_row = next(r for r in figure_rows(record) if r["figure"] == "IQR")
    assert iqr_row["value"] == 96.0 and "NOISY" in iqr_row["unit"]


def test_a_steady_measurement_at_its_published_size_has_no_warning(capsys):
    _print_notes(_record(iqr=0.03))
    out = capsys.readouterr().out
    assert "noisy" not in out.lower() and "size:" not in out and "claimed" not in out


def test_another_size_and_a_claimed_metric_are_named(capsys):
    _print_notes(_record(iqr=0.03, size=96, claimed=True))
    out = capsys.readouterr().out
    assert "96 px (published 224)" in out and "78 (claimed)" in out
