"""The report's published-runs section renders from the data file, with its figure."""

from __future__ import annotations

from harness.analysis import audit_inputs
from harness.catalog.runs import published_runs
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.present.report import write_report
from harness.present.runs_section import CAPTION, plotted
from harness.sweep.store import ResultStore


def failed(arch: str) -> Measurement:
    config = MeasurementConfig(arch, batch_size=4, tiny=True)
    return Measurement.create(
        config, status="crashed", error="worker died", architecture={"name": arch}
    )


def _audits(monkeypatch):
    """Every run of published_runs.csv, with a stand-in per-token count (6 x 7e9 FLOPs) so the
    test does not count the 175B models; the rest is the data file's."""
    monkeypatch.setattr(
        audit_inputs, "counted_per_token", lambda zoo: (4.2e10 if zoo else None, None)
    )
    return audit_inputs.audit_all(db=None)


def test_every_run_with_compute_and_capacity_is_one_point(monkeypatch):
    audits = _audits(monkeypatch)
    assert len(audits) == len(published_runs())
    points = {run: (cap, compute, counted) for run, cap, compute, counted in plotted(audits)}
    gpt3 = points["patterson_gpt3"]
    assert gpt3[2] and gpt3[1] == 4.2e10 * 300e9  # counted: per token x published tokens
    assert gpt3[0] == 10_000 * 14.8 * 24 * 3600 * 125e12  # V100 SXM2 fp16 tensor peak
    assert points["patterson_t5"][2] is False  # not in the zoo: the paper's own compute
    assert "strubell_transformer_big" not in points  # no compute published or counted


def test_the_section_and_figure_are_in_the_report(monkeypatch, tmp_path):
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as store:
        store.put_many([failed("resnet50")])
    paths = write_report(
        db, tmp_path / "out", include_published=False, run_audits=_audits(monkeypatch)
    )
    md = paths.markdown.read_text()
    assert "## Published training runs (harness audit)" in md
    assert "| llama2_70b |" in md and "implied util." in md
    assert CAPTION in md and "Published training runs" in paths.html.read_text()
    assert {p.name for p in paths.figures} >= {"published_runs.png", "published_runs.svg"}
