"""The extrapolation table in the paper's shape: the paper's cited figures beside ours."""

from __future__ import annotations

import pytest

from harness.analysis.fit import fit
from harness.analysis.paper_table import NOT_FOUND, paper_figures, paper_table
from harness.catalog.published import load_published


def test_every_paper_figure_is_cited():
    figures = paper_figures()
    assert figures and all(f.citation.strip() for f in figures)
    assert {(f.row, f.log10_value) for f in figures if f.benchmark == "imagenet"} >= {
        ("Target 1", 19.0),
        ("Target 2", 28.0),
    }


def test_difference_is_ours_minus_the_papers_in_orders_of_magnitude():
    published = load_published()
    rows, _ = paper_table(published, ("imagenet",))
    poly = [r for r in rows if r.projection.model == "polynomial"]
    target1 = next(r for r in poly if r.projection.label == "Target 1")
    f = fit(published, "imagenet", "burden", "polynomial")
    ours_gflops = f.log10_compute_for(0.05)[0] - 9
    assert target1.difference("gflops") == pytest.approx(ours_gflops - 19.0)
    row = target1.to_row()
    assert row["paper_co2_lbs"] == NOT_FOUND and row["paper_usd"] == NOT_FOUND
    assert "arXiv:2007.05558" in row["citation"] and "k = " in row["cause"]
    expo = next(r for r in rows if r.projection.model == "exponential")
    assert expo.to_row()["paper_gflops"] == NOT_FOUND and expo.difference("gflops") is None


def test_insignificant_fits_are_listed_not_tabulated():
    rows, skipped = paper_table(load_published(), ("wmt14_en_de",))
    assert not rows and any("not significant" in s for s in skipped)
