"""The line through the points: OLS (the paper's) or a quantile regression (the authors'
robustness check, statsmodels QuantReg as their ImageNet notebook calls it).

A quantile line follows the q-th quantile of y at each compute, e.g. q = 0.1 the best-performing
tenth, so a few weak models do not pull it. Its interval is QuantReg's default (robust sandwich,
Epanechnikov kernel, Hall-Sheather bandwidth) and its R^2 is Koenker and Machado's pseudo-R^2.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessError

ALPHA = 0.05


@dataclass(frozen=True)
class LineEstimate:
    """Intercept and slope of y on x, with their 95% intervals and covariance."""

    params: tuple[float, float]
    ci: tuple[tuple[float, float], tuple[float, float]]
    cov: tuple[tuple[float, float], tuple[float, float]]
    df_resid: int
    r_squared: float  # pseudo-R^2 for a quantile line
    p_value: float  # of the slope
    resid_var: float = math.nan  # OLS residual variance s^2 (statsmodels' scale); NaN: quantile


def check_quantile(quantile: float | None) -> None:
    """Refuse a quantile outside (0, 1)."""
    if quantile is None:
        return
    if not (isinstance(quantile, (int, float)) and math.isfinite(quantile) and 0 < quantile < 1):
        raise HarnessError(f"quantile {quantile!r} is outside (0, 1) (e.g. 0.1 or 0.5)")


def describe_estimator(quantile: float | None) -> str:
    """The estimator as text."""
    if quantile is None:
        return "OLS"
    return f"quantile regression, q = {quantile:g} (statsmodels QuantReg)"


def estimate_line(x: np.ndarray, y: np.ndarray, quantile: float | None = None) -> LineEstimate:
    """OLS of y on x, or the `quantile` line when given."""
    import statsmodels.api as sm

    check_quantile(quantile)
    design = sm.add_constant(x)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if quantile is None:
            res = sm.OLS(y, design).fit()
            r2 = float(res.rsquared)
            scale = float(res.scale)
        else:
            res = sm.QuantReg(y, design).fit(q=quantile)
            r2 = float(res.prsquared)
            scale = math.nan  # a quantile line has no residual variance to predict with
        ci = np.asarray(res.conf_int(ALPHA))
        cov = np.asarray(res.cov_params())
        pval = float(res.pvalues[1])
    return LineEstimate(
        params=(float(res.params[0]), float(res.params[1])),
        ci=((float(ci[0, 0]), float(ci[0, 1])), (float(ci[1, 0]), float(ci[1, 1]))),
        cov=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        df_resid=int(res.df_resid),
        r_squared=r2,
        p_value=pval,
        resid_var=scale,
    )
