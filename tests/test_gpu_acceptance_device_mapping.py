"""The GPU acceptance check "device mapping" compares the GPU a child's record names (its PCI bus
id and UUID) with NVML's for the GPU it pinned by CUDA_VISIBLE_DEVICES. NVML and the child are
faked: NVML numbers four GPUs, and the child "prints" a given record."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.hardware import nvml as hw_nvml

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_acceptance.py"
GPUS = [
    {"bus": f"00000000:{b:02X}:00.0", "uuid": f"GPU-{u}"}
    for b, u in ((0x18, "aaaa-0"), (0x3B, "bbbb-1"), (0x86, "cccc-2"), (0xAF, "dddd-3"))
]


@pytest.fixture(scope="module")
def acceptance():
    spec = importlib.util.spec_from_file_location("gpu_acceptance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def fake_nvml() -> SimpleNamespace:
    return SimpleNamespace(
        nvmlDeviceGetCount=lambda: len(GPUS),
        nvmlDeviceGetHandleByIndex=lambda i: GPUS[i],
        nvmlDeviceGetUUID=lambda h: h["uuid"].encode(),
        nvmlDeviceGetPciInfo=lambda h: SimpleNamespace(busId=h["bus"].encode()),
    )


def record(bus: str | None, uuid: str | None) -> dict:
    ids = {"device_identity_basis": "pci", "device_pci_bus_id": bus, "device_uuid": uuid}
    return {"key": "k", "environment": dict(ids), "timing": {"peak": dict(ids)}}


def run_check(acceptance, monkeypatch, rec: dict):
    seen = {}

    def child(cmd, **kwargs):
        seen.update(kwargs["env"])
        return subprocess.CompletedProcess(cmd, 0, json.dumps({"records": [rec]}), "")

    monkeypatch.setattr(hw_nvml, "session", lambda: contextlib.nullcontext(fake_nvml()))
    monkeypatch.setattr(acceptance.subprocess, "run", child)
    result = acceptance.check_device_mapping(acceptance.Setup.for_gpu())
    assert seen["CUDA_VISIBLE_DEVICES"] == "3"  # the last GPU in NVML's (PCI) order
    return result


def test_the_pinned_gpus_ids_pass_in_either_spelling(acceptance, monkeypatch):
    r = run_check(acceptance, monkeypatch, record("00000000:AF:00.0", "GPU-dddd-3"))
    assert r.status == "PASS" and "environment.device_pci_bus_id" in r.detail
    # amdsmi-style 4-digit domain, torch's bare UUID: the same GPU
    r = run_check(acceptance, monkeypatch, record("0000:af:00.0", "dddd-3"))
    assert r.status == "PASS", r.detail


@pytest.mark.parametrize(
    ("bus", "uuid", "why"),
    [
        ("00000000:18:00.0", "GPU-aaaa-0", "names another GPU"),  # NVML's GPU 0: cuda:0 by index
        ("00000000:18:00.0", "GPU-dddd-3", "names another GPU"),  # one id right is not enough
        (None, None, "names no PCI bus id or UUID"),
    ],
)
def test_a_record_naming_another_gpu_or_none_fails(acceptance, monkeypatch, bus, uuid, why):
    r = run_check(acceptance, monkeypatch, record(bus, uuid))
    assert r.status == "FAIL" and why in r.detail
