"""Peak rates: datasheet figures by device, the measured matmul peak, and the figures a
configuration reports (`peak_figures`)."""

from __future__ import annotations

import statistics

import pytest
import torch

from harness.errors import ConfigurationError
from harness.hardware import peaks as peaks_module
from harness.hardware.devices import DeviceInfo, describe_device
from harness.hardware.peaks import (
    CPU_PEAK_NOTE,
    datasheet_peak,
    measure_matmul_peak,
    measure_peak_for_precision,
    peak_figures,
)

T = 1e12


def _gpu(name: str) -> DeviceInfo:
    return DeviceInfo(
        kind="cuda",
        index=0,
        name=name,
        count=1,
        memory_bytes=80 * 2**30,
        torch_version=torch.__version__,
    )


def test_datasheet_peak_by_device_info():
    h100 = _gpu("NVIDIA H100 80GB HBM3")
    assert datasheet_peak(h100, "bf16") == pytest.approx(989 * T)
    assert datasheet_peak(h100, "tf32") == pytest.approx(494.7 * T)
    assert datasheet_peak(describe_device("cpu"), "fp32") is None  # no CPU datasheet
    with pytest.raises(ConfigurationError):
        datasheet_peak(h100, "int4")


# --------------------------------------------------------------------------------------------
# Measured matmul peak
# --------------------------------------------------------------------------------------------


def test_cpu_matmul_peak_is_two_n_cubed_over_the_median(monkeypatch):
    threads_seen: list[int] = []
    real_mm = torch.mm

    def mm(a, b, **kw):
        threads_seen.append(torch.get_num_threads())
        return real_mm(a, b, **kw)

    monkeypatch.setattr(torch, "mm", mm)
    before = torch.get_num_threads()
    k = 3 if before != 3 else 2  # a known count, different from the one asked for
    torch.set_num_threads(k)
    try:
        p = measure_matmul_peak("cpu", torch.float32, n=128, seconds=0.05, threads=1)
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert threads_seen and set(threads_seen) == {1}  # warm-up and timed matmuls on 1 thread
    assert after == k  # the count set before the call is restored
    assert len(p.samples_s) >= 10 and all(s > 0 for s in p.samples_s)  # one per window
    assert p.median_s == pytest.approx(statistics.median(p.samples_s))
    assert p.flop_per_s == pytest.approx(2 * 128**3 / p.median_s)
    assert p.dtype == "float32" and p.threads == 1 and not p.tf32
    assert p.source.startswith("measured here") and "128x128" in p.source
    assert p.sizes == (128,) and p.seconds >= 0.05


def test_matmul_peak_per_precision_dtype():
    p = measure_peak_for_precision("cpu", "bf16", n=64, seconds=0.02)
    assert p.dtype == "bfloat16"
    with pytest.raises(ConfigurationError):
        measure_matmul_peak("cpu", n=0)


# --------------------------------------------------------------------------------------------
# The figures a configuration reports
# --------------------------------------------------------------------------------------------


def test_peak_figures_on_cpu_use_the_measured_peak_for_the_burden():
    f = peak_figures("cpu", "fp32", threads=1)
    assert f["device_kind"] == "cpu" and f["datasheet_flop_per_s"] is None
    assert f["datasheet_source"] == CPU_PEAK_NOTE
    assert f["measured_flop_per_s"] > 0 and ", 1 thread" in f["measured_source"]
    assert f["measured_source"].startswith("measured here: best of sizes")
    assert f["burden_peak_flop_per_s"] == f["measured_flop_per_s"]
    assert f["burden_peak_source"] == f"{CPU_PEAK_NOTE}; {f['measured_source']}"


def test_peak_figures_without_measuring_leave_the_cpu_burden_without_a_peak():
    f = peak_figures("cpu", "fp32", measure=False)
    assert f["measured_flop_per_s"] is None and f["measured_source"] == "not measured"
    assert f["burden_peak_flop_per_s"] is None and f["burden_peak_source"] == CPU_PEAK_NOTE


def test_peak_figures_on_a_gpu_use_the_datasheet(monkeypatch):
    monkeypatch.setattr(peaks_module, "describe_device", lambda d: _gpu("NVIDIA H100 80GB HBM3"))
    f = peak_figures("cuda:0", "bf16", measure=False)
    assert f["device_name"] == "NVIDIA H100 80GB HBM3" and f["device_kind"] == "cuda"
    assert f["datasheet_flop_per_s"] == pytest.approx(989 * T)
    assert f["datasheet_source"].startswith("processors.csv H100 SXM5: ")
    assert f["burden_peak_flop_per_s"] == f["datasheet_flop_per_s"]
    assert f["burden_peak_source"] == f["datasheet_source"]
    monkeypatch.setattr(peaks_module, "describe_device", lambda d: _gpu("Some Future GPU"))
    unknown = peak_figures("cuda:0", "bf16", measure=False)
    assert unknown["datasheet_flop_per_s"] is None and unknown["burden_peak_flop_per_s"] is None
    assert (
        unknown["datasheet_source"]
        == "'Some Future GPU' is not in processors.csv: no datasheet peak"
    )


# --------------------------------------------------------------------------------------------
# CUDA (skipped without a GPU)
# --------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_cuda_matmul_peak_below_the_datasheet():
    p = measure_matmul_peak("cuda", torch.float32, n=4096, seconds=0.2)
    assert p.flop_per_s == pytest.approx(2 * 4096**3 / p.median_s)
    sheet = datasheet_peak(describe_device("cuda"), "fp32")
    if sheet:
        assert p.flop_per_s <= 1.15 * sheet  # fp32 without TF32 cannot beat the fp32 datasheet
