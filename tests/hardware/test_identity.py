"""Which NVML GPU is cuda:i: PCI bus id, else UUID, else a safe index, else refused, never the
index under CUDA_VISIBLE_DEVICES. A stand-in NVML numbers four GPUs in PCI order; the CUDA view
is what torch shows under CUDA_VISIBLE_DEVICES=3 (one device, NVML's fourth)."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from harness.energy import NvmlSource, UnavailableMonitor, make_energy_monitor
from harness.energy.sources import SourceUnavailable
from harness.hardware import identity
from harness.hardware.nvml import device_facts, identify_cuda_device

H100 = "NVIDIA H100 80GB HBM3"
GPUS = [  # NVML's order: PCI bus order over the whole machine
    {"bus": f"00000000:{b:02X}:00.0", "uuid": f"GPU-{u}", "name": H100, "mig": 0, "sm": 1000 + i}
    for i, (b, u) in enumerate(
        [(0x18, "aaaa-0"), (0x3B, "bbbb-1"), (0x86, "cccc-2"), (0xAF, "dddd-3")]
    )
]


class NvmlError(Exception):
    pass


def fake_nvml(gpus=GPUS, *, by_uuid=True) -> types.ModuleType:
    """pynvml answering from `gpus`; handles are the dicts themselves."""
    m = types.ModuleType("pynvml")
    m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM, m.NVML_DEVICE_MIG_ENABLE = 1, 2, 1
    m.opened: list[int] = []
    m.nvmlInit = m.nvmlShutdown = lambda: None
    m.nvmlDeviceGetCount = lambda: len(gpus)

    def find(key, value):
        for g in gpus:
            if g[key] == value:
                return g
        raise NvmlError("Not Found")

    m.nvmlDeviceGetHandleByIndex = lambda i: gpus[i] if i < len(gpus) else find("x", None)
    m.nvmlDeviceGetHandleByPciBusId = lambda bus: find("bus", bus)
    if by_uuid:
        m.nvmlDeviceGetHandleByUUID = lambda u: find("uuid", u)
    m.nvmlDeviceGetUUID = lambda h: h["uuid"]
    m.nvmlDeviceGetPciInfo = lambda h: SimpleNamespace(busId=h["bus"].encode())  # bytes: old
    m.nvmlDeviceGetName = lambda h: h["name"]
    m.nvmlDeviceGetMigMode = lambda h: (h["mig"], h["mig"])
    m.nvmlDeviceGetTotalEnergyConsumption = lambda h: 1_000_000 * (gpus.index(h) + 1)
    m.nvmlDeviceGetPowerUsage = lambda h: 100_000
    m.nvmlSystemGetDriverVersion = lambda: "580.65.06"
    m.nvmlSystemGetCudaDriverVersion = lambda: 13000
    m.nvmlDeviceGetClockInfo = lambda h, c: h["sm"]
    m.nvmlDeviceGetMaxClockInfo = lambda h, c: 1980
    m.nvmlDeviceGetEnforcedPowerLimit = lambda h: 700_000
    return m


class FakeCuda:
    """torch.cuda under CUDA_VISIBLE_DEVICES: the visible devices' properties, in CUDA's order."""

    def __init__(self, *props):
        self.props = list(props)

    def count(self):
        return len(self.props)

    def properties(self, i):
        return self.props[i]


def props(*, bus=None, uuid=None, name=H100):
    """torch's device properties; older torch has no pci_* fields (bus=None)."""
    p = SimpleNamespace(name=name, multi_processor_count=132)
    if bus is not None:
        p.pci_domain_id, p.pci_bus_id, p.pci_device_id = 0, bus, 0
    if uuid is not None:
        p.uuid = uuid
    return p


VISIBLE_3 = {"CUDA_VISIBLE_DEVICES": "3"}


def test_pci_bus_id_maps_cuda_0_to_nvml_gpu_3_under_cuda_visible_devices():
    found = identify_cuda_device(fake_nvml(), 0, FakeCuda(props(bus=0xAF)), env=VISIBLE_3)
    assert found.handle is GPUS[3] and found.basis == identity.PCI


@pytest.mark.parametrize("by_uuid", [True, False])
def test_torch_without_pci_fields_maps_by_uuid(by_uuid):
    """torch < 2.8 has no pci_* properties; its UUID lacks NVML's "GPU-" prefix."""
    cuda = FakeCuda(props(uuid="dddd-3"))
    found = identify_cuda_device(fake_nvml(by_uuid=by_uuid), 0, cuda, env=VISIBLE_3)
    assert found.handle is GPUS[3] and found.basis == identity.UUID


def test_neither_pci_nor_uuid_under_cuda_visible_devices_is_refused_with_the_reason():
    found = identify_cuda_device(fake_nvml(), 0, FakeCuda(props()), env=VISIBLE_3)
    assert found.handle is None and found.basis == identity.UNKNOWN
    assert "CUDA_VISIBLE_DEVICES is set" in found.reason and "cuda:0" in found.reason


def test_the_index_stands_only_where_nothing_renumbers_devices():
    cuda = FakeCuda(*[props() for _ in GPUS])
    found = identify_cuda_device(fake_nvml(), 2, cuda, env={})
    assert found.handle is GPUS[2] and found.basis == identity.INDEX
    # torch sees fewer devices than NVML (a container, a MIG layout): refused
    found = identify_cuda_device(fake_nvml(), 0, FakeCuda(props()), env={})
    assert found.basis == identity.UNKNOWN and "sees 4 device(s) and torch 1" in found.reason
    # unlike GPUs in CUDA's default fastest-first order: refused, unless ordered by PCI bus
    mixed = [dict(g) for g in GPUS]
    mixed[0]["name"] = "NVIDIA A100-SXM4-80GB"
    assert identify_cuda_device(fake_nvml(mixed), 1, cuda, env={}).basis == identity.UNKNOWN
    ordered = identify_cuda_device(
        fake_nvml(mixed), 1, cuda, env={"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    )
    assert ordered.handle is mixed[1] and ordered.basis == identity.INDEX


def test_energy_reads_the_gpu_cuda_names_not_nvml_gpu_0(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    src = NvmlSource((0,), nvml=fake_nvml(), cuda=FakeCuda(props(uuid="dddd-3")))
    assert src.read("cuda:0", 0.0).counter_mj == 4_000_000  # NVML GPU 3's counter
    assert src.identity_basis == {"cuda:0": "uuid"}


def test_energy_is_unavailable_with_the_reason_when_the_gpu_cannot_be_identified(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(SourceUnavailable, match="cannot tell which GPU is cuda:0"):
        NvmlSource((0,), nvml=fake_nvml(), cuda=FakeCuda(props()))
    mon = make_energy_monitor("cuda:0", backends=["nvml"], nvml=fake_nvml(), cuda=FakeCuda(props()))
    assert isinstance(mon, UnavailableMonitor)
    assert "CUDA_VISIBLE_DEVICES is set" in mon.reason


def test_device_facts_come_from_the_identified_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    facts, notes = device_facts(props(uuid="GPU-cccc-2"), 0, 1)
    assert facts["sm_clock_mhz"] == 1002 and notes == []


def test_synchronise_waits_on_the_measured_device_only(monkeypatch):
    """Without a device argument, torch.cuda.synchronize() opens a context on cuda:0."""
    calls: list[object] = []
    cuda = SimpleNamespace(is_initialized=lambda: True, synchronize=lambda *a: calls.append(a))
    visible = FakeCuda(*[props(bus=int(g["bus"][9:11], 16)) for g in GPUS])
    src = NvmlSource((3,), nvml=fake_nvml(), cuda=visible)
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    src.synchronize()
    assert calls == [(3,)]


def test_the_environment_records_how_the_gpu_was_identified(monkeypatch):
    from harness.hardware.environment import identity_basis

    visible = [props(uuid="dddd-3")]
    cuda = SimpleNamespace(
        is_initialized=lambda: True,
        is_available=lambda: True,
        device_count=lambda: len(visible),
        get_device_properties=lambda i: visible[i],
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda, version=SimpleNamespace()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert identity_basis(0) == identity.UUID
    del visible[0].uuid
    assert identity_basis(0) == identity.UNKNOWN
    cuda.is_initialized = lambda: False  # a sweep's parent: not checked, not guessed
    assert identity_basis(0) is None


def test_a_mig_slice_is_named_by_its_profile_in_the_measurement_key(monkeypatch):
    """NVML names the parent GPU; a slice's key must not be the whole GPU's."""
    import torch

    from harness.hardware import environment, nvml

    slices = [dict(g, mig=1) for g in GPUS]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(slices))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"{H100} MIG 1g.10gb")
    nvml.gpu_names.cache_clear()  # both cache across calls; cleared again on the way out
    environment.device_identity.cache_clear()
    try:
        assert nvml.gpu_names() == ()
        assert environment.device_identity("cuda:0") == f"cuda/{H100} MIG 1g.10gb"
        monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())  # no MIG: NVML's names
        nvml.gpu_names.cache_clear()
        environment.device_identity.cache_clear()
        assert environment.device_identity("cuda:0") == f"cuda/{H100}"
    finally:
        nvml.gpu_names.cache_clear()
        environment.device_identity.cache_clear()


def test_the_identified_gpu_is_named_by_nvmls_pci_bus_id_and_uuid():
    """Whatever matched it, the identity names NVML's GPU 3 as NVML does, so a record can be
    checked against nvidia-smi; where NVML cannot say, torch's bus id stands in."""
    nvml_3 = (GPUS[3]["bus"], GPUS[3]["uuid"])
    for cuda in (FakeCuda(props(bus=0xAF)), FakeCuda(props(uuid="dddd-3"))):
        found = identify_cuda_device(fake_nvml(), 0, cuda, env=VISIBLE_3)
        assert (found.pci_bus_id, found.uuid) == nvml_3, found.basis
    by_index = identify_cuda_device(fake_nvml(), 2, FakeCuda(*[props() for _ in GPUS]), env={})
    assert (by_index.basis, by_index.pci_bus_id, by_index.uuid) == (
        "index",
        GPUS[2]["bus"],
        "GPU-cccc-2",
    )
    old = fake_nvml()
    del old.nvmlDeviceGetPciInfo, old.nvmlDeviceGetUUID
    found = identify_cuda_device(old, 0, FakeCuda(props(bus=0xAF, uuid="dddd-3")), env=VISIBLE_3)
    assert (found.pci_bus_id, found.uuid) == ("00000000:AF:00.0", "dddd-3")
    refused = identify_cuda_device(fake_nvml(), 0, FakeCuda(props()), env=VISIBLE_3)
    assert (refused.pci_bus_id, refused.uuid) == (None, None)


def test_the_peak_figures_name_the_gpu_cuda_0_is_under_cuda_visible_devices(monkeypatch):
    """describe_device -> peak_figures: what `timing.peak` (and from it `environment`) keeps."""
    import torch

    from harness.hardware.peaks import peak_figures

    visible = [props(bus=0xAF)]
    visible[0].total_memory, visible[0].major, visible[0].minor = 80 * 2**30, 9, 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(visible))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: visible[i])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: visible[i].name)
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    peak = peak_figures("cuda:0", "bf16", measure=False)
    assert peak["device_identity_basis"] == identity.PCI
    assert (peak["device_pci_bus_id"], peak["device_uuid"]) == (GPUS[3]["bus"], "GPU-dddd-3")


def test_the_environment_names_the_identified_gpu(monkeypatch):
    from harness.hardware.environment import identified_device

    cuda = SimpleNamespace(
        is_initialized=lambda: True,
        is_available=lambda: True,
        device_count=lambda: 1,
        get_device_properties=lambda i: props(uuid="bbbb-1"),
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda, version=SimpleNamespace()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    found = identified_device(0)
    assert (found.basis, found.pci_bus_id, found.uuid) == ("uuid", GPUS[1]["bus"], "GPU-bbbb-1")
