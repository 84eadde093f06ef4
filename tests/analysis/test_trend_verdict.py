"""What `harness compare` may say of a network on the paper's trend: a verdict from the prediction
interval only, none for a fit that is not significant or a compute that is not known, the
network's own compute uncertainty, claimed metrics marked, other sizes kept off the trend."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.analysis.comparison import Comparison, _trend_positions
from harness.analysis.fit import fit_points, select_points
from harness.analysis.trend_position import position
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.summary import CLAIMED_CITATION, measured_points

RESNET50 = {
    "name": "resnet50",
    "benchmark": "imagenet",
    "year": 2015,
    "reference_metric": "top1_acc",
    "reference_value": 76.13,
    "reference_citation": "torchvision",
    "size_kind": "resolution",
    "default_size": 224,
}


def _record(
    *,
    macs: float = 4.09e9,
    top1: float = 76.13,
    size: int | None = None,
    claimed: bool = False,
    iqr: float = 0.02,
    device_kind: str = "cuda",
    burden: float = 2e18,
    name: str = "resnet50",
) -> Measurement:
    config = MeasurementConfig(name, batch_size=8, device=device_kind, size=size)
    arch = {**RESNET50, "reference_value": top1}
    if claimed:
        arch.update(reference_claimed=True, reference_citation=CLAIMED_CITATION)
    sheet = 67e12 if device_kind == "cuda" else None
    return Measurement.create(
        config,
        architecture=arch,
        counts={"forward_macs_per_example": macs},
        timing={
            "size": size or 224,
            "median_s": 0.1,
            "iqr_s": 0.1 * iqr,
            "noisy": iqr > 0.1,
            "peak": {"device_kind": device_kind, "datasheet_flop_per_s": sheet},
        },
        burden={"burden_per_run_flop": burden},
    )


def _positions(records):
    notes: list[str] = []
    found = _trend_positions(records, "imagenet", notes)
    return {(p.architecture, p.measure): p for p in found}, notes


def test_a_published_network_is_inside_the_ordinary_scatter_not_a_finding():
    """resnet50's own compute and error: inside the prediction interval, whatever the ratio."""
    p = _positions([_record()])[0][("resnet50", "per-pass")]
    assert p.predicted_low_flop < p.trend_low_flop < p.trend_high_flop < p.predicted_high_flop
    assert p.place == "inside"
    assert p.verdict().startswith("INSIDE the ordinary scatter")


def test_far_less_compute_than_the_prediction_interval_is_cheaper():
    p = _positions([_record(macs=4e6)])[0][("resnet50", "per-pass")]
    assert p.place == "below" and p.verdict().startswith("CHEAPER")
    assert p.compute_used_flop < p.predicted_low_flop


def test_a_fit_that_is_not_significant_gives_numbers_and_no_verdict():
    frame = pd.DataFrame(
        {
            "benchmark": "imagenet",
            "model": ["a", "b", "c"],
            "error": [0.3, 0.2, 0.28],
            "per_pass_flops": [1e9, 1e10, 1e11],
            "burden_flops": [None, None, None],
        }
    )
    f = fit_points(
        select_points(frame, "imagenet", "per-pass"), "polynomial", "imagenet", "per-pass"
    )
    assert not f.significant
    p = position(_record(), f, "three points")
    assert p.verdict().startswith("NO VERDICT: the per-pass fit is not significant")
    assert "CHEAPER" not in p.verdict() and "INSIDE" not in p.verdict()


def test_the_burden_carries_the_timing_spread_and_a_cpu_peak_gives_no_verdict():
    gpu = _positions([_record(iqr=0.96)])[0][("resnet50", "burden")]
    assert gpu.compute_used_low_flop == pytest.approx(2e18 * (1 - 0.48))
    assert gpu.compute_used_high_flop == pytest.approx(2e18 * (1 + 0.48))
    cpu = _positions([_record(device_kind="cpu")])[0][("resnet50", "burden")]
    assert cpu.verdict().startswith("NO VERDICT") and "measured CPU matmul peak" in cpu.verdict()


def test_a_spread_across_the_band_edge_gives_no_verdict():
    p = _positions([_record(iqr=0.96)])[0][("resnet50", "burden")]
    edge = p.predicted_low_flop
    q = _positions([_record(iqr=0.96, burden=edge)])[0][("resnet50", "burden")]
    assert q.place == "straddles" and q.verdict().startswith("NO VERDICT")


def test_a_reduced_size_run_is_never_on_the_trend_nor_a_measured_point():
    small = _record(size=96, macs=4.09e9 * (96 / 224) ** 2)
    positions, notes = _positions([small])
    assert positions == {}
    assert any("96 px (published 224)" in n for n in notes)
    assert measured_points([small]) == [] and len(measured_points([_record()])) == 1


def test_a_claimed_metric_is_marked_and_never_a_measured_point():
    claimed = _record(top1=78.0, claimed=True)
    p = _positions([claimed])[0][("resnet50", "per-pass")]
    assert p.claimed and "CLAIMED metric" in p.verdict()
    assert measured_points([claimed]) == []


def test_the_printed_comparison_shows_both_bands_claims_sizes_and_noise(capsys):
    from harness.present.comparison_text import print_comparison

    new = _record(top1=78.0, claimed=True, iqr=0.5, name="my_net")
    small = _record(size=96)
    positions, notes = _positions([new, small])
    print_comparison(Comparison(new, (small,), "imagenet", tuple(positions.values()), tuple(notes)))
    out = capsys.readouterr().out
    assert "78 (claimed)" in out and "0.22 (claimed)" in out
    assert "line_95CI" in out and "new_net_95PI" in out and "prediction interval" in out
    assert "96 px (published 224)" in out and "50% NOISY" in out and "--min-seconds" in out


def test_the_published_conll_burden_fit_gives_no_verdict():
    """CoNLL 2003's burden fit has 3 published points (p about 0.21): a GPU burden on it gets
    the numbers and no verdict."""
    config = MeasurementConfig("bert_large_conll", batch_size=32, device="cuda")
    record = Measurement.create(
        config,
        architecture={
            "name": "bert_large_conll",
            "benchmark": "conll03",
            "reference_value": 92.8,
            "reference_citation": "published",
            "size_kind": "seq_len",
            "default_size": 128,
        },
        timing={
            "size": 128,
            "median_s": 0.1,
            "iqr_s": 0.001,
            "peak": {"device_kind": "cuda", "datasheet_flop_per_s": 67e12},
        },
        burden={"burden_per_run_flop": 1e18},
    )
    notes: list[str] = []
    (p,) = _trend_positions([record], "conll03", notes)
    assert p.measure == "burden" and p.p_value > 0.05
    assert p.verdict().startswith("NO VERDICT: the burden fit is not significant")
    assert any("NOT significant" in n for n in notes)
