"""`harness time` and `harness measure` agree on a truncated decoder: both count the FULL model,
label the timing `scaled_from_layers: K of L`, and divide the full count by the scaled step."""

from __future__ import annotations

import json
import warnings

import pytest

import harness.energy as energy_package
import harness.hardware.peaks as peaks_module
from harness.cli import main
from harness.hardware.peaks import MatmulPeak

STEP = [
    "llama2_7b",
    "--tiny",
    "--device",
    "cpu",
    "--batch",
    "2",
    "--steps",
    "2",
    "--min-seconds",
    "0",
    "--warmup",
    "0",
]
PEAK_FLOP_PER_S = 1e12  # a stand-in matmul peak far above any step of the tiny model on a CPU


def _stand_in_peak(device, precision, **kw):
    return MatmulPeak(
        device="cpu",
        dtype="float32",
        tf32=False,
        n=64,
        samples_s=(1.0,),
        median_s=1.0,
        flop_per_s=PEAK_FLOP_PER_S,
        threads=1,
        source="stand-in peak",
    )


def _run(capsys, *argv: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _flops(capsys, *extra: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        argv = ["flops", "llama2_7b", "--tiny", "--train", "--batch", "2", "--json", *extra]
        assert main(argv) == 0
    return json.loads(capsys.readouterr().out)["train_step_flops"]


def test_time_and_measure_count_the_full_model_and_use_the_scaled_step(capsys, monkeypatch):
    monkeypatch.setattr(peaks_module, "measure_peak_for_precision", _stand_in_peak)
    real_monitor = energy_package.make_energy_monitor  # measure's idle baseline: not waited for
    monkeypatch.setattr(
        energy_package,
        "make_energy_monitor",
        lambda *a, **k: real_monitor(*a, **{**k, "idle_s": 0.0}),
    )
    time_doc = _run(capsys, "time", *STEP, "--truncate-layers", "1", "--json")
    measure_doc = _run(capsys, "measure", *STEP, "--truncate-layers", "1", "--json", "--no-store")
    timed, measured = time_doc["records"][0], measure_doc["records"][0]
    full_model = _flops(capsys)  # `harness flops` of the whole (two-layer) model
    for record in (timed, measured):
        t, util = record["timing"], record["timing"]["utilisation"]
        assert record["counts"]["train_step_flops"] == full_model
        assert t["scaled_from_layers"] == "1 of 2"
        assert t["scaled_median_s"] == pytest.approx(2 * t["median_s"])
        assert util["measured_peak_flop_per_s"] == PEAK_FLOP_PER_S
        expected = full_model / t["scaled_median_s"] / PEAK_FLOP_PER_S
        assert util["mfu_measured"] == pytest.approx(expected)
    assert timed["counts"]["train_step_flops"] == measured["counts"]["train_step_flops"]
    assert timed["timing"]["scaled_from_layers"] == measured["timing"]["scaled_from_layers"]
    # `harness time`'s summary shows the same figures at its top level
    summary = time_doc["summary"]
    assert summary["flops"]["train_step_flops"] == full_model
    assert summary["scaled_from_layers"] == "1 of 2"
    assert summary["utilisation"]["median_s"] == summary["scaled_median_s"]


def test_the_time_table_marks_the_timers_figures_as_those_of_the_k_layers(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        argv = ["time", *STEP, "--truncate-layers", "1", "--no-peak"]
        assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("median step (1 of 2 layers, not scaled)") for line in lines)
    assert any(line.startswith("scaled_from_layers") and "1 of 2" in line for line in lines)
