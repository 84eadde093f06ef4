"""The paper's regressions: published figures, recovery of known exponents, extrapolation."""

from __future__ import annotations

import csv
import json
import math
import re
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.extrapolate import extrapolate
from harness.analysis.fit import Fit, FitSkipped, fit, fit_all, fit_points
from harness.analysis.measured import fit_with_measured, measured_frame
from harness.analysis.tables import fit_rows, projection_rows, to_jsonable
from harness.catalog.published import load_published
from harness.cli import main
from harness.console import format_table
from harness.cost.conversions import PaperConversion
from harness.errors import HarnessError


@pytest.fixture(scope="module")
def published():
    return load_published()


def synthetic(model: str, a: float, b: float, sd: float, n: int, seed: int) -> pd.DataFrame:
    """Points drawn from the model itself: y = a + b log10 C + N(0, sd^2)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(9, 13, n)
    y = a + b * x + rng.normal(0, sd, n)
    perf = 10**y if model == "polynomial" else y
    return pd.DataFrame(
        {
            "benchmark": "synthetic",
            "model": [f"m{i}" for i in range(n)],
            "error": 1 / perf,
            "compute_flops": 10**x,
            "source": "published",
            "flagged": False,
        }
    )


def exact_points(model: str, a: float, b: float) -> pd.DataFrame:
    """Five points whose residuals are orthogonal to (1, x): OLS returns exactly (a, b)."""
    x = 10 + np.array([-2.0, -1, 0, 1, 2])
    e = 0.01 * np.array([1.0, -2, 0, 2, -1])
    y = a + b * x + e
    perf = 10**y if model == "polynomial" else y
    return pd.DataFrame(
        {
            "benchmark": "imagenet",
            "model": list("abcde"),
            "error": 1 / perf,
            "compute_flops": 10**x,
            "source": "published",
            "flagged": False,
        }
    )


REFERENCE = Path(__file__).resolve().parents[2] / "harness" / "data" / "reference"


def imagenet_points_from_csv() -> tuple[np.ndarray, np.ndarray]:
    """(log10 C, log10 P) of the ImageNet rows with compute, read with the csv module alone:
    C = 2 x GMACs x 1e9 FLOP per pass, P = 1/error with error = 1 - top-1/100 (the paper's
    performance)."""
    with open(REFERENCE / "imagenet.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["gmacs_per_pass"].strip()]
    for r in rows:  # the error column is 100 - value, as the reference README defines it
        assert float(r["error"]) == pytest.approx(100 - float(r["value"]))
    compute = np.array([2 * float(r["gmacs_per_pass"]) * 1e9 for r in rows])
    error = np.array([1 - float(r["value"]) / 100 for r in rows])
    return np.log10(compute), np.log10(1 / error)


def closed_form_ols(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Slope, intercept, R^2 and the slope's 95% t interval by the textbook formulas."""
    from scipy import stats

    n = len(x)
    sxx = float(np.sum((x - x.mean()) ** 2))
    sxy = float(np.sum((x - x.mean()) * (y - y.mean())))
    syy = float(np.sum((y - y.mean()) ** 2))
    slope = sxy / sxx
    intercept = float(y.mean() - slope * x.mean())
    resid = y - intercept - slope * x
    se = math.sqrt(float(np.sum(resid**2)) / (n - 2) / sxx)
    t = float(stats.t.ppf(0.975, n - 2))
    return {
        "n": n,
        "slope": slope,
        "intercept": intercept,
        "r_squared": sxy * sxy / (sxx * syy),
        "slope_ci": (slope - t * se, slope + t * se),
    }


def test_imagenet_fit_matches_an_independent_least_squares(published):
    """The harness's ImageNet per-pass polynomial fit equals OLS done here from the CSV."""
    x, y = imagenet_points_from_csv()
    want = closed_form_ols(x, y)
    b, a = np.polyfit(x, y, 1)  # a second, independent route to the same line
    assert (want["slope"], want["intercept"]) == pytest.approx((b, a), rel=1e-9)
    f = fit(published, "imagenet", "per-pass", "polynomial")
    assert f.n == want["n"] == 34
    assert f.slope == pytest.approx(want["slope"], rel=1e-9)
    assert f.intercept == pytest.approx(want["intercept"], rel=1e-9)
    assert f.r_squared == pytest.approx(want["r_squared"], rel=1e-9)
    assert f.k == pytest.approx(1 / want["slope"], rel=1e-9)
    assert f.slope_ci == pytest.approx(want["slope_ci"], rel=1e-9)
    assert f.significant and f.n_flagged > 0
    lo, hi = f.k_ci
    assert lo < 9 < hi  # the paper's "O(Performance^9)" lies in the interval


def test_reference_readme_states_the_independent_figures():
    """The reference README's quick check (slope, k, R^2, row count) agrees with OLS done here."""
    text = " ".join((REFERENCE / "README.md").read_text(encoding="utf-8").split())
    m = re.search(
        r"over the (\d+) ImageNet rows with compute gives slope ([\d.]+) "
        r"\(k = 1/slope = ([\d.]+), R\^2 = ([\d.]+)\)",
        text,
    )
    assert m, "the README's quick check moved or changed its wording"
    want = closed_form_ols(*imagenet_points_from_csv())
    assert int(m.group(1)) == want["n"]
    assert float(m.group(2)) == round(want["slope"], 3)
    assert float(m.group(3)) == round(1 / want["slope"], 1)
    assert float(m.group(4)) == round(want["r_squared"], 2)


@pytest.mark.parametrize(
    ("model", "a", "b", "sd"), [("polynomial", -0.5, 0.1, 0.03), ("exponential", -10.0, 1.5, 0.2)]
)
def test_recovers_known_exponent_within_ci(model, a, b, sd):
    f = fit_points(synthetic(model, a, b, sd, 40, seed=1), model, "synthetic", "per-pass")
    assert f.slope_ci[0] < b < f.slope_ci[1]
    assert f.k_ci[0] < 1 / b < f.k_ci[1]
    assert f.intercept_ci[0] < a < f.intercept_ci[1]


def test_ci_coverage_is_about_95_percent():
    hits = 0
    for seed in range(100):
        f = fit_points(
            synthetic("polynomial", -0.5, 0.1, 0.05, 12, seed), "polynomial", "s", "per-pass"
        )
        hits += f.k_ci[0] < 10 < f.k_ci[1]
    assert 0.88 <= hits / 100 <= 0.99


def test_inverse_slope_and_reverse_direction():
    pts = synthetic("polynomial", -0.5, 0.1, 0.05, 30, seed=3)
    f = fit_points(pts, "polynomial", "synthetic", "per-pass")
    assert f.k == pytest.approx(1 / f.slope)
    assert f.k_ci == pytest.approx((1 / f.slope_ci[1], 1 / f.slope_ci[0]))
    # reverse regression of log10 C on log10 P, computed independently, has slope R^2 x k
    x = np.log10(pts["compute_flops"])
    y = np.log10(1 / pts["error"])
    reverse_slope = np.polyfit(y, x, 1)[0]
    assert f.k_reverse == pytest.approx(reverse_slope)
    assert f.k_reverse < f.k


def test_not_significant_fit_is_said_plainly():
    rng = np.random.default_rng(0)
    pts = pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(6)],
            "error": rng.uniform(0.2, 0.3, 6),
            "compute_flops": 10 ** rng.uniform(9, 12, 6),
            "source": "published",
            "flagged": False,
        }
    )
    f = fit_points(pts, "polynomial", "x", "burden")
    assert not f.significant and not f.k_bounded
    assert "NOT significant" in f.verdict
    assert math.isinf(f.k_ci[1] if f.slope > 0 else f.k_ci[0])
    row = fit_rows([f])[0]
    assert "unbounded" in row["k"]
    with pytest.raises(HarnessError, match="not significant"):
        extrapolate(f)


def test_wmt_en_de_has_no_significant_fit(published):
    """The paper found no significant fit for WMT En-De; neither do the published points."""
    for r in fit_all(published, benchmarks=["wmt14_en_de"]):
        assert isinstance(r, FitSkipped) or not r.significant


def test_polynomial_extrapolation_arithmetic():
    a, b = 0.0, 0.1
    f = fit_points(exact_points("polynomial", a, b), "polynomial", "imagenet", "burden")
    assert (f.intercept, f.slope) == pytest.approx((a, b))
    rows = extrapolate(f, conversion=PaperConversion.strubell())
    assert [r.label for r in rows] == ["Today", "Target 1", "Target 2"]
    assert [r.error for r in rows[1:]] == [0.05, 0.01]  # the paper's ImageNet targets
    t1 = rows[1]
    # 5% error: P = 20; log10 C = (log10 20 - 0) / 0.1
    assert t1.log10_flops == pytest.approx(math.log10(20) / 0.1)
    flops = 10**t1.log10_flops
    strubell_burden = 8 * 9.3e12 * 84 * 3600  # 8 x P100 (9.3 TFLOPS fp32) x 84 h
    assert 10 ** t1.log10_co2_lbs()[0] == pytest.approx(flops * 192 / strubell_burden)
    assert 10 ** t1.log10_co2_kg()[0] == pytest.approx(
        flops * 192 / strubell_burden / 2.20462262185
    )
    lo_usd, hi_usd = (10**v for v in t1.log10_usd())
    assert (lo_usd, hi_usd) == pytest.approx(
        (flops * 289 / strubell_burden, flops * 981 / strubell_burden)
    )
    # Today = best error among the fitted points
    assert rows[0].error == pytest.approx(f.best_error)


def test_exponential_extrapolation_arithmetic():
    a, b = -10.0, 1.5
    f = fit_points(exact_points("exponential", a, b), "exponential", "coco", "per-pass")
    rows = extrapolate(f, targets=[0.05])
    # P = 20 = a + b x  ->  x = 30 / 1.5
    assert rows[1].log10_flops == pytest.approx((20 - a) / b)
    assert rows[1].log10_co2_lbs() is None  # per-pass compute is not a training cost
    assert projection_rows(rows)[1]["co2_lbs"].startswith("n/a")


def test_band_meets_the_fitted_line_band():
    """Fieller's bounds are where the 95% confidence band of the mean line reaches the target."""
    import statsmodels.api as sm

    pts = synthetic("polynomial", -0.5, 0.1, 0.05, 20, seed=5)
    f = fit_points(pts, "polynomial", "imagenet", "per-pass")
    x0, lo, hi = f.log10_compute_for(0.1)
    x = np.log10(pts["compute_flops"].to_numpy())
    y = np.log10(1 / pts["error"].to_numpy())
    res = sm.OLS(y, sm.add_constant(x)).fit()
    band = res.get_prediction(np.array([[1.0, lo], [1.0, hi]])).conf_int(alpha=0.05)
    assert lo < x0 < hi
    assert band[0, 1] == pytest.approx(1.0)  # upper band at the low bound meets log10(1/0.1)
    assert band[1, 0] == pytest.approx(1.0)  # lower band at the high bound


@pytest.mark.parametrize(
    ("frame_change", "message"),
    [
        (lambda d: d.iloc[:2], "at least 3"),
        (lambda d: d.assign(error=d["error"] * 100), "outside \\(0, 1\\)"),
        (lambda d: d.assign(compute_flops=-d["compute_flops"]), "not a positive number"),
        (lambda d: d.assign(compute_flops=0.0), "not a positive number"),
    ],
)
def test_bad_points_are_clear_errors_without_warnings(frame_change, message):
    pts = frame_change(exact_points("polynomial", 0.0, 0.1)).assign(benchmark="imagenet")
    pts["per_pass_flops"] = pts["compute_flops"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(HarnessError, match=message):
            fit(pts, "imagenet", "per-pass")


def test_benchmark_without_data(published):
    with pytest.raises(HarnessError, match="no data for benchmark 'mnist'"):
        fit(published, "mnist", "per-pass")
    with pytest.raises(HarnessError, match="0 point"):
        fit(published, "squad11", "per-pass")


def test_tables_never_show_nan(published):
    results = fit_all(published)
    text = format_table(fit_rows(results))
    assert "nan" not in text.lower()
    projections = [
        p for r in results if isinstance(r, Fit) and r.significant for p in extrapolate(r)
    ]
    text = format_table(projection_rows(projections))
    assert "nan" not in text.lower() and "inf" not in text.lower()
    json.dumps(to_jsonable(results + projections), allow_nan=False)


def test_flagged_rows_can_be_excluded(published):
    all_rows = fit(published, "imagenet", "per-pass")
    strict = fit(published, "imagenet", "per-pass", exclude_flagged=True)
    assert strict.n == all_rows.n - all_rows.n_flagged and strict.n_flagged == 0


def measured_rows():
    return [
        {
            "benchmark": "imagenet",
            "model": "resnet50",
            "error": 0.239,
            "per_pass_flops": 8.2e9,
            "burden_flops": 2e19,
        },
        {
            "benchmark": "imagenet",
            "model": "vit_b_16",
            "error": 0.189,
            "per_pass_flops": 3.5e10,
            "burden_flops": None,
        },
        {
            "benchmark": "imagenet",
            "model": "mobilenet_v3",
            "error": 0.26,
            "per_pass_flops": 4.4e8,
            "burden_flops": 3e18,
        },
        {
            "benchmark": "imagenet",
            "model": "efficientnet_b7",
            "error": 0.157,
            "per_pass_flops": 1.05e11,
            "burden_flops": 4e20,
        },
    ]


def test_measured_points_fit_separately_and_pooled(published):
    measured = measured_frame(measured_rows())
    out = fit_with_measured(published, measured, "imagenet", "per-pass")
    by_label = {r.points: r for r in out}
    assert set(by_label) == {"published", "measured", "pooled"}
    assert by_label["measured"].n == 4 and by_label["measured"].n_measured == 4
    assert by_label["pooled"].n == by_label["published"].n + 4
    burden = {r.points: r for r in fit_with_measured(published, measured, "imagenet", "burden")}
    assert burden["measured"].n == 3  # the row without burden is left out of burden fits


def test_measured_bad_input():
    rows = measured_rows()
    with pytest.raises(HarnessError, match="missing: burden_flops"):
        measured_frame([{k: v for k, v in r.items() if k != "burden_flops"} for r in rows])
    with pytest.raises(HarnessError, match="outside \\(0, 1\\)"):
        measured_frame([{**rows[0], "error": 23.9}])
    with pytest.raises(HarnessError, match="positive"):
        measured_frame([{**rows[0], "per_pass_flops": 0}])


def test_cli_fit_json_and_tables(capsys):
    assert main(["fit", "--benchmark", "imagenet", "--measure", "per-pass", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    poly = next(f for f in payload["fits"] if f["model"] == "polynomial")
    assert round(poly["k"], 1) == 9.7 and "performance on compute" in poly["direction"]
    assert payload["points"][0]["rows"][0]["citation"]
    assert main(["fit", "--target", "10%"]) == 0
    out = capsys.readouterr().out
    assert "performance regressed on compute" in out
    assert "NOT significant" in out and "Target 1" in out


def test_cli_fit_bad_benchmark_measure(capsys):
    assert main(["fit", "--benchmark", "squad11", "--measure", "per-pass"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("harness fit: error:") and "\n" not in err


def test_cli_with_measured_csv_and_sqlite(tmp_path, capsys):
    df = pd.DataFrame(measured_rows())
    csv = tmp_path / "m.csv"
    df.to_csv(csv, index=False)
    assert main(["fit", "--with-measured", str(csv), "--measure", "per-pass"]) == 0
    out = capsys.readouterr().out
    assert "pooled" in out and "measured 4" in out
    db = tmp_path / "results.db"
    with sqlite3.connect(db) as con:
        df.to_sql("measurements", con, index=False)
    assert main(["fit", "--with-measured", str(db), "--measure", "per-pass", "--json"]) == 0
    labels = {f["points"] for f in json.loads(capsys.readouterr().out)["fits"]}
    assert labels == {"published", "measured", "pooled"}
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert main(["fit", "--with-measured", str(empty)]) == 2
    assert "no table or view" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_fit_plots(tmp_path, capsys):
    csv = tmp_path / "m.csv"
    pd.DataFrame(measured_rows()).to_csv(csv, index=False)
    plots = tmp_path / "plots"
    args = ["fit", "--with-measured", str(csv), "--measure", "per-pass", "--plot", str(plots)]
    assert main(args) == 0
    assert (plots / "fit_imagenet_per-pass.png").stat().st_size > 0
    assert (plots / "fit_imagenet_per-pass.svg").exists()
