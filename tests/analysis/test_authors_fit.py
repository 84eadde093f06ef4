"""Fitting the authors' data: consolidated burden, network operations, --with-year, --until and
the command line, on synthetic files in their layout (written here, numbers known)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from harness.analysis.authors_fit import authors_points, parse_conversion
from harness.analysis.fit_report import FitRequest, fit_report
from harness.cli import main
from harness.errors import HarnessError

COLUMNS = "name,year,flops,multiadds,network_operations,hardware_burden,{score}"
HEADERS = "name,year,ops,,net_ops,hw_burden,performance\n,,flops,multiadds,,,score\n,,,,,,\n"

# name, year, flops, multiadds, network ops, burden, top-1
IMAGENET = [
    ("A", 2012, 1e9, "", 1e18, 1e20, 60.0),
    ("B", 2014, "", 2e9, 1e19, 10**21.2, 70.0),
    ("C", 2016, 8e9, "", 1e20, 10**21.9, 76.0),
    ("D", 2018, 2e10, "", 1e21, "", 80.0),
    ("E", 2019, "", 3e10, 1e22, "", 83.0),
    ("F", 2021, 1e11, "", "", 1e23, 88.0),
]
COCO = [("P", 2017, "", "", 1e20, "", 40.0), ("Q", 2019, "", "", "", 1e21, 50.0)]


def _write(folder, filename, score, rows):
    lines = [COLUMNS.format(score=score), HEADERS.rstrip("\n")]
    lines += [",".join(str(v) for v in r) for r in rows]
    (folder / filename).write_text("\n".join(lines) + "\n")


@pytest.fixture
def authors(tmp_path):
    data = tmp_path / "repo" / "data"
    data.mkdir(parents=True)
    _write(data, "image-classification-on-imagenet.csv", "(TOP 1 score)", IMAGENET)
    _write(data, "object-detection-on-coco.csv", "(BOX AP)", COCO)
    return str(tmp_path / "repo")


def _fit(path, **kw):
    return fit_report(FitRequest(published_from=path, **kw)).results[0]


def test_consolidated_burden_imputes_through_a_hand_fitted_line(authors):
    frame, notes = authors_points(authors)
    # pairs (log10 NO, log10 HB): (18, 20), (19, 21.2), (20, 21.9) -> by hand:
    # slope = Sxy / Sxx = 1.9 / 2 = 0.95, intercept = 21.0333.. - 0.95 x 19 = 2.98333..
    a, b = (20 + 21.2 + 21.9) / 3 - 0.95 * 19, 0.95
    img = frame[frame["benchmark"] == "imagenet"].set_index("model")
    assert math.log10(img.loc["D", "burden_consolidated_flops"]) == pytest.approx(a + b * 21)
    assert math.log10(img.loc["E", "burden_consolidated_flops"]) == pytest.approx(a + b * 22)
    assert img.loc["C", "burden_consolidated_flops"] == pytest.approx(10**21.9)  # stated kept
    assert img.loc["D", "burden_flagged"] and not img.loc["C", "burden_flagged"]
    assert "imputed" in img.loc["D", "burden_flag_reason"]
    # COCO has no pair: it borrows ImageNet's line, as the authors' COCO notebook does
    coco = frame[frame["benchmark"] == "coco"].set_index("model")
    assert math.log10(coco.loc["P", "burden_consolidated_flops"]) == pytest.approx(a + b * 20)
    assert any("coco burden-consolidated: 1 value(s) imputed" in n for n in notes)
    # a given line wins
    given, _ = authors_points(authors, parse_conversion("2.5,0.9"))
    p = given.set_index("model").loc["P", "burden_consolidated_flops"]
    assert math.log10(p) == pytest.approx(2.5 + 0.9 * 20)


def test_fits_reproduce_ols_by_hand(authors):
    f = _fit(authors, benchmark="imagenet", measure="burden-consolidated", model="polynomial")
    a0 = (20 + 21.2 + 21.9) / 3 - 0.95 * 19
    x = np.log10([1e20, 10**21.2, 10**21.9, 10 ** (a0 + 0.95 * 21), 10 ** (a0 + 0.95 * 22), 1e23])
    y = np.log10(1 / (1 - np.array([60, 70, 76, 80, 83, 88]) / 100))
    slope, intercept = np.polyfit(x, y, 1)
    assert (f.n, f.n_flagged) == (6, 2)
    assert f.slope == pytest.approx(slope) and f.intercept == pytest.approx(intercept)
    ops = _fit(authors, benchmark="imagenet", measure="network-ops", model="exponential")
    s2, i2 = np.polyfit([18, 19, 20, 21, 22], 1 / (1 - np.array([60, 70, 76, 80, 83]) / 100), 1)
    assert ops.n == 5 and ops.slope == pytest.approx(s2) and ops.intercept == pytest.approx(i2)
    pp = _fit(authors, benchmark="imagenet", measure="per-pass", model="polynomial")
    x3 = np.log10([1e9, 4e9, 8e9, 2e10, 6e10, 1e11])  # B and E: 2 x multiply-adds
    assert pp.slope == pytest.approx(np.polyfit(x3, y, 1)[0])


def test_with_year_matches_numpy_least_squares(authors):
    f = _fit(
        authors, benchmark="imagenet", measure="network-ops", model="polynomial", with_year=True
    )
    x = np.array([18.0, 19, 20, 21, 22])
    year = np.array([2012, 2014, 2016, 2018, 2019]) - 2012
    y = np.log10(1 / (1 - np.array([60, 70, 76, 80, 83]) / 100))
    design = np.column_stack([np.ones(5), x, year])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    assert (f.intercept, f.slope, f.year_slope) == pytest.approx(tuple(coef))
    resid = y - design @ coef
    se = math.sqrt(resid @ resid / 2 * np.linalg.inv(design.T @ design)[2, 2])
    t = 4.302652729911275  # t(0.975, df = 2)
    assert f.year_ci == pytest.approx((coef[2] - t * se, coef[2] + t * se))
    assert f.r_squared == pytest.approx(1 - resid @ resid / np.sum((y - y.mean()) ** 2))
    report = fit_report(
        FitRequest(
            published_from=authors,
            benchmark="imagenet",
            measure="network-ops",
            model="polynomial",
            with_year=True,
        )
    )
    assert any("year coefficient" in n for n in report.notes) and not report.projections


def test_until_drops_later_rows_and_says_the_resolution(authors):
    report = fit_report(
        FitRequest(
            published_from=authors,
            benchmark="imagenet",
            measure="per-pass",
            model="polynomial",
            until="2018-07",
        )
    )
    assert report.results[0].n == 4  # A-D; E (2019) and F (2021) dropped
    note = next(n for n in report.notes if n.startswith("--until 2018-07"))
    assert "3 later dropped" in note  # E, F and COCO Q and "1 of 2018 are kept" in note
    with pytest.raises(HarnessError, match="YYYY-MM"):
        fit_report(FitRequest(published_from=authors, until="July 2020"))


def test_shipped_points_say_network_ops_is_not_available():
    with pytest.raises(HarnessError, match="imagenet: network-ops not available"):
        fit_report(FitRequest(benchmark="imagenet", measure="network-ops"))
    report = fit_report(FitRequest(measure="network-ops"))
    assert len(report.results) == 12
    assert all("not available" in r.reason for r in report.results)


def test_cli_path(authors, tmp_path, capsys):
    args = ["fit", "--published-from", authors, "--benchmark", "imagenet", "--json"]
    assert main([*args, "--measure", "burden-consolidated", "--model", "polynomial"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fits"][0]["n"] == 6 and any("imputed" in n for n in out["notes"])
    assert main(["fit", "--published-from", str(tmp_path / "none")]) != 0
    err = capsys.readouterr().err
    assert "no such folder" in err and len(err.strip().splitlines()) == 1
    assert main(["fit", "--measure", "burden", "--burden-conversion", "1,1"]) != 0
