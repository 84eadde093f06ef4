"""A MIG slice's datasheet peak is its share of the GPU's SMs (or none), never the whole GPU's;
its NVML energy is the whole GPU's, so the energy source refuses it."""

from __future__ import annotations

import pytest
import torch

from harness.energy import NvmlSource, make_energy_monitor
from harness.energy.sources import SourceUnavailable
from harness.hardware import peaks as peaks_module
from harness.hardware.devices import DeviceInfo
from harness.hardware.peaks import datasheet_peak, fp32_peak, peak_figures

T = 1e12
SLICE = "NVIDIA H100 80GB HBM3 MIG 1g.10gb"


def gpu(name: str, sms: int | None, mig: bool = False) -> DeviceInfo:
    return DeviceInfo(
        kind="cuda",
        index=0,
        name=name,
        count=1,
        memory_bytes=10 * 2**30,
        torch_version=torch.__version__,
        multiprocessors=sms,
        mig_slice=mig,
    )


def test_a_mig_slice_gets_its_share_of_the_sms():
    """1g.10gb on an H100 SXM5 (132 SMs, whitepaper) has 16 SMs: 16/132 of 989 TFLOP/s."""
    assert datasheet_peak(gpu(SLICE, 16), "bf16") == pytest.approx(989 * T * 16 / 132)
    assert datasheet_peak(gpu("NVIDIA H100 80GB HBM3", 132), "bf16") == pytest.approx(989 * T)


def test_a_slice_without_an_sm_count_gets_no_peak_rather_than_the_whole_gpus():
    assert datasheet_peak(gpu(SLICE, None), "bf16") is None
    assert datasheet_peak(gpu("NVIDIA GB200", 20, mig=True), "bf16") is None  # no SM count


def test_peak_figures_say_why_and_scale_the_fp32_peak(monkeypatch):
    monkeypatch.setattr(peaks_module, "describe_device", lambda d: gpu(SLICE, 16, mig=True))
    f = peak_figures("cuda:0", "bf16", measure=False)
    assert f["mig_slice"] and f["datasheet_sm_share"] == pytest.approx(16 / 132)
    assert f["burden_peak_flop_per_s"] == pytest.approx(989 * T * 16 / 132)
    assert "MIG slice: 16 of 132 SMs" in f["datasheet_source"]
    fp32, source = fp32_peak(f, "bf16")
    assert fp32 == pytest.approx(67 * T * 16 / 132) and "of its SMs" in source
    monkeypatch.setattr(peaks_module, "describe_device", lambda d: gpu(SLICE, None, mig=True))
    f = peak_figures("cuda:0", "bf16", measure=False)
    assert f["burden_peak_flop_per_s"] is None and "no datasheet peak" in f["datasheet_source"]
    assert fp32_peak(f, "bf16")[0] is None


def test_an_mi250_gcd_under_the_mi250x_row_gets_its_cu_share():
    """MI250 GCD: 104 CUs against the MI250X's 110 at the same clock: 181.05 TFLOP/s bf16."""
    mi250 = gpu("AMD Instinct MI250X/MI250", 104)
    assert datasheet_peak(mi250, "bf16") == pytest.approx(191.5 * T * 104 / 110)


def test_nvml_energy_of_a_mig_slice_is_refused_with_the_reason():
    from test_identity import GPUS, FakeCuda, fake_nvml, props

    gpus = [dict(GPUS[0], mig=1)]  # MIG mode on: CUDA sees slices of this GPU
    cuda = FakeCuda(props(bus=0x18, name=SLICE))
    with pytest.raises(SourceUnavailable, match="MIG slice .* whole GPU"):
        NvmlSource((0,), nvml=fake_nvml(gpus), cuda=cuda)
    mon = make_energy_monitor("cuda:0", backends=["nvml"], nvml=fake_nvml(gpus), cuda=cuda)
    assert "MIG slice" in mon.reason
