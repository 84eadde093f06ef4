"""Other dependent variables (error, score) and quantile regression, as the authors' notebooks
fit them: coefficients against least squares and QuantReg computed here on synthetic points,
a quantile line through known points, the report, the JSON and the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from harness.analysis.dependent import dependent_values
from harness.analysis.estimator import estimate_line
from harness.analysis.fit import fit_points, transform
from harness.analysis.fit_report import FitRequest, fit_report
from harness.analysis.regressors import YEAR_BASE, fit_with_year
from harness.analysis.tables import fit_rows, to_jsonable
from harness.cli import main
from harness.errors import HarnessError


def points(n: int = 40, seed: int = 3) -> pd.DataFrame:
    """Errors falling with compute, with scatter: error = 0.6 x C^-0.05 x noise, in (0, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(15, 23, n)
    error = np.clip(0.6 * 10 ** (-0.05 * (x - 15)) * rng.lognormal(0, 0.15, n), 0.01, 0.99)
    return pd.DataFrame(
        {
            "model": [f"m{i}" for i in range(n)],
            "year": rng.integers(2012, 2023, n),
            "error": error,
            "compute_flops": 10**x,
            "flagged": False,
        }
    )


def lstsq(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Intercept, slope and R^2 by numpy least squares."""
    design = np.column_stack([np.ones_like(x), x])
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - (a + b * x)
    return float(a), float(b), float(1 - resid @ resid / np.sum((y - y.mean()) ** 2))


@pytest.mark.parametrize(
    ("dependent", "model", "make_y"),
    [
        ("error", "polynomial", lambda e: np.log10(e)),
        ("error", "exponential", lambda e: e),
        ("score", "polynomial", lambda e: np.log10(1 - e)),
        ("score", "exponential", lambda e: 1 - e),
        ("inverse-error", "polynomial", lambda e: np.log10(1 / e)),
        ("inverse-error", "exponential", lambda e: 1 / e),
    ],
)
def test_dependent_variables_match_least_squares(dependent, model, make_y):
    pts = points()
    x = np.log10(pts["compute_flops"].to_numpy())
    a, b, r2 = lstsq(x, make_y(pts["error"].to_numpy()))
    f = fit_points(pts, model, "imagenet", "per-pass", dependent=dependent)
    assert (f.intercept, f.slope, f.r_squared) == pytest.approx((a, b, r2), rel=1e-9)
    assert f.dependent == dependent and f.quantile is None and f.n == len(pts)


def test_default_dependent_is_the_papers_performance():
    e = np.array([0.5, 0.2, 0.1])
    assert np.array_equal(transform("polynomial", e), np.log10(1.0 / e))
    assert np.array_equal(dependent_values("exponential", e), 1.0 / e)
    with pytest.raises(HarnessError, match="unknown dependent variable 'foo'"):
        dependent_values("polynomial", e, "foo")


def test_quantile_fit_matches_quantreg_called_directly():
    pts = points(n=80, seed=5)
    x = np.log10(pts["compute_flops"].to_numpy())
    y = np.log10(pts["error"].to_numpy())
    ref = sm.QuantReg(y, sm.add_constant(x)).fit(q=0.25)
    f = fit_points(pts, "polynomial", "imagenet", "per-pass", dependent="error", quantile=0.25)
    assert (f.intercept, f.slope) == pytest.approx(tuple(ref.params), rel=1e-9)
    ci = np.asarray(ref.conf_int(0.05))
    assert f.intercept_ci == pytest.approx(tuple(ci[0]), rel=1e-9)
    assert f.slope_ci == pytest.approx(tuple(ci[1]), rel=1e-9)
    assert f.r_squared == pytest.approx(ref.prsquared, rel=1e-9)
    assert f.p_value == pytest.approx(ref.pvalues[1], rel=1e-9)
    assert f.quantile == 0.25 and f.df_resid == len(pts) - 2


def test_low_quantile_line_runs_through_the_lowest_points():
    # y = 1 + 2x at x = 0..4, and two points above each: the 0.1 quantile line is y = 1 + 2x
    # (moving it up costs 0.9 per point below vs 0.1 x 2 gained; down costs 0.1 x 3)
    x = np.repeat(np.arange(5.0), 3)
    y = 1 + 2 * x + np.tile([0.0, 0.5, 1.5], 5)
    est = estimate_line(x, y, quantile=0.1)
    assert est.params == pytest.approx((1.0, 2.0), abs=1e-4)
    median = estimate_line(x, y, quantile=0.5)  # the middle point of each x: y = 1.5 + 2x
    assert median.params == pytest.approx((1.5, 2.0), abs=1e-4)


def test_quantile_without_an_interval_is_refused():
    with pytest.raises(HarnessError, match="quantile's interval is undefined for 12 points"):
        fit_points(points(n=12), "polynomial", "imagenet", "per-pass", quantile=0.1)
    with pytest.raises(HarnessError, match="quantile 1.5 is outside"):
        estimate_line(np.arange(5.0), np.arange(5.0), quantile=1.5)


def test_year_regressor_takes_the_dependent_variable():
    pts = points()
    x = np.log10(pts["compute_flops"].to_numpy())
    design = np.column_stack([np.ones_like(x), x, pts["year"].to_numpy() - YEAR_BASE])
    coef, *_ = np.linalg.lstsq(design, pts["error"].to_numpy(), rcond=None)
    f = fit_with_year(pts, "exponential", "imagenet", "per-pass", dependent="error")
    assert (f.intercept, f.slope, f.year_slope) == pytest.approx(tuple(coef), rel=1e-9)


def test_rows_and_json_say_what_was_fitted():
    pts = points(n=80, seed=5)
    paper = fit_points(pts, "polynomial", "imagenet", "per-pass")
    d = to_jsonable(paper)
    assert "dependent" not in d and "quantile" not in d and "y" not in d
    q = fit_points(pts, "polynomial", "imagenet", "per-pass", dependent="error", quantile=0.1)
    d = to_jsonable(q)
    assert d["y"] == "log10(error)" and d["quantile"] == 0.1 and d["dependent"] == "error"
    assert "QuantReg" in d["estimator"] and d["k"] is None and d["k_reverse"] is None
    row = fit_rows([q])[0]
    assert row["model"] == "polynomial: log10(error), quantile 0.1"
    assert row["R2"].endswith("(pseudo)") and row["k"].startswith("n/a")
    inv_q = fit_points(pts, "polynomial", "imagenet", "per-pass", quantile=0.1)
    assert fit_rows([inv_q])[0]["k"] != "n/a (y is not 1/error)"  # k = 1/slope still applies
    assert to_jsonable(inv_q)["k"] == pytest.approx(1 / inv_q.slope)


# name, year, flops, multiadds, network ops, burden, top-1: in the authors' file layout
HEADER = "name,year,flops,multiadds,network_operations,hardware_burden,(TOP 1 score)\n"
HEADER += "name,year,ops,,net_ops,hw_burden,performance\n,,flops,multiadds,,,score\n,,,,,,\n"


@pytest.fixture
def authors(tmp_path):
    data = tmp_path / "repo" / "data"
    data.mkdir(parents=True)
    pts = points(n=30, seed=7)
    lines = [
        f"M{i},{r.year},{r.compute_flops:.6g},,{r.compute_flops * 1e9:.6g},,"
        f"{100 * (1 - r.error):.4f}"
        for i, r in enumerate(pts.itertuples())
    ]
    (data / "image-classification-on-imagenet.csv").write_text(HEADER + "\n".join(lines) + "\n")
    return str(tmp_path / "repo")


def test_report_on_the_authors_layout_is_not_extrapolated(authors):
    req = FitRequest(
        published_from=authors,
        benchmark="imagenet",
        measure="per-pass",
        model="exponential",
        dependent="score",
    )
    report = fit_report(req)
    (f,) = report.results
    x = np.log10(report.point_tables[0].points["compute_flops"].to_numpy())
    a, b, _ = lstsq(x, 1 - report.point_tables[0].points["error"].to_numpy())
    assert (f.intercept, f.slope) == pytest.approx((a, b), rel=1e-9)
    assert not report.projections and "not extrapolated" in report.not_extrapolated[0]
    assert any(n.startswith("Dependent variable: log10(score) or score") for n in report.notes)
    with pytest.raises(HarnessError, match="--quantile with --with-year"):
        fit_report(FitRequest(published_from=authors, quantile=0.5, with_year=True))
    with pytest.raises(HarnessError, match="unknown dependent variable"):
        fit_report(FitRequest(published_from=authors, dependent="log"))


def test_cli_paths(authors, capsys):
    base = ["fit", "--published-from", authors, "--benchmark", "imagenet"]
    args = [*base, "--measure", "network-ops", "--model", "polynomial", "--dependent", "error"]
    assert main([*args, "--quantile", "0.25", "--json"]) == 0
    (f,) = json.loads(capsys.readouterr().out)["fits"]
    assert f["measure"] == "network-ops" and f["quantile"] == 0.25 and f["n"] == 30
    assert f["y"] == "log10(error)" and "QuantReg" in f["estimator"]
    assert main([*args, "--quantile", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "polynomial: log10(error), quantile 0.5" in out and "QuantReg" in out
    assert main(["fit", "--benchmark", "imagenet", "--dependent", "error", "--json"]) == 0
    fits = json.loads(capsys.readouterr().out)["fits"]  # the shipped points take it too
    assert {f["y"] for f in fits if not f.get("skipped")} == {"log10(error)", "error"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--quantile", "0"], "--quantile '0' is outside (0, 1)"),
        (["--quantile", "abc"], "--quantile 'abc' is not a number"),
        (["--dependent", "log-err"], "invalid choice: 'log-err'"),
        (["--quantile", "0.5", "--with-year"], "--quantile with --with-year is not supported"),
        (["--dependent", "score", "--paper-table"], "--paper-table shows the paper's OLS"),
        (["--quantile", "0.5", "--plot", "plots"], "--plot shows the paper's OLS"),
    ],
)
def test_bad_option_values_are_one_line_errors(extra, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["fit", *extra])
    except SystemExit as exc:  # argparse's own refusals exit
        code = exc.code
    assert code != 0
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "plots").exists()


def test_the_table_names_the_quantile_estimator():
    from harness.analysis.fit_report import FitRequest, fit_report
    from harness.present.fit_text import fit_report_text

    request = FitRequest(
        benchmark="imagenet",
        measure="per-pass",
        model="polynomial",
        dependent="error",
        quantile=0.5,
    )
    text = fit_report_text(fit_report(request))
    assert text.startswith("Scaling-law fits (quantile regression at q = 0.5, 95% CIs).")
    plain = fit_report_text(fit_report(FitRequest(benchmark="imagenet", measure="per-pass")))
    assert plain.startswith("Scaling-law fits (OLS, 95% CIs).")
