"""`--log-to mlflow|wandb`: fake tracker modules record what the adapters log."""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager

import pytest

from harness.cli import main
from harness.errors import ConfigurationError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.present.experiment_log import log_records


def _record() -> Measurement:
    return Measurement.create(
        MeasurementConfig("resnet18", batch_size=8, country="FRA"),
        counts={"train_step_flops": 4e9, "params": 11_689_512},
        timing={"median_s": 0.25, "batch_size": 8, "samples_per_s": 32.0},
        burden={"energy_provenance": "rapl", "energy_per_step_j": 5.0, "usd_per_run": None},
    )


def _fake_mlflow(monkeypatch) -> dict:
    seen: dict = {"runs": []}
    mod = types.ModuleType("mlflow")
    mod.set_tracking_uri = lambda uri: seen.__setitem__("uri", uri)
    mod.set_experiment = lambda name: seen.__setitem__("experiment", name)

    @contextmanager
    def start_run(run_name=None):
        seen["runs"].append({"name": run_name})
        yield

    mod.start_run = start_run
    mod.log_params = lambda p: seen["runs"][-1].__setitem__("params", dict(p))
    mod.log_metrics = lambda m: seen["runs"][-1].__setitem__("metrics", dict(m))
    mod.set_tags = lambda t: seen["runs"][-1].__setitem__("tags", dict(t))
    monkeypatch.setitem(sys.modules, "mlflow", mod)
    return seen


def test_mlflow_gets_params_metrics_and_tags_in_a_local_store(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    seen = _fake_mlflow(monkeypatch)
    line = log_records("mlflow", [_record()])
    assert seen["uri"] == (tmp_path / "mlruns").as_uri() and seen["experiment"] == "harness"
    (run,) = seen["runs"]
    assert run["params"]["architecture"] == "resnet18" and run["params"]["batch_size"] == 8
    assert run["params"]["country"] == "FRA"
    assert run["metrics"]["step_ms"] == pytest.approx(250.0)
    assert run["metrics"]["train_step_gflops"] == pytest.approx(4.0)
    assert run["metrics"]["energy_per_step_j"] == 5.0
    assert "usd_per_run" not in run["metrics"]  # unknown figures are not logged as numbers
    assert run["tags"]["harness.energy_provenance"] == "rapl"
    assert run["tags"]["harness.status"] == "ok"
    assert "logged 1 run to mlflow" in line


def test_wandb_runs_offline_with_config_and_metrics(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    seen: dict = {}

    class Run:
        def __init__(self, **kwargs):
            seen["init"] = kwargs
            self.summary = {}

        def log(self, metrics):
            seen["log"] = dict(metrics)

        def finish(self):
            seen["summary"], seen["finished"] = dict(self.summary), True

    mod = types.ModuleType("wandb")
    mod.init = lambda **kwargs: Run(**kwargs)
    monkeypatch.setitem(sys.modules, "wandb", mod)
    log_records("wandb", [_record()], str(tmp_path))
    assert seen["init"]["mode"] == "offline" and seen["init"]["dir"] == str(tmp_path)
    assert seen["init"]["config"]["architecture"] == "resnet18"
    assert seen["log"]["step_ms"] == pytest.approx(250.0) and seen["finished"]
    assert seen["summary"]["harness.energy_provenance"] == "rapl"


def test_a_tracker_that_is_not_installed_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import fails
    with pytest.raises(ConfigurationError, match="pip install mlflow"):
        log_records("mlflow", [_record()])


def test_measure_log_to_mlflow_logs_the_measured_record(monkeypatch, tmp_path, capsys):
    seen = _fake_mlflow(monkeypatch)
    net = tmp_path / "net.py"
    net.write_text("import torch.nn as nn\ndef build():\n    return nn.Linear(4, 2)\n")
    args = ["measure", f"{net}:build", "--input-shape", "1,4", "--batch", "2", "--steps", "2"]
    args += ["--warmup", "1", "--min-seconds", "0", "--db", str(tmp_path / "r.sqlite")]
    assert main([*args, "--log-to", "mlflow", "--log-uri", "file:///tmp/x"]) == 0
    assert seen["uri"] == "file:///tmp/x" and len(seen["runs"]) == 1
    assert seen["runs"][0]["params"]["batch_size"] == 2
    assert "logged 1 run to mlflow" in capsys.readouterr().err
