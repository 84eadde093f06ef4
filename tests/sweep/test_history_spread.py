"""`harness history` shows each attempt's timing spread beside its step time, NOISY marked."""

from __future__ import annotations

from harness.cli import main
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.store import ResultStore


def test_history_marks_a_noisy_attempt(tmp_path, capsys):
    config = MeasurementConfig("resnet18", batch_size=2, device="cpu", tiny=True)
    record = Measurement.create(
        config,
        architecture={"name": "resnet18"},
        timing={"median_s": 0.2, "iqr_s": 0.19, "noisy": True},
    )
    db = tmp_path / "h.sqlite"
    with ResultStore(db) as store:
        store.put(record)
        (attempt,) = store.history("resnet18")
    assert attempt.spread == "95% NOISY"
    assert main(["history", "resnet18", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "spread (IQR)" in out and "95% NOISY" in out
