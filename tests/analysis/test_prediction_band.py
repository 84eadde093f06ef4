"""The prediction interval for a new network: statsmodels' observation interval, its inversion
for compute, and its coverage of the published ImageNet networks, each held out in turn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from harness.analysis.authors_fit import published_points
from harness.analysis.fit import fit, fit_points, select_points


@pytest.fixture(scope="module")
def imagenet_points():
    return select_points(published_points("imagenet", None), "imagenet", "per-pass")


def _xy(points):
    return np.log10(points["compute_flops"].to_numpy()), np.log10(1 / points["error"].to_numpy())


def test_bands_are_statsmodels_mean_and_observation_intervals(imagenet_points):
    f = fit_points(imagenet_points, "polynomial", "imagenet", "per-pass")
    x, y = _xy(imagenet_points)
    res = sm.OLS(y, sm.add_constant(x)).fit()
    grid = np.linspace(x.min() - 1, x.max() + 1, 7)
    frame = res.get_prediction(sm.add_constant(grid)).summary_frame(0.05)
    lo, hi = f.prediction_band(grid)
    assert lo == pytest.approx(frame["obs_ci_lower"].to_numpy(), rel=1e-9)
    assert hi == pytest.approx(frame["obs_ci_upper"].to_numpy(), rel=1e-9)
    c_lo, c_hi = f.band(grid)
    assert c_lo == pytest.approx(frame["mean_ci_lower"].to_numpy(), rel=1e-9)
    assert np.all(hi - lo > c_hi - c_lo)  # the scatter of networks widens it everywhere


def test_the_compute_range_is_where_the_prediction_interval_holds_the_error(imagenet_points):
    """log10_compute_predicted(e) is the set of x whose prediction interval contains y(e): at its
    ends statsmodels' obs_ci reaches y(e) exactly. It is not the reverse regression's interval."""
    f = fit_points(imagenet_points, "polynomial", "imagenet", "per-pass")
    x, y = _xy(imagenet_points)
    res = sm.OLS(y, sm.add_constant(x)).fit()
    error = 0.2
    y0 = math.log10(1 / error)
    x0, lo, hi = f.log10_compute_predicted(error)
    assert lo < x0 < hi
    ends = res.get_prediction(sm.add_constant(np.array([lo, hi]))).summary_frame(0.05)
    assert ends["obs_ci_upper"].iloc[0] == pytest.approx(y0, abs=1e-9)  # low compute: upper edge
    assert ends["obs_ci_lower"].iloc[1] == pytest.approx(y0, abs=1e-9)
    c_lo, c_hi = f.log10_compute_for(error)[1:]
    assert lo < c_lo < c_hi < hi  # wider than the line's confidence band
    rev = sm.OLS(x, sm.add_constant(y)).fit()  # compute on performance: another quantity
    r = rev.get_prediction(np.array([[1.0, y0]])).summary_frame(0.05)
    assert abs(r["obs_ci_upper"].iloc[0] - hi) > 0.1


def test_held_out_published_networks_fall_in_the_prediction_band(imagenet_points, capsys):
    """Leave-one-out: each published ImageNet network against the fit of the other 33. About
    95% lie in the prediction interval; the line's confidence band holds far fewer."""
    n = len(imagenet_points)
    in_pred = in_conf = 0
    for i in range(n):
        rest = imagenet_points.drop(index=i).reset_index(drop=True)
        f = fit_points(rest, "polynomial", "imagenet", "per-pass")
        row = imagenet_points.iloc[i]
        x = math.log10(row["compute_flops"])
        _, lo, hi = f.log10_compute_predicted(float(row["error"]))
        _, c_lo, c_hi = f.log10_compute_for(float(row["error"]))
        in_pred += lo <= x <= hi
        in_conf += c_lo <= x <= c_hi
        # the same held-out point, read the other way: its y in the band at its x
        b_lo, b_hi = f.prediction_band(np.array([x]))
        y = math.log10(1 / row["error"])
        assert (lo <= x <= hi) == bool(b_lo[0] <= y <= b_hi[0])
    with capsys.disabled():
        print(
            f"\nleave-one-out, ImageNet per-pass (n={n}): prediction band {in_pred}/{n} "
            f"({in_pred / n:.0%}), confidence band {in_conf}/{n} ({in_conf / n:.0%})"
        )
    assert n >= 30
    assert in_pred / n >= 0.85
    assert in_conf / n <= 0.5


def test_a_quantile_line_has_no_prediction_interval(imagenet_points):
    from harness.errors import HarnessError

    f = fit(published_points("imagenet", None), "imagenet", "per-pass", quantile=0.5)
    with pytest.raises(HarnessError, match="no prediction interval"):
        f.log10_compute_predicted(0.2)
