"""Statistics of per-step samples and the utilisation arithmetic built on them."""

from __future__ import annotations

import numpy as np
import pytest

from harness.cost.utilisation import utilisation
from harness.timing.stats import NOISY_IQR_RATIO, quantile, summarize

# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 101])
def test_statistics_match_numpy(n):
    rng = np.random.default_rng(n)
    xs = list(rng.lognormal(-3, 0.5, size=n))
    if n > 3:
        xs[1] = xs[2]  # ties
    s = summarize(xs)
    assert s.n == n
    assert s.median_s == pytest.approx(float(np.median(xs)), rel=1e-12)
    assert s.mean_s == pytest.approx(float(np.mean(xs)), rel=1e-12)
    q25, q75, q90 = np.percentile(xs, [25, 75, 90])
    assert s.iqr_s == pytest.approx(float(q75 - q25), rel=1e-9, abs=1e-15)
    assert s.p90_s == pytest.approx(float(q90), rel=1e-12)
    assert s.min_s == min(xs) and s.max_s == max(xs)


def test_noisy_flag_at_iqr_over_median_of_a_tenth():
    assert NOISY_IQR_RATIO == 0.1
    # [0.8, 1, 1.2]: quartiles 0.9 and 1.1, IQR/median = 0.2
    assert summarize([0.8, 1.0, 1.2]).noisy
    # [0.96, 1, 1.04]: IQR/median = 0.04
    quiet = summarize([0.96, 1.0, 1.04])
    assert not quiet.noisy and quiet.iqr_ratio == pytest.approx(0.04)
    assert not summarize([2.0] * 5).noisy


def test_quantile_rejects_bad_input():
    with pytest.raises(ValueError):
        quantile([], 0.5)
    with pytest.raises(ValueError):
        quantile([1.0], 1.5)
    with pytest.raises(ValueError):
        summarize([])


def test_utilisation_arithmetic():
    u = utilisation(1e12, 0.5, datasheet_peak_flop_per_s=1e13, measured_peak_flop_per_s=4e12)
    assert u.achieved_flop_per_s == pytest.approx(2e12)
    assert u.mfu == pytest.approx(0.2)
    assert u.mfu_measured == pytest.approx(0.5)
    assert utilisation(1e12, 0.5, datasheet_peak_flop_per_s=1e13, devices=2).mfu == pytest.approx(
        0.1
    )
    none = utilisation(None, 0.5, datasheet_peak_flop_per_s=1e13)
    assert none.achieved_flop_per_s is None and none.mfu is None
    assert utilisation(1e12, 0.5).mfu is None  # no peak, no MFU
    with pytest.raises(ValueError):
        utilisation(1e12, 0.0)
