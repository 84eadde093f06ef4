"""The record's schema: a database written by harness 0.1.0 (before the package was laid out
along the flow) reads, views and reports with today's code."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from harness.pipeline.schema import SCHEMA_VERSION, CountsView, TimingView
from harness.pipeline.summary import figure_rows, headline
from harness.sweep.store import ResultStore

OLD_DB = Path(__file__).parents[1] / "data" / "results_written_by_0.1.0.sqlite"


def _copy(tmp_path: Path) -> Path:
    db = tmp_path / "old.sqlite"
    shutil.copy(OLD_DB, db)
    return db


def test_records_written_by_0_1_0_read_back_whole(tmp_path):
    db = _copy(tmp_path)
    raw = (
        sqlite3.connect(db).execute("SELECT key, status, architecture FROM measurements").fetchall()
    )
    with ResultStore(db) as store:
        records = {r.key: r for r in store.load()}
    assert {k for k, _, _ in raw} == set(records) and len(records) == 3
    for key, status, arch in raw:
        r = records[key]
        assert r.status == status == "ok" and r.config["architecture"] == arch
        assert r.schema_version == SCHEMA_VERSION and r.harness_version == "0.1.0"


def test_typed_views_read_the_old_sections(tmp_path):
    with ResultStore(_copy(tmp_path)) as store:
        records = store.load()
    for r in records:
        counts, timing = r.counts_view, r.timing_view
        assert counts.train_step_flops == r.counts["train_step_flops"] > 0
        assert counts.forward_macs_per_example == r.counts["forward_macs_per_example"]
        assert timing.median_s == r.timing["median_s"] > 0
        assert (
            timing.utilisation.achieved_flop_per_s == r.timing["utilisation"]["achieved_flop_per_s"]
        )
        assert timing.peak.device_name == r.timing["peak"]["device_name"]
        assert r.burden_view.energy_provenance == r.burden["energy_provenance"]
        h = headline(r)
        assert h["step_ms"] == r.timing["median_s"] * 1e3
        assert len(figure_rows(r)) == 21  # CO2e in kg and lbs by both routes


def test_views_of_empty_sections_are_all_none():
    assert CountsView.of({}).train_step_flops is None
    t = TimingView.of(None)
    assert t.median_s is None and t.iqr_ratio is None and t.peak.device_name is None


def test_the_report_renders_an_old_database(tmp_path, monkeypatch):
    from harness.present.report import write_report

    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    paths = write_report(db=_copy(tmp_path), out_dir=tmp_path / "out")
    html = Path(paths.html).read_text()
    assert "resnet18" in html and "bilstm_crf_conll" in html


def test_a_0_1_0_database_upgrades_to_the_history_and_still_reads(tmp_path):
    from harness.sweep.store_schema import STORE_VERSION

    db = _copy(tmp_path)
    with ResultStore(db, readonly=True) as store:
        before = store.load()
        assert not store.has_history  # read-only: never upgraded
    with ResultStore(db) as store:
        assert store.load() == before and store.has_history
        version = store.conn.execute("SELECT value FROM meta WHERE name='store_version'")
        assert version.fetchone() == (str(STORE_VERSION),)
        record_schema = store.conn.execute("SELECT value FROM meta WHERE name='schema_version'")
        assert record_schema.fetchone() == (str(SCHEMA_VERSION),)  # older harnesses still read it
    with ResultStore(db) as store:  # a second open does not copy the rows again
        (n,) = store.conn.execute("SELECT COUNT(*) FROM attempts").fetchone()
    assert n == len(before) == 3
