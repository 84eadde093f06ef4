"""Every `--json` output is strict JSON, and `time`, `measure` and `compare` share one schema
(harness/data/measurement.schema.json), checked with the jsonschema validator."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

import harness.analysis.comparison as comparison
from harness.analysis.comparison import Comparison, TrendPosition
from harness.cli import main
from harness.console import to_json
from harness.data import DATA_DIR
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

SCHEMA = json.loads((DATA_DIR / "measurement.schema.json").read_text())
_STEP = ["--batch", "2", "--steps", "2", "--warmup", "1", "--min-seconds", "0"]


def _strict(text: str):
    """Parse refusing NaN and Infinity, as every JSON parser but Python's does."""

    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "tiny_net.py"
    path.write_text(
        "import torch.nn as nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 4))\n"
    )
    return f"{path}:build"


def test_to_json_writes_null_for_unbounded_and_undefined_figures():
    text = to_json({"high": math.inf, "low": -math.inf, "fit": [math.nan, 1.5], "n": (1, 2)})
    assert _strict(text) == {"high": None, "low": None, "fit": [None, 1.5], "n": [1, 2]}
    assert "Infinity" not in text and "NaN" not in text


def test_time_json_validates_against_the_shared_schema(net_file, capsys):
    args = ["time", net_file, "--input-shape", "1,3,4,4", *_STEP, "--json", "--no-peak"]
    assert main(args) == 0
    doc = _strict(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["command"] == "time" and doc["records"][0]["timing"]["batch_size"] == 2


def test_measure_json_validates_against_the_shared_schema(net_file, tmp_path, capsys):
    args = ["measure", net_file, "--input-shape", "1,3,4,4", *_STEP, "--json"]
    assert main([*args, "--db", str(tmp_path / "r.sqlite")]) == 0
    doc = _strict(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["command"] == "measure" and doc["records"][0]["status"] == "ok"


def _record(name: str, median: float) -> Measurement:
    return Measurement.create(
        MeasurementConfig(name, batch_size=4),
        timing={"median_s": median, "batch_size": 4},
        burden={"usd_per_run": math.nan},
    )


def test_compare_json_with_an_unbounded_band_is_valid_and_validates(monkeypatch, capsys):
    # A fit whose 95% interval has no upper end (Fieller's interval is unbounded when the
    # slope is not significant) used to print `Infinity`.
    band = TrendPosition(
        "new", "per-pass", 0.3, 1e9, 1e9, 1e9, 2e9, 1e8, math.inf, 1e7, math.inf, "k=9.7", 0.01
    )
    result = Comparison(_record("new", 0.01), (_record("resnet18", 0.02),), "imagenet", (band,))
    monkeypatch.setattr(comparison, "compare", lambda *a, **k: result)
    assert main(["compare", "resnet18", "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    assert [r["config"]["architecture"] for r in doc["records"]] == ["new", "resnet18"]
    assert doc["summary"]["positions"][0]["trend_high_flop"] is None
    assert doc["summary"]["positions"][0]["predicted_high_flop"] is None
    assert doc["records"][0]["burden"]["usd_per_run"] is None


def test_the_schema_rejects_a_bare_record():
    bare = _record("x", 0.1).to_dict()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bare, SCHEMA)
