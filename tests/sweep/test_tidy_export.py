"""`harness export` writes a tidy table: one row per measurement, named and typed columns, and
lists as Parquet lists (not JSON text)."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.cli import main
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.store import ResultStore
from harness.sweep.tidy import TIDY_COLUMNS


def _record(batch: int, *, per_op: int = 300) -> Measurement:
    # a realistic record: a per-operator breakdown of hundreds of entries, as the zoo has
    ops = {f"aten.op_{i}": float(i) for i in range(per_op)}
    return Measurement.create(
        MeasurementConfig("resnet18", batch_size=batch, tiny=True, country="FRA"),
        architecture={"name": "resnet18", "benchmark": "imagenet", "reference_value": 69.8},
        counts={"forward_macs_per_example": 2e6, "train_step_flops": 3e9, "by_op": ops},
        timing={"median_s": 0.05 * batch, "samples_s": [0.1, 0.2, 0.3], "noisy": False},
        burden={"co2_kg_per_run": 1.5, "pue": 1.2, "grid": {"region": "FRA"}, "notes": ["n1"]},
    )


def _db(tmp_path) -> str:
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as db:
        db.put_many([_record(2), _record(4)])
        db.put(Measurement.create(MeasurementConfig("vgg16"), status="error", error="boom"))
    return str(path)


def test_parquet_export_is_tidy_with_typed_columns_and_real_lists(tmp_path, capsys):
    db, out = _db(tmp_path), tmp_path / "results.parquet"
    assert main(["export", "--db", db, "--out", str(out)]) == 0
    assert "wrote 3 measurements" in capsys.readouterr().out
    schema = pq.read_schema(out)
    assert len(schema) == len(TIDY_COLUMNS) < 60
    assert schema.field("step_samples_s").type == pa.list_(pa.float64())
    assert schema.field("notes").type == pa.list_(pa.string())
    assert schema.field("batch").type == pa.int64()
    assert schema.field("step_ms").type == pa.float64()
    assert schema.field("tiny").type == pa.bool_()
    table = pq.read_table(out).to_pylist()
    assert [r["batch"] for r in table] == [2, 4, 1]
    assert table[0]["step_samples_s"] == [0.1, 0.2, 0.3]
    assert table[0]["step_ms"] == 100.0 and table[0]["country"] == "FRA"
    assert table[2]["status"] == "error" and table[2]["step_ms"] is None


def test_the_dotted_layout_is_still_there_and_much_wider(tmp_path):
    db = _db(tmp_path)
    assert main(["export", "--db", db, "--layout", "dotted", "--out", str(tmp_path / "d.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "d.csv").columns) > 300


def test_csv_export_writes_lists_as_json(tmp_path):
    db, out = _db(tmp_path), tmp_path / "t.csv"
    assert main(["export", "--db", db, "--out", str(out), "--status", "ok"]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == [name for name, _ in TIDY_COLUMNS]
    assert json.loads(frame["step_samples_s"].iloc[0]) == [0.1, 0.2, 0.3]
