"""`harness time`: JSON and table output, one-line errors."""

from __future__ import annotations

import json

import pytest
from cuda_available import HAS_CUDA

from harness.cli import main

# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "small_net.py"
    path.write_text(
        "import torch.nn as nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))\n"
    )
    return f"{path}:build"


def test_cli_time_json(net_file, capsys):
    rc = main(
        [
            "time",
            net_file,
            "--input-shape",
            "1,3,8,8",
            "--device",
            "cpu",
            "--batch",
            "4",
            "--steps",
            "3",
            "--min-seconds",
            "0",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--json",
            "--no-flops",
            "--no-peak",
        ]
    )
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "harness.measurement/1" and doc["command"] == "time"
    out = doc["summary"]
    t = out["timing"]
    assert t["batch_size"] == 4 and t["steps"] == 3 and t["device"] == "cpu"
    assert t["samples_per_s"] == pytest.approx(4 / t["median_s"])
    assert out["device"]["kind"] == "cpu" and out["matmul_peak"] is None


def test_cli_time_table_with_measured_peak(net_file, capsys):
    rc = main(
        [
            "time",
            net_file,
            "--input-shape",
            "1,3,8,8",
            "--device",
            "cpu",
            "--batch",
            "2",
            "--steps",
            "2",
            "--min-seconds",
            "0",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--no-flops",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "median step" in out and "samples/s" in out
    assert "measured matmul peak fp32" in out
    assert "the measured matmul peak is the peak" in out


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--device", "cpu", "--precision", "fp16"], "needs a CUDA device"),
        (["--device", "tpu"], "unknown device"),
    ]
    + ([] if HAS_CUDA else [(["--device", "cuda"], "--device cpu")]),
)
def test_cli_bad_input_is_one_line_error(net_file, capsys, extra, words):
    rc = main(["time", net_file, "--input-shape", "1,3,8,8", *extra])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("harness time: error:") and words in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_time_peak_seconds_sets_the_sustained_run(net_file, capsys):
    args = ["time", net_file, "--input-shape", "1,3,8,8", "--device", "cpu", "--batch", "2"]
    quick = ["--steps", "2", "--min-seconds", "0", "--warmup", "1", "--threads", "1"]
    rc = main([*args, *quick, "--no-flops", "--json", "--peak-seconds", "0.04"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)["summary"]
    assert "sustained" in out["matmul_peak"]["source"]
    assert main([*args, "--peak-seconds", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness time: error:") and "--peak-seconds" in err
