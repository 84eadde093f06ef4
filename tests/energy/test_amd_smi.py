"""AMD GPUs under a ROCm build of torch: identified through the same device mapping, energy
from amdsmi's accumulator where amdsmi is importable, else `unavailable` with the reason."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest
import torch

from harness.energy import UnavailableMonitor, VirtualClock, make_energy_monitor
from harness.energy.amd_smi import AmdSmiSource
from harness.energy.monitor import CompositeMonitor
from harness.energy.sampled import SampledEnergyMonitor
from harness.hardware.amd_smi import identify_rocm_device
from harness.hardware.identity import INDEX, PCI, UNKNOWN
from harness.vocab import AMDSMI_COUNTER, UNAVAILABLE

from .fakes import run_window

MI300X = "AMD Instinct MI300X"


def fake_amdsmi(clock=None, *, power_w=600.0, resolution_uj=15.3) -> types.ModuleType:
    """amdsmi with two GPUs in PCI order; the energy accumulator grows at `power_w`."""
    gpus = [
        {"bdf": "0000:0c:00.0", "uuid": "aaaa-0", "name": MI300X},
        {"bdf": "0000:22:00.0", "uuid": "bbbb-1", "name": MI300X},
    ]
    m = types.ModuleType("amdsmi")
    m.amdsmi_init = m.amdsmi_shut_down = lambda *a: None
    m.amdsmi_get_processor_handles = lambda: gpus
    m.amdsmi_get_gpu_device_bdf = lambda h: h["bdf"]
    m.amdsmi_get_gpu_device_uuid = lambda h: h["uuid"]
    m.amdsmi_get_gpu_asic_info = lambda h: {"market_name": h["name"]}

    def energy(h):
        joules = power_w * (clock.now() if clock else 0.0) + 1000.0 * gpus.index(h)
        return {
            "energy_accumulator": int(joules * 1e6 / resolution_uj),
            "counter_resolution": resolution_uj,
        }

    m.amdsmi_get_energy_count = energy
    m.amdsmi_get_power_info = lambda h: {
        "current_socket_power": power_w,
        "average_socket_power": 1.0,
    }
    return m


class HipView:
    """torch.cuda on ROCm: HIP devices' properties, here with PCI fields for GPU 1 only."""

    def __init__(self, *props):
        self.props = list(props)

    def count(self):
        return len(self.props)

    def properties(self, i):
        return self.props[i]


def hip(bus=None):
    p = SimpleNamespace(name=MI300X, multi_processor_count=304)
    if bus is not None:
        p.pci_domain_id, p.pci_bus_id, p.pci_device_id = 0, bus, 0
    return p


def test_rocm_torch_without_amdsmi_gives_unavailable_energy_with_the_reason(monkeypatch):
    monkeypatch.setattr(torch.version, "hip", "6.4.43482", raising=False)
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # import amdsmi -> ImportError
    mon = make_energy_monitor("cuda:0", idle_s=0.0)
    assert isinstance(mon, CompositeMonitor) and mon.primary.backend == "amdsmi"
    mon.primary.begin_window("w")
    m = mon.primary.end_window("w")
    assert m.provenance == UNAVAILABLE and "amdsmi is not installed" in m.reason


def test_the_factory_picks_amdsmi_for_a_rocm_build(monkeypatch):
    monkeypatch.setattr(torch.version, "hip", "6.4.43482", raising=False)
    mon = make_energy_monitor(
        "cuda:0", backends=["amdsmi"], amdsmi=fake_amdsmi(), cuda=HipView(hip(0x22)), idle_s=0.0
    )
    assert isinstance(mon, SampledEnergyMonitor) and mon.source.identity_basis == {"cuda:0": PCI}


def test_amdsmi_energy_of_the_identified_gpu():
    """HIP_VISIBLE_DEVICES=1: cuda:0 is amdsmi's second GPU, found by PCI bus id."""
    clock = VirtualClock()
    src = AmdSmiSource((0,), lib=fake_amdsmi(clock), cuda=HipView(hip(0x22)))
    mon = SampledEnergyMonitor(src, clock=clock, idle_s=0.0)
    m = run_window(mon, before=0.5, length=10.0)
    assert m.provenance == AMDSMI_COUNTER and m.backend == "amdsmi"
    assert m.total_energy_j == pytest.approx(6000.0, rel=1e-3)  # 600 W x 10 s
    assert m.mean_power_w == pytest.approx(600.0, rel=1e-3)


def test_rocm_devices_are_identified_or_refused():
    lib = fake_amdsmi()
    found, notes = identify_rocm_device(0, lib, HipView(hip(0x0C)), env={})
    assert found.basis == PCI and notes == []
    two = HipView(hip(), hip())
    assert identify_rocm_device(1, lib, two, env={})[0].basis == INDEX
    found, notes = identify_rocm_device(0, lib, HipView(hip()), env={"HIP_VISIBLE_DEVICES": "1"})
    assert found.basis == UNKNOWN and "HIP_VISIBLE_DEVICES is set" in notes[0]
    with pytest.raises(Exception, match="cannot tell which GPU"):
        AmdSmiSource((0,), lib=lib, cuda=HipView(hip()))  # 2 amdsmi GPUs, 1 HIP device
    assert isinstance(
        make_energy_monitor("cuda:0", backends=["amdsmi"], amdsmi=lib, cuda=HipView(hip())),
        UnavailableMonitor,
    )


@pytest.fixture
def rocm_torch(monkeypatch):
    """torch as a ROCm build shows one MI300X (its HIP device properties, with a PCI bus id)."""
    props = hip(0x22)
    props.total_memory, props.major, props.minor = 192 * 2**30, 9, 4
    monkeypatch.setattr(torch.version, "hip", "6.4.43482", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: MI300X)


def test_describe_device_identifies_an_amd_gpu_through_amdsmi(rocm_torch, monkeypatch):
    from harness.hardware.devices import describe_device

    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi())
    info = describe_device("cuda:0")
    assert info.name == MI300X and info.processor_type == "MI300X"
    assert info.identity_basis == PCI and info.multiprocessors == 304
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    info = describe_device("cuda:0")
    assert info.processor_type == "MI300X" and info.identity_basis == UNKNOWN
    assert any("amdsmi is not installed" in n for n in info.notes)
