"""`harness fit` without the command line: the request, the report, its JSON and its text."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.analysis.fit import Fit, FitSkipped, fit
from harness.analysis.fit_report import FitRequest, fit_report
from harness.catalog.published import load_published
from harness.cli import main
from harness.errors import HarnessError
from harness.present.fit_text import fit_report_text


def test_one_benchmark_report_equals_the_single_fits():
    report = fit_report(FitRequest(benchmark="imagenet", measure="per-pass"))
    assert report.benchmarks == ("imagenet",) and report.measures == ("per-pass",)
    assert not report.with_measured
    published = load_published()
    for r in report.results:
        assert isinstance(r, Fit)
        assert r.slope == fit(published, "imagenet", "per-pass", r.model).slope
    assert [p.label for p in report.projections][:3] == ["Today", "Target 1", "Target 2"]
    assert [(t.benchmark, t.measure, t.label) for t in report.point_tables] == [
        ("imagenet", "per-pass", "published")
    ]
    assert len(report.point_tables[0].points) == report.results[0].n


def test_the_only_fit_asked_for_fails_loudly_others_become_rows():
    with pytest.raises(HarnessError, match="0 point"):
        fit_report(FitRequest(benchmark="squad11", measure="per-pass"))
    report = fit_report(FitRequest(benchmark="squad11"))
    assert any(isinstance(r, FitSkipped) for r in report.results)


def test_targets_and_measured_points(tmp_path):
    csv = tmp_path / "m.csv"
    pd.DataFrame(
        {
            "benchmark": ["imagenet"] * 3,
            "model": ["a", "b", "c"],
            "error": [0.3, 0.25, 0.2],
            "per_pass_flops": [1e9, 4e9, 2e10],
            "burden_flops": [1e18, 8e18, 9e19],
        }
    ).to_csv(csv, index=False)
    request = FitRequest(measure="per-pass", with_measured=str(csv), targets=(0.1,))
    report = fit_report(request)
    assert report.with_measured and report.measured_source == str(csv)
    assert report.benchmarks == ("imagenet",)  # only the measured rows' benchmarks
    assert {r.points for r in report.results} == {"published", "measured", "pooled"}
    assert {p.error for p in report.projections if p.label == "Target 1"} == {0.1}


def test_json_and_text_are_what_the_command_prints(capsys):
    args = ["fit", "--benchmark", "imagenet", "--measure", "per-pass"]
    report = fit_report(FitRequest(benchmark="imagenet", measure="per-pass"))
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report.to_json()))
    assert main(args) == 0
    assert capsys.readouterr().out == fit_report_text(report) + "\n"
