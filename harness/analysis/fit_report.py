"""What `harness fit` computes, callable without the command line: every requested fit on the
published points (and, with measured points, on those alone and pooled), its extrapolation to
target errors, the point tables behind each fit, and the JSON form of it all."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.analysis.authors_fit import authors_points, parse_conversion
from harness.analysis.dependent import DEFAULT_DEPENDENT, check_dependent
from harness.analysis.estimator import check_quantile
from harness.analysis.extrapolate import PER_PASS_NOT_COST, Projection, extrapolate
from harness.analysis.fit import (
    ALL_MEASURES,
    EXTRA_MEASURES,
    MEASURES,
    MODELS,
    Fit,
    FitSkipped,
    fit,
    select_points,
)
from harness.analysis.measured import load_measured, pool
from harness.analysis.regressors import YearFit, cut, fit_with_year, parse_until
from harness.analysis.tables import fit_kind_note, notes_for, to_jsonable
from harness.catalog.published import DEFAULT_SQUAD_METRIC, load_published
from harness.cost.conversions import PaperConversion
from harness.errors import HarnessError
from harness.sweep.store import default_db_path
from harness.vocab import BENCHMARKS

# The columns of a point table in the JSON form.
POINT_TABLE_COLUMNS = (
    "model",
    "year",
    "error",
    "compute_flops",
    "source",
    "flagged",
    "flag_reason",
    "citation",
)


@dataclass(frozen=True)
class FitRequest:
    """Which fits to make. None means all (every benchmark, both measures, both models)."""

    benchmark: str | None = None
    measure: str | None = None
    model: str | None = None
    with_measured: str | None = None  # CSV, Parquet or SQLite path; "" = the results database
    exclude_flagged: bool = False
    targets: tuple[float, ...] | None = None  # error fractions; None = the default targets
    list_points: bool = False  # show every fit's points (always shown for one benchmark)
    squad_metric: str = DEFAULT_SQUAD_METRIC  # SQuAD error from EM (the paper's) or F1
    published_from: str | None = None  # the authors' repository (or its data/) instead
    with_year: bool = False  # year as a second regressor
    until: str | None = None  # "YYYY-MM": only points published up to that month
    burden_conversion: str | None = None  # "A,B": log10 burden = A + B log10 network ops
    dependent: str = DEFAULT_DEPENDENT  # the quantity regressed: 1/error, error or score
    quantile: float | None = None  # a quantile regression at this quantile instead of OLS


@dataclass(frozen=True)
class PointTable:
    """The points behind the fits of one benchmark, measure and point set."""

    benchmark: str
    measure: str
    label: str  # "published", "measured" or "pooled"
    points: pd.DataFrame

    def to_json(self) -> dict[str, Any]:
        rows = self.points[list(POINT_TABLE_COLUMNS)].to_json(orient="records")
        return {
            "benchmark": self.benchmark,
            "measure": self.measure,
            "points": self.label,
            "rows": json.loads(rows),
        }


@dataclass(frozen=True)
class FitReport:
    """The fits, projections and point tables of one request."""

    request: FitRequest
    benchmarks: tuple[str, ...]
    measures: tuple[str, ...]
    point_sets: tuple[tuple[str, pd.DataFrame], ...]  # ("published", frame), ...
    results: tuple[Fit | FitSkipped, ...]
    projections: tuple[Projection, ...]
    not_extrapolated: tuple[str, ...]  # why a fit was not extrapolated
    conversion: PaperConversion
    point_tables: tuple[PointTable, ...]
    measured_source: str | None = None  # the file the measured points were read from
    extra_notes: tuple[str, ...] = ()  # authors' data, imputation, --until, --with-year

    @property
    def with_measured(self) -> bool:
        return len(self.point_sets) > 1

    @property
    def notes(self) -> list[str]:
        """Caveats of the fit table (the first is the regression's direction)."""
        return notes_for(self.results, squad_metric=self.request.squad_metric) + list(
            self.extra_notes
        )

    def frame(self, label: str) -> pd.DataFrame:
        """The point set called `label` ("published", "measured" or "pooled")."""
        return dict(self.point_sets)[label]

    def to_json(self, plots: Sequence[str] = ()) -> dict[str, Any]:
        """Plain JSON values (infinities and NaN become null), with the paths of any plots."""
        extra = {"notes": list(self.extra_notes)} if self.extra_notes else {}
        return {
            **extra,
            "fits": to_jsonable(list(self.results)),
            "projections": to_jsonable(list(self.projections)),
            "not_extrapolated": list(self.not_extrapolated),
            "conversion": self.conversion.basis,
            "per_pass_note": PER_PASS_NOT_COST,
            "points": [t.to_json() for t in self.point_tables],
            "plots": list(plots),
        }


def _point_sets(
    measured: pd.DataFrame | None, request: FitRequest
) -> tuple[list[tuple[str, pd.DataFrame]], list[str]]:
    notes: list[str] = []
    if request.published_from:
        conv = parse_conversion(request.burden_conversion) if request.burden_conversion else None
        published, notes = authors_points(request.published_from, conv)
    else:
        published = load_published(squad_metric=request.squad_metric)
    sets = [("published", published)]
    if measured is not None:
        pooled = pool(published, measured)
        sets += [("measured", measured), ("pooled", pooled)]
    if request.until:
        until, cut_sets = parse_until(request.until), []
        for label, frame in sets:
            frame, note = cut(frame, until, label)
            cut_sets.append((label, frame))
            notes.append(note)
        sets = cut_sets
    return sets, notes


def _one_fit(request: FitRequest, frame: pd.DataFrame, b: str, m: str, mod: str, label: str):
    dep, q = request.dependent, request.quantile
    if not request.with_year:
        return fit(frame, b, m, mod, request.exclude_flagged, label, dep, q)
    pts = select_points(frame, b, m, request.exclude_flagged)
    return fit_with_year(pts, mod, b, m, label, request.exclude_flagged, dep)


def _benchmarks(request: FitRequest, measured: pd.DataFrame | None) -> list[str]:
    if request.benchmark:
        return [request.benchmark]
    if measured is None:
        return list(BENCHMARKS)
    benchmarks = [b for b in BENCHMARKS if b in set(measured["benchmark"])]
    if not benchmarks:
        raise HarnessError(
            "--with-measured: none of the measured rows is on a paper benchmark "
            f"({', '.join(BENCHMARKS)})"
        )
    return benchmarks


def _fits(
    request: FitRequest,
    benchmarks: Sequence[str],
    measures: Sequence[str],
    point_sets: Sequence[tuple[str, pd.DataFrame]],
) -> list[Fit | FitSkipped]:
    """Every fit asked for; one that cannot be made is a FitSkipped row, unless it is the only
    fit asked for (one benchmark, one measure, no measured points): then it is the error."""
    models = [request.model] if request.model else list(MODELS)
    only_one = bool(request.benchmark and request.measure and len(point_sets) == 1)
    results: list[Fit | FitSkipped] = []
    for b in benchmarks:
        for m in measures:
            for label, frame in point_sets:
                for mod in models:
                    try:
                        results.append(_one_fit(request, frame, b, m, mod, label))
                    except HarnessError as exc:
                        if only_one:
                            raise
                        results.append(FitSkipped(b, m, mod, label, str(exc)))
    return results


def _point_tables(
    request: FitRequest,
    benchmarks: Sequence[str],
    measures: Sequence[str],
    point_sets: Sequence[tuple[str, pd.DataFrame]],
) -> list[PointTable]:
    tables = []
    for b in benchmarks:
        for m in measures:
            for label, frame in point_sets:
                try:
                    pts = select_points(frame, b, m, request.exclude_flagged)
                except HarnessError:
                    continue
                tables.append(PointTable(b, m, label, pts))
    return tables


def _check_kind(request: FitRequest) -> None:
    """Refuse a dependent variable or quantile that is not one, and a quantile with year."""
    check_dependent(request.dependent)
    check_quantile(request.quantile)
    if request.quantile is not None and request.with_year:
        raise HarnessError(
            "--quantile with --with-year is not supported: the quantile fit has compute as "
            "its only regressor"
        )


def fit_report(request: FitRequest) -> FitReport:
    """Fit, extrapolate and tabulate the points as `request` asks."""
    path = request.with_measured
    if path == "":  # the harness's own results database
        path = str(default_db_path())
    measured = load_measured(path) if path else None
    if request.burden_conversion and not request.published_from:
        raise HarnessError("--burden-conversion needs --published-from (the authors' data)")
    _check_kind(request)
    point_sets, extra_notes = _point_sets(measured, request)
    benchmarks = _benchmarks(request, measured)
    all_measures = ALL_MEASURES if request.published_from else MEASURES
    measures = [request.measure] if request.measure else list(all_measures)
    results = _fits(request, benchmarks, measures, point_sets)

    conv = PaperConversion.strubell()
    targets = list(request.targets) if request.targets else None
    projections: list[Projection] = []
    not_extrapolated: list[str] = []
    if request.dependent != DEFAULT_DEPENDENT or request.quantile is not None:
        extra_notes.append(fit_kind_note(request.dependent, request.quantile))
    for r in results:
        if isinstance(r, YearFit):
            extra_notes.append(r.describe_year())
        elif isinstance(r, Fit) and (not r.paper_performance or r.quantile is not None):
            not_extrapolated.append(
                f"{r.benchmark} {r.measure} {r.model} ({r.points}): not extrapolated (the "
                "extrapolation table is the paper's: OLS of performance 1/error)"
            )
        elif isinstance(r, Fit) and r.measure in EXTRA_MEASURES:
            not_extrapolated.append(
                f"{r.benchmark} {r.measure} {r.model} ({r.points}): not extrapolated "
                "(the extrapolation table covers per-pass compute and stated burden)"
            )
        elif isinstance(r, Fit):
            try:
                projections.extend(extrapolate(r, targets, conv))
            except HarnessError as exc:
                not_extrapolated.append(str(exc))
    return FitReport(
        request=request,
        benchmarks=tuple(benchmarks),
        measures=tuple(measures),
        point_sets=tuple(point_sets),
        results=tuple(results),
        projections=tuple(projections),
        not_extrapolated=tuple(not_extrapolated),
        conversion=conv,
        point_tables=tuple(_point_tables(request, benchmarks, measures, point_sets)),
        measured_source=path or None,
        extra_notes=tuple(extra_notes),
    )
