"""Which management-library device (NVML's, amdsmi's) is `cuda:i`: the one mapping every reader
of device facts, names and energy uses.

CUDA numbers the devices it is shown (`CUDA_VISIBLE_DEVICES`; `HIP_VISIBLE_DEVICES` and
`ROCR_VISIBLE_DEVICES` under ROCm) in its own order (`CUDA_DEVICE_ORDER`, fastest first by
default), while NVML and amdsmi number every GPU in the machine in PCI order
(https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html, nvmlDeviceGetHandleByIndex).
Under `CUDA_VISIBLE_DEVICES=3`, `cuda:0` is NVML's GPU 3, so the index is never trusted there.

The order of trust: the PCI bus id from torch's device properties (`pci_domain_id`,
`pci_bus_id`, `pci_device_id`; absent in older torch), else the device UUID, else the index
where nothing renumbers devices, else no device: the caller reports the reason instead of
reading another GPU.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# How a CUDA device was matched; "unknown": not matched, nothing is read from a guess.
PCI, UUID, INDEX, UNKNOWN = "pci", "uuid", "index", "unknown"
BASES: tuple[str, ...] = (PCI, UUID, INDEX, UNKNOWN)

# Variables that renumber devices for CUDA (and HIP) but not for NVML or amdsmi.
RENUMBERING_VARIABLES: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
)


class DeviceLocator(Protocol):
    """A management library's way of finding a device; each method raises when it finds none."""

    def count(self) -> int: ...

    def by_pci(self, bus_id: str) -> Any: ...

    def by_uuid(self, uuid: str) -> Any: ...

    def by_index(self, index: int) -> Any: ...

    def name(self, handle: Any) -> str: ...

    def mig_enabled(self, handle: Any) -> bool: ...

    def bus_id(self, handle: Any) -> str: ...

    def uuid(self, handle: Any) -> str: ...


@dataclass(frozen=True)
class DeviceIdentity:
    """The library's handle of `cuda:i` and how it was found; `reason` says why when it was not.

    `pci_bus_id` and `uuid` name the found GPU as the library reports them (torch's, where the
    library cannot say), so a record can be checked against `nvidia-smi` on another machine.
    """

    cuda_index: int
    handle: Any
    basis: str  # one of BASES
    reason: str = ""
    mig: bool = False  # a MIG slice: the library's whole-GPU readings are not this device's
    pci_bus_id: str | None = None  # e.g. "00000000:AF:00.0" (NVML)
    uuid: str | None = None  # e.g. "GPU-6b5f0e1c-..." (NVML)

    @property
    def found(self) -> bool:
        return self.basis != UNKNOWN


def pci_bus_id(props: Any) -> str | None:
    """'DDDDDDDD:BB:DD.0' from torch's device properties; None where torch has no pci_* fields."""
    try:
        return f"{props.pci_domain_id:08X}:{props.pci_bus_id:02X}:{props.pci_device_id:02X}.0"
    except (AttributeError, TypeError, ValueError):
        return None


def same_bus(a: str, b: str) -> bool:
    """Two PCI addresses name the same slot, whatever the domain's width ("0000:" for amdsmi,
    "00000000:" for NVML) and the hex digits' case."""
    try:
        return [int(x, 16) for x in re.split(r"[:.]", a)] == [
            int(x, 16) for x in re.split(r"[:.]", b)
        ]
    except ValueError:
        return False


def device_uuid(props: Any) -> tuple[str, bool] | None:
    """(bare lower-case UUID, is a MIG instance) from torch's properties; None when there is none.

    torch prints the UUID without NVML's "GPU-" prefix; a MIG instance's carries "MIG-".
    """
    raw = str(getattr(props, "uuid", "") or "").strip().lower()
    mig = raw.startswith("mig-")
    bare = re.sub(r"^(gpu|mig)-", "", raw)
    if not bare or set(bare) <= {"0", "-"}:
        return None
    return bare, mig


def is_mig_name(name: str) -> bool:
    """A MIG slice's CUDA name: "NVIDIA H100 80GB HBM3 MIG 1g.10gb"."""
    return re.search(r"\bMIG\b", name or "") is not None


def identify(
    locator: DeviceLocator,
    cuda_index: int,
    props: Any,
    cuda_count: int | None,
    env: Mapping[str, str] | None = None,
) -> DeviceIdentity:
    """The handle of `cuda:cuda_index`: by PCI bus id, else UUID, else index where safe, else none.

    `props` are torch's device properties (None where CUDA is not up in this process) and
    `cuda_count` torch's device count (None: unknown).
    """
    env = os.environ if env is None else env
    mig_named = props is not None and is_mig_name(str(getattr(props, "name", "")))
    bus = pci_bus_id(props) if props is not None else None
    if bus is not None:
        handle = attempt(lambda: locator.by_pci(bus))
        if handle is not None:
            return _found(locator, cuda_index, handle, PCI, mig_named, props)
    uuid = device_uuid(props) if props is not None else None
    if uuid is not None:
        handle = attempt(lambda: locator.by_uuid(uuid[0]))
        if handle is not None:
            return _found(locator, cuda_index, handle, UUID, mig_named or uuid[1], props)
    why_not_index = _index_refused(locator, cuda_count, env)
    if why_not_index is None:
        handle = attempt(lambda: locator.by_index(cuda_index))
        if handle is not None:
            return _found(locator, cuda_index, handle, INDEX, mig_named, props)
        why_not_index = f"the library has no device {cuda_index}"
    tried = []
    if props is None:
        tried.append("CUDA is not available in this process (no PCI bus id or UUID to match)")
    else:
        tried.append(f"no device on PCI bus {bus}" if bus else "torch gives no PCI bus id")
        tried.append(f"none with UUID {uuid[0]}" if uuid else "torch gives no UUID")
    reason = f"cannot tell which GPU is cuda:{cuda_index}: {'; '.join(tried)}; {why_not_index}"
    return DeviceIdentity(cuda_index, None, UNKNOWN, reason, mig_named)


def _index_refused(
    locator: DeviceLocator, cuda_count: int | None, env: Mapping[str, str]
) -> str | None:
    """Why the index cannot stand for the device (None: it can): something renumbers devices."""
    for var in RENUMBERING_VARIABLES:
        if env.get(var) is not None:
            return f"{var} is set, so CUDA's numbering is not the library's"
    if cuda_count is None:
        return "torch's device count is unknown"
    count = attempt(locator.count)
    if count != cuda_count:
        return f"the library sees {count} device(s) and torch {cuda_count}"
    if env.get("CUDA_DEVICE_ORDER", "").upper() != "PCI_BUS_ID":
        names = {attempt(lambda i=i: locator.name(locator.by_index(i))) for i in range(count)}
        if len(names) > 1:
            return "unlike GPUs in CUDA's fastest-first order (set CUDA_DEVICE_ORDER=PCI_BUS_ID)"
    return None


def _found(
    locator: DeviceLocator, cuda_index: int, handle: Any, basis: str, mig: bool, props: Any
) -> DeviceIdentity:
    mig = mig or bool(attempt(lambda: locator.mig_enabled(handle)))
    bus = attempt(lambda: locator.bus_id(handle)) or (pci_bus_id(props) if props else None)
    uuid = attempt(lambda: locator.uuid(handle))
    if not uuid and props is not None:
        uuid = (device_uuid(props) or (None,))[0]
    return DeviceIdentity(
        cuda_index, handle, basis, "", mig, str(bus) if bus else None, str(uuid) if uuid else None
    )


def attempt(fn: Any) -> Any:
    """fn(), or None when the library raises (its error types vary by driver and binding)."""
    try:
        return fn()
    except Exception:
        return None


# --------------------------------------------------------------------------------------------
# torch's side: properties and count, without importing torch or starting CUDA just for this
# --------------------------------------------------------------------------------------------


class TorchCuda:
    """torch.cuda's device properties and count where torch is loaded and CUDA (or HIP) is up."""

    def count(self) -> int | None:
        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_available():
            return None
        return torch.cuda.device_count()

    def properties(self, index: int) -> Any:
        if self.count() is None:
            return None
        return sys.modules["torch"].cuda.get_device_properties(index)


def cuda_facts(cuda: Any, index: int) -> tuple[Any, int | None]:
    """(properties of device `index`, device count) from a `TorchCuda` or a stand-in."""
    cuda = cuda if cuda is not None else TorchCuda()
    count = cuda.count()
    return (cuda.properties(index) if count is not None else None), count
