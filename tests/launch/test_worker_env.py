"""The environment of a sweep worker: PyTorch's CUDA allocator gets expandable segments unless
the user already chose, and the record's environment says what the worker ran with."""

from __future__ import annotations

import pytest

from harness.hardware.environment import capture_environment
from harness.launch import process
from harness.launch.process import run_job, with_expandable_segments
from harness.pipeline.config import MeasurementConfig

KEY = "PYTORCH_CUDA_ALLOC_CONF"

TARGET = """
import os
from harness.pipeline.record import Measurement

def report_env(config, phase=None):
    return Measurement.create(config, environment={"alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF")})
"""


@pytest.mark.parametrize(
    "user, expected",
    [
        (None, "expandable_segments:True"),
        ("", "expandable_segments:True"),
        ("max_split_size_mb:128", "max_split_size_mb:128,expandable_segments:True"),
        ("expandable_segments:False", "expandable_segments:False"),  # the user's choice stays
        (
            "garbage_collection_threshold:0.6, expandable_segments:False",
            "garbage_collection_threshold:0.6, expandable_segments:False",
        ),
    ],
)
def test_expandable_segments_are_appended_only_when_the_key_is_absent(user, expected):
    env = {"OTHER": "1"} if user is None else {"OTHER": "1", KEY: user}
    out = with_expandable_segments(env)
    assert out[KEY] == expected and out["OTHER"] == "1"
    assert env.get(KEY) == user  # the caller's mapping is not changed


def test_the_worker_process_runs_with_expandable_segments(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY, raising=False)
    assert process._worker_env()[KEY] == "expandable_segments:True"
    target = tmp_path / "env_target.py"
    target.write_text(TARGET)
    config = MeasurementConfig("fake-ok", min_seconds=0.0)
    rec = run_job(config, target=f"{target}:report_env")
    assert rec.ok, rec.error
    assert rec.environment["alloc_conf"] == "expandable_segments:True"
    monkeypatch.setenv(KEY, "max_split_size_mb:64")
    rec = run_job(config, target=f"{target}:report_env")
    assert rec.environment["alloc_conf"] == "max_split_size_mb:64,expandable_segments:True"


def test_the_record_environment_names_the_allocator_settings(monkeypatch):
    monkeypatch.setenv(KEY, "expandable_segments:True")
    assert capture_environment("cpu")["pytorch_cuda_alloc_conf"] == "expandable_segments:True"
    monkeypatch.delenv(KEY)
    assert capture_environment("cpu")["pytorch_cuda_alloc_conf"] is None
