"""Device names as torch and NVML report them resolve to processor rows with DENSE datasheet
peaks (NVIDIA quotes tensor rates with 2:4 sparsity, twice the dense rate)."""

from __future__ import annotations

import pytest

from harness.catalog.processors import lookup_processor

T = 1e12

# (device name, table row, dense bf16 TFLOP/s as the row's citation gives it)
NAMES = [
    ("NVIDIA A100-PCIE-40GB", "A100 40GB PCIe", 312),
    ("NVIDIA A100 80GB PCIe", "A100 80GB PCIe", 312),
    ("NVIDIA H100 NVL", "H100 NVL", 835.5),  # 1671 with sparsity
    ("NVIDIA H200 NVL", "H200 NVL", 835.5),
    ("NVIDIA GH200 480GB", "GH200 (GPU)", 989),
    ("NVIDIA L40", "L40", 181.05),  # 362.1 with sparsity
    ("NVIDIA H800", "H800 SXM5", 989),
    ("NVIDIA GB200", "GB200 (per GPU)", 2500),  # 5 PFLOPS with sparsity
    ("AMD Instinct MI300X", "MI300X", 1307.4),  # 2614.9 with sparsity
    ("AMD Instinct MI250X/MI250", "MI250X (per GCD)", 191.5),  # half the 383 of a module
    ("NVIDIA H20", "H20", 148),  # secondary sources only: the row is flagged
]


@pytest.mark.parametrize(("name", "row", "bf16"), NAMES)
def test_device_names_resolve_to_rows_with_a_dense_bf16_peak(name, row, bf16):
    spec = lookup_processor(name)
    assert spec is not None and spec.name == row
    assert spec.peak_flop_per_s("bf16") == pytest.approx(bf16 * T)
    assert spec.source  # every figure carries its citation


def test_the_dense_rate_not_the_sparse_one():
    h100 = lookup_processor("NVIDIA H100 80GB HBM3")
    assert h100.peak_flop_per_s("bf16") == pytest.approx(989 * T)  # not 1979 (sparse)
    assert lookup_processor("NVIDIA L40S").peak_flop_per_s("bf16") == pytest.approx(362.05 * T)
    # the PCIe A100s run the SXM4's rates at a lower TDP
    pcie, sxm = lookup_processor("NVIDIA A100-PCIE-40GB"), lookup_processor("A100 40GB SXM4")
    assert pcie.peak_flop_per_s("tf32") == sxm.peak_flop_per_s("tf32") == pytest.approx(156 * T)
    assert (pcie.tdp_watts, sxm.tdp_watts) == (250, 400)


@pytest.mark.parametrize("name", ["NVIDIA A10G", "NVIDIA B300"])
def test_parts_without_a_confirmed_figure_are_identified_but_give_no_peak(name):
    """A row saying why its cells are empty, rather than a guessed or borrowed figure."""
    spec = lookup_processor(name)
    assert spec is not None and spec.peak_flop_per_s("bf16") is None
    assert "confirmed" in spec.source


def test_a_figure_from_secondary_sources_is_flagged():
    from harness.catalog.flags import is_flagged

    assert is_flagged(lookup_processor("NVIDIA H20").source)


def test_similar_names_do_not_collide():
    assert lookup_processor("NVIDIA A10").name == "A10"
    assert lookup_processor("NVIDIA H200").name == "H200 SXM"
    assert lookup_processor("NVIDIA B200").name == "B200 (HGX, 1000 W)"
    assert lookup_processor("NVIDIA L4").name == "L4"
