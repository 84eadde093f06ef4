"""A utilisation above 1 is never a result: the measured peak a step beats is remeasured once,
longer, and if the step still beats it the figure is withheld with a note, in the record and
in what `harness time` prints."""

from __future__ import annotations

import json
import re

import pytest

import harness.hardware.peaks as peaks_module
from harness.cli import main
from harness.cost.burden import MeasuredStep, PeakUsed, compute_burden
from harness.cost.utilisation import utilisation
from harness.hardware.peaks import MatmulPeak, peak_figures
from harness.pipeline.peak_check import LONGER, achieved_rate, check_measured_peak

G = 1e9


def _cpu_peak(flop_per_s: float) -> dict:
    return {
        **peak_figures("cpu", "fp32", measure=False),
        "measured_flop_per_s": flop_per_s,
        "measured_source": "stand-in",
        "burden_peak_flop_per_s": flop_per_s,
        "burden_peak_source": "measured: stand-in",
    }


def test_a_peak_the_step_beats_is_remeasured_longer_and_marked_when_still_beaten():
    said, asked = [], []

    def remeasure(seconds):
        asked.append(seconds)
        return _cpu_peak(1.5 * G)

    out = check_measured_peak(_cpu_peak(1 * G), 2 * G, remeasure, seconds=1.0, say=said.append)
    assert asked == [LONGER * 1.0] and LONGER > 1
    assert out["measured_reliable"] is False
    assert out["measured_flop_per_s"] == 1.5 * G  # the better of the two
    assert "unreliable" in said[0] and "\n" not in said[0]
    assert "unreliable" in out["measured_note"] and "withheld" in out["measured_note"]
    assert "[unreliable" in out["burden_peak_source"]  # the CPU burden uses it: flagged


def test_a_remeasure_above_the_step_is_kept():
    out = check_measured_peak(
        _cpu_peak(1 * G), 2 * G, lambda s: _cpu_peak(3 * G), seconds=0.5, say=lambda m: None
    )
    assert out["measured_reliable"] is True and out["measured_flop_per_s"] == 3 * G
    assert "remeasured" in out["measured_note"]


def test_a_peak_above_the_step_is_not_remeasured():
    def never(seconds):
        raise AssertionError("no remeasure needed")

    out = check_measured_peak(_cpu_peak(3 * G), 2 * G, never, seconds=1.0)
    assert out["measured_reliable"] is True and out["measured_note"] is None
    assert check_measured_peak(_cpu_peak(3 * G), None, never, seconds=1)["measured_note"] is None


def test_achieved_rate_is_counted_flops_over_the_median():
    class Counts:
        train_step_flops = 6e9

    assert achieved_rate(Counts(), 2.0) == 3e9
    assert achieved_rate(None, 2.0) is None and achieved_rate(Counts(), 0.0) is None


def test_utilisation_above_one_is_withheld_with_a_reason():
    u = utilisation(
        3e9, 1.0, datasheet_peak_flop_per_s=2e9, measured_peak_flop_per_s=2.5e9, devices=1
    )
    assert u.achieved_flop_per_s == 3e9
    assert u.mfu is None and u.mfu_measured is None
    assert "1.50 > 1" in u.mfu_note and "datasheet" in u.mfu_note
    assert "1.20 > 1" in u.mfu_measured_note and "unreliable" in u.mfu_measured_note
    ok = utilisation(1e9, 1.0, measured_peak_flop_per_s=2e9)
    assert ok.mfu_measured == pytest.approx(0.5) and ok.mfu_measured_note is None


def test_the_burden_withholds_an_mfu_above_one():
    b = compute_burden(
        MeasuredStep(step_time_s=1.0, batch_size=4, processors=1, train_step_flops=3e9),
        PeakUsed(1e9, source="measured: stand-in", precision="fp32", device_name="cpu"),
    )
    assert b.mfu is None and any("withheld" in n and "3.00 > 1" in n for n in b.notes)


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "mfu_net.py"
    path.write_text(
        "import torch.nn as nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 4))\n"
    )
    return f"{path}:build"


def _low_peak(calls):
    def fake(device, precision, **kw):
        calls.append(kw.get("seconds"))
        return MatmulPeak(
            device="cpu",
            dtype="float32",
            tf32=False,
            n=64,
            samples_s=(1.0,),
            median_s=1.0,
            flop_per_s=1000.0,  # 1 kFLOP/s: any real step beats it
            threads=1,
            source="stand-in peak below the step",
        )

    return fake


ARGS = ["--input-shape", "1,3,8,8", "--device", "cpu", "--batch", "4", "--steps", "3"]
QUICK = ["--min-seconds", "0", "--warmup", "1", "--threads", "1", "--peak-seconds", "0.05"]


def test_harness_time_never_prints_a_utilisation_above_one(net_file, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(peaks_module, "measure_peak_for_precision", _low_peak(calls))
    assert main(["time", net_file, *ARGS, *QUICK]) == 0
    out, err = capsys.readouterr()
    assert calls == [0.05, LONGER * 0.05]  # measured, then once more with a longer window
    mfu_lines = [ln for ln in (out + err).splitlines() if re.search("MFU|utilisation", ln)]
    percents = [float(x) for ln in mfu_lines for x in re.findall(r"(\d+(?:\.\d+)?)%", ln)]
    assert mfu_lines and all(p <= 100 for p in percents), mfu_lines
    assert "MFU (measured peak)" in out and "withheld" in out
    assert "measured matmul peak unreliable" in err


def test_harness_time_json_withholds_the_figure_with_its_reason(net_file, capsys, monkeypatch):
    monkeypatch.setattr(peaks_module, "measure_peak_for_precision", _low_peak([]))
    assert main(["time", net_file, *ARGS, *QUICK, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["summary"]
    util = doc["utilisation"]
    assert util["achieved_flop_per_s"] > 1000.0
    assert util["mfu_measured"] is None and "unreliable" in util["mfu_measured_note"]
    assert doc["matmul_peak"]["reliable"] is False
    assert any("unreliable" in n for n in doc["notes"])


def test_a_remeasure_that_fails_keeps_the_first_figure_marked():
    def broken(seconds):
        raise RuntimeError("device lost")

    out = check_measured_peak(_cpu_peak(1 * G), 2 * G, broken, seconds=1.0, say=lambda m: None)
    assert out["measured_reliable"] is False and out["measured_flop_per_s"] == 1 * G
