"""Devices: the processor table against its cited figures, device identity, matmul peak."""

from __future__ import annotations

import json
import os

import pytest
import torch
from cuda_available import HAS_CUDA

from harness.catalog.processors import lookup_processor, processor_table
from harness.cli import main
from harness.errors import ConfigurationError, DeviceUnavailableError
from harness.hardware.devices import describe_device, resolve_device
from harness.hardware.precision import (
    PrecisionPlan,
    plan_precision,
    precision_settings,
    tf32_allowed,
)
from harness.vocab import check_precision_name

T = 1e12

# (torch.cuda.get_device_name, table row, fp32, tf32, bf16/fp16 tensor, words of the citation):
# dense TFLOPS as cited in harness/data/reference/processors.csv.
CUDA_NAMES = [
    ("NVIDIA H100 80GB HBM3", "H100 SXM5", 67, 494.7, 989, "hpctech"),
    ("NVIDIA H100 PCIe", "H100 PCIe", 51, 378, 756, "PB-11133"),
    ("NVIDIA A100-SXM4-80GB", "A100 80GB SXM4", 19.5, 156, 312, "same source"),
    ("NVIDIA A100-SXM4-40GB", "A100 40GB SXM4", 19.5, 156, 312, "glennklockwood"),
    ("Tesla V100-SXM2-16GB", "V100 SXM2", 15.7, None, 125, "NVIDIA developer blog"),
    ("Tesla V100-SXM2-32GB", "V100 SXM2", 15.7, None, 125, "fudzilla"),
    ("Tesla V100-PCIE-16GB", "V100 PCIe", 14, None, 112, "io-tech"),
    ("Tesla T4", "T4", 8.1, None, 65, "sysrqmts"),
    ("NVIDIA GeForce RTX 4090", "RTX 4090", 82.6, 82.6, 165.2, "gigagpu"),
    ("NVIDIA H200", "H200 SXM", 67, 494.7, 989, "glennklockwood"),
    ("NVIDIA L40S", "L40S", 91.6, 183, 362.05, "mullet.se"),
]


@pytest.mark.parametrize("device_name, row, fp32, tf32, tensor, cited", CUDA_NAMES)
def test_cuda_names_map_to_their_cited_datasheet_figures(
    device_name, row, fp32, tf32, tensor, cited
):
    spec = lookup_processor(device_name)
    assert spec is not None and spec.name == row
    assert spec.peak_flop_per_s("fp32") == pytest.approx(fp32 * T)
    assert spec.peak_flop_per_s("bf16") == pytest.approx(tensor * T)
    assert spec.peak_flop_per_s("fp16") == pytest.approx(tensor * T)
    if tf32 is None:
        assert spec.peak_flop_per_s("tf32") is None  # no TF32 tensor cores: no figure
    else:
        assert spec.peak_flop_per_s("tf32") == pytest.approx(tf32 * T)
    assert cited in spec.source


def test_h100_fp8_and_tdp():
    spec = lookup_processor("NVIDIA H100 80GB HBM3")
    assert spec.peak_flop_per_s("fp8") == pytest.approx(1979 * T)
    assert spec.tdp_watts == 700 and not spec.flagged


@pytest.mark.parametrize(
    "name",
    [
        "Tesla K80",  # CUDA sees half a board
        "NVIDIA GeForce RTX 4090 D",
        "Tesla V100S-PCIE-32GB",
        "NVIDIA GeForce RTX 3090 Ti",
        "Some Future Accelerator",
    ],
)
def test_names_without_a_matching_row_give_no_peak(name):
    assert lookup_processor(name) is None


def test_table_names_and_aliases():
    assert lookup_processor("H100 SXM5").name == "H100 SXM5"
    assert lookup_processor("h100   sxm5").name == "H100 SXM5"
    assert lookup_processor("V100").name == "V100 SXM2"  # alias: DGX-1's SXM2
    assert lookup_processor("TPU v3 core").name == "TPU v3 (per core)"
    assert lookup_processor("GPU (model not stated)") is None
    assert lookup_processor("Titan X (generation not stated)") is None
    assert lookup_processor("NVIDIA TITAN X (Pascal)").name == "Titan X (Pascal)"
    assert lookup_processor("NVIDIA GeForce GTX TITAN X").name == "Titan X (Maxwell)"
    assert lookup_processor("RTX 3090").flagged  # its source says MEMORY / flag
    # every row of the table is reachable by its own name
    for name in processor_table():
        assert lookup_processor(name).name == name


# --------------------------------------------------------------------------------------------
# Device identity
# --------------------------------------------------------------------------------------------


def test_describe_cpu():
    info = describe_device("cpu")
    assert info.kind == "cpu" and info.device == "cpu" and info.count == 1
    assert info.cpu_threads == len(os.sched_getaffinity(0))
    assert info.torch_threads == torch.get_num_threads()
    assert info.torch_version == torch.__version__
    with open("/proc/cpuinfo") as f:
        models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    if models:
        assert info.cpu_model == models[0] == info.name
    with open("/proc/meminfo") as f:
        total_kib = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
    assert info.memory_bytes == total_kib * 1024
    assert 1 <= (info.cpu_cores or 1) <= info.cpu_threads
    json.dumps(info.to_dict())


@pytest.mark.parametrize("text", ["tpu", "cuda:x", "cpu:1", "gpu0"])
def test_unknown_device_strings(text):
    with pytest.raises(ConfigurationError):
        resolve_device(text)


def test_cpu_device_strings():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if HAS_CUDA else "cpu")


@pytest.mark.skipif(HAS_CUDA, reason="checks the no-CUDA error")
@pytest.mark.parametrize("text", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_one_line_device_error(text):
    with pytest.raises(DeviceUnavailableError) as exc:
        describe_device(text)
    msg = str(exc.value)
    assert "\n" not in msg and "use --device cpu" in msg


def test_cuda_index_beyond_the_machine():
    with pytest.raises(DeviceUnavailableError):
        resolve_device("cuda:99")


# --------------------------------------------------------------------------------------------
# Precision plans
# --------------------------------------------------------------------------------------------


def test_precision_names():
    assert check_precision_name("BF16") == "bf16"
    assert check_precision_name("float16") == "fp16"
    with pytest.raises(ConfigurationError, match="fp32, tf32, bf16, fp16"):
        check_precision_name("fp64")


def test_cpu_precision_plans():
    fp32 = plan_precision("fp32", "cpu")
    assert fp32.autocast_dtype is None and not fp32.grad_scaler and not fp32.allow_tf32
    bf16 = plan_precision("bf16", "cpu")
    assert bf16.autocast_dtype == torch.bfloat16 and bf16.used == "bf16"
    for p in ("fp16", "tf32"):
        with pytest.raises(ConfigurationError):
            plan_precision(p, "cpu")


def test_precision_settings_set_and_restore_global_flags():
    # read through tf32_allowed: torch >= 2.9 raises on reading allow_tf32 once the
    # fp32_precision API has set TF32
    before = (*tf32_allowed(), torch.backends.cudnn.benchmark)
    plan = PrecisionPlan("tf32", "tf32", "cuda", None, False, True)
    with precision_settings(plan, cudnn_benchmark=not before[2]):
        assert tf32_allowed() == (True, True)
        assert torch.backends.cudnn.benchmark == (not before[2])
    after = (*tf32_allowed(), torch.backends.cudnn.benchmark)
    assert after == before


# --------------------------------------------------------------------------------------------
# `harness env`
# --------------------------------------------------------------------------------------------


def test_env_command_json(capsys):
    assert main(["env", "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["packages"]["torch"] == torch.__version__.split("+")[0]
    assert env["cpu"]["cpu_threads"] == len(os.sched_getaffinity(0))
    assert len(env["gpus"]) == (torch.cuda.device_count() if HAS_CUDA else 0)
    assert set(env["energy_sources"]) == {"nvml", "rapl", "codecarbon"}


def test_env_command_text(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "packages" in out and "torch" in out and "energy sources" in out


# --------------------------------------------------------------------------------------------
# CUDA (skipped without a GPU)
# --------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_describe_cuda_device():
    info = describe_device("cuda")
    assert info.kind == "cuda" and info.index == 0
    assert info.name == torch.cuda.get_device_name(0)
    assert info.memory_bytes == torch.cuda.get_device_properties(0).total_memory
    assert info.count == torch.cuda.device_count()
    assert info.compute_capability == "{}.{}".format(*torch.cuda.get_device_capability(0))
    spec = lookup_processor(info.name)
    assert info.processor_type == (spec.name if spec else None)


def test_nvml_facts_match_the_cuda_device_by_pci_bus_id(monkeypatch):
    """A fake NVML with two GPUs: the facts come from the one on the CUDA device's bus."""
    import sys
    import types

    from harness.hardware.nvml import device_facts as _nvml_facts

    gpus = {
        "00000000:3B:00.0": {
            "uuid": "GPU-aaaa",
            "sm": 1980,
            "max": 1980,
            "mem": 2619,
            "pl": 700000,
        },
        "00000000:86:00.0": {"uuid": "GPU-bbbb", "sm": 345, "max": 1980, "mem": 2619, "pl": 500000},
    }
    fake = types.ModuleType("pynvml")
    fake.NVML_CLOCK_SM, fake.NVML_CLOCK_MEM = 1, 2
    fake.nvmlInit = lambda: None
    fake.nvmlShutdown = lambda: None
    fake.nvmlSystemGetDriverVersion = lambda: "550.54.15"
    fake.nvmlSystemGetCudaDriverVersion = lambda: 12040
    fake.nvmlDeviceGetHandleByPciBusId = lambda bus: gpus[bus]
    fake.nvmlDeviceGetClockInfo = lambda h, c: h["sm"] if c == 1 else h["mem"]
    fake.nvmlDeviceGetMaxClockInfo = lambda h, c: h["max"]
    fake.nvmlDeviceGetEnforcedPowerLimit = lambda h: h["pl"]
    monkeypatch.setitem(sys.modules, "pynvml", fake)

    props = types.SimpleNamespace(pci_domain_id=0, pci_bus_id=0x86, pci_device_id=0, uuid="bbbb")
    facts, notes = _nvml_facts(props)
    assert facts == {
        "driver_version": "550.54.15",
        "cuda_driver_version": "12.4",
        "sm_clock_mhz": 345,
        "max_sm_clock_mhz": 1980,
        "memory_clock_mhz": 2619,
        "power_limit_w": 500.0,
    }
    assert notes == []
    # no PCI match: found by UUID instead
    fake.nvmlDeviceGetHandleByPciBusId = lambda bus: (_ for _ in ()).throw(KeyError(bus))
    fake.nvmlDeviceGetCount = lambda: 2
    fake.nvmlDeviceGetHandleByIndex = lambda i: list(gpus.values())[i]
    fake.nvmlDeviceGetUUID = lambda h: h["uuid"]
    facts, _ = _nvml_facts(props)
    assert facts["power_limit_w"] == 500.0
    # no match at all: versions, no clocks, and a note
    props.uuid = "cccc"
    facts, notes = _nvml_facts(props)
    assert "sm_clock_mhz" not in facts and facts["driver_version"] == "550.54.15"
    assert any("no NVML device matches" in n for n in notes)
