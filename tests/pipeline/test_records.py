"""The record schema: keys that name a measurement, records that survive JSON, the environment."""

from __future__ import annotations

import dataclasses
import json
import platform
import subprocess
import sys

import pytest

from harness.errors import ConfigurationError, HarnessError
from harness.hardware import environment
from harness.hardware.environment import capture_environment
from harness.paths import REPO_ROOT
from harness.pipeline import config as config_module
from harness.pipeline import record as records
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement, jsonable
from harness.pipeline.schema import SCHEMA_VERSION

CHANGED = {
    "architecture": "resnet50",
    "batch_size": 7,
    "tiny": True,
    "size": 160,
    "device": "cuda",
    "precision": "bf16",
    "channels_last": True,
    "compile_mode": "max-autotune",
    "warmup_steps": 9,
    "min_steps": 99,
    "min_seconds": 3.5,
    "country": "FRA",
    "pue": 1.58,
    "price_per_gpu_hour": 3.0,
    "seed": 4,
    "world_size": 2,
    "input_shape": (1, 3, 8, 8),
    "vocab": 100,
    "price_per_cpu_hour": 0.5,
    "activation_checkpointing": True,
    "truncate_layers": 2,
}


def test_every_field_but_the_conversions_enters_the_key():
    base = MeasurementConfig("resnet18")
    assert set(CHANGED) == {f.name for f in dataclasses.fields(MeasurementConfig)}
    measured = {k: v for k, v in CHANGED.items() if k not in config_module.CONVERSION_FIELDS}
    keys = {base.key()}
    for name, value in measured.items():
        keys.add(base.replace(**{name: value}).key())
    assert len(keys) == len(measured) + 1
    assert MeasurementConfig("resnet18").key() == base.key()
    # country, PUE and prices are applied to a stored row again: one key for all of them
    conversions = {k: CHANGED[k] for k in config_module.CONVERSION_FIELDS}
    assert len(conversions) == 4 and base.replace(**conversions).key() == base.key()


def test_key_includes_harness_version_and_device_model(monkeypatch):
    config = MeasurementConfig("resnet18")
    key = config.key()
    monkeypatch.setattr(config_module, "__version__", "99.0")
    assert config.key() != key
    monkeypatch.undo()
    monkeypatch.setattr(config_module, "device_identity", lambda device: "cpu/another CPU")
    assert config.key() != key


def test_key_is_the_same_in_another_process():
    """The sweep's parent and its workers must agree on every key."""
    config = MeasurementConfig("vit_b_16", batch_size=3, precision="bf16", size=128)
    code = (
        "from harness.pipeline.config import MeasurementConfig as C; import json, sys; "
        "print(C.from_dict(json.loads(sys.argv[1])).key())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(config.to_dict())],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == config.key()


def test_file_reference_key_follows_the_file_contents(tmp_path):
    f = tmp_path / "net.py"
    f.write_text("def build(): pass\n")
    config = MeasurementConfig(f"{f}:build")
    k1 = config.key()
    f.write_text("def build(): return 1\n")
    assert config.key() != k1


@pytest.mark.parametrize(
    "changes",
    [
        {"batch_size": 0},
        {"batch_size": True},
        {"precision": "fp64"},
        {"device": "gpu"},
        {"compile_mode": "fast"},
        {"min_seconds": -1.0},
        {"pue": 0.5},
        {"size": 0},
        {"world_size": 0},
        {"input_shape": (1, 0)},
    ],
)
def test_bad_configuration_is_a_one_line_error(changes):
    with pytest.raises(ConfigurationError) as exc:
        MeasurementConfig("resnet18", **changes)
    assert "\n" not in str(exc.value)


def test_from_dict_refuses_unknown_settings():
    with pytest.raises(ConfigurationError, match="batchsize"):
        MeasurementConfig.from_dict({"architecture": "resnet18", "batchsize": 4})


def test_records_and_vocabulary_load_without_torch():
    """A sweep's parent reads records and validates configurations before anything heavy:
    the vocabulary (defined once) and the record modules must not import torch."""
    code = (
        "import sys, harness.vocab, harness.pipeline.record, harness.pipeline.config; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _record() -> Measurement:
    config = MeasurementConfig("resnet18", batch_size=4, input_shape=(1, 3, 32, 32))
    return Measurement.create(
        config,
        architecture={"name": "resnet18", "domain": "vision", "tags": ["a", "b"]},
        environment={"torch": "2.x"},
        counts={"forward_macs_per_example": 1_814_073_344, "by_op": {"aten.mm": 10}},
        timing={"median_s": 0.25, "samples_s": [0.24, 0.25, 0.26], "noisy": False},
        energy={"total_energy_j": None, "provenance": "unavailable"},
    )


def test_record_round_trips_through_json():
    rec = _record()
    back = Measurement.from_json(rec.to_json())
    assert back == rec
    assert back.measurement_config == MeasurementConfig(
        "resnet18", batch_size=4, input_shape=(1, 3, 32, 32)
    )
    assert back.key == rec.measurement_config.key()
    assert back.burden == {}


def test_newer_schema_record_is_refused():
    d = _record().to_dict()
    d["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(HarnessError, match="newer"):
        Measurement.from_dict(d)


def test_status_and_error_must_agree():
    config = MeasurementConfig("resnet18")
    with pytest.raises(ValueError):
        Measurement.create(config, status="error")
    with pytest.raises(ValueError):
        Measurement.create(config, status="ok", error="boom")
    with pytest.raises(ValueError):
        Measurement.create(config, status="exploded", error="boom")
    rec = Measurement.create(config, status="crashed", error="first line\n  second line")
    assert rec.error == "first line"


def test_flat_row_has_dotted_scalar_columns():
    row = _record().to_flat()
    assert row["config.batch_size"] == 4
    assert row["config.input_shape"] == "[1, 3, 32, 32]"
    assert row["counts.forward_macs_per_example"] == 1_814_073_344
    assert row["counts.by_op.aten.mm"] == 10
    assert json.loads(row["timing.samples_s"]) == [0.24, 0.25, 0.26]
    assert row["energy.total_energy_j"] is None
    assert row["status"] == "ok" and row["error"] is None
    assert all(not isinstance(v, (list, dict, tuple)) for v in row.values())


def test_jsonable_turns_array_scalars_into_numbers():
    np = pytest.importorskip("numpy")
    out = jsonable({"a": np.float64(1.5), "b": np.arange(3), 4: (1, 2), "s": {3, 1}})
    assert out == {"a": 1.5, "b": [0, 1, 2], "4": [1, 2], "s": [1, 3]}
    assert isinstance(out["a"], float)
    json.dumps(out)


def test_environment_says_what_changes_a_number():
    env = capture_environment("cpu")
    assert env["python"] == platform.python_version()
    import torch

    assert env["torch"] == torch.__version__
    assert env["cpu_threads"] >= 1 and env["torch_threads"] == torch.get_num_threads()
    assert env["device_identity"].startswith("cpu/")
    assert env["harness_version"] == records.__version__
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if head.returncode == 0:
        assert env["git_commit"] == head.stdout.strip()
        assert isinstance(env["git_dirty"], bool)
    else:
        assert env["git_commit"] is None
    json.dumps(env)


def test_environment_outside_git_has_no_commit(tmp_path):
    environment.git_state.cache_clear()
    try:
        assert environment.git_state(tmp_path) == (None, None)
    finally:
        environment.git_state.cache_clear()
