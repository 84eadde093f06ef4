"""The only access to amdsmi, AMD's management library (ROCm): finding the GPU a HIP device is,
and its energy counter and power. Thin on purpose, like `harness.hardware.nvml`; a machine
without amdsmi is a normal case, so readers return a value or a reason.

API: https://rocm.docs.amd.com/projects/amdsmi/en/latest/ (Python bindings of the C library:
`amdsmi_get_processor_handles`, `amdsmi_get_gpu_device_bdf`, `amdsmi_get_gpu_device_uuid`,
`amdsmi_get_energy_count` = accumulator x `counter_resolution` microjoules,
`amdsmi_get_power_info`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from harness.hardware import identity


class AmdSmiUnavailable(Exception):
    """amdsmi cannot be used here; the message says why in words a user can act on."""


def load() -> Any:
    """The amdsmi module, or AmdSmiUnavailable saying where it comes from."""
    try:
        import amdsmi
    except ImportError:
        raise AmdSmiUnavailable(
            "amdsmi is not installed (it ships with ROCm: /opt/rocm/share/amd_smi, pip install .)"
        ) from None
    return amdsmi


def start(lib: Any = None) -> Any:
    """amdsmi initialised (the module, or a stand-in in tests); the caller shuts it down."""
    lib = lib if lib is not None else load()
    try:
        lib.amdsmi_init()
    except Exception as exc:  # AmdSmiLibraryException and friends: any failure means "none"
        raise AmdSmiUnavailable(f"amdsmi could not start ({exc or type(exc).__name__})") from None
    return lib


def stop(lib: Any) -> None:
    with contextlib.suppress(Exception):
        lib.amdsmi_shut_down()


class AmdSmiLocator:
    """amdsmi's ways of finding a GPU, for `harness.hardware.identity.identify`."""

    def __init__(self, lib: Any):
        self.lib = lib
        self.handles = list(lib.amdsmi_get_processor_handles())

    def count(self) -> int:
        return len(self.handles)

    def by_pci(self, bus_id: str) -> Any:
        for h in self.handles:
            if identity.same_bus(str(self.lib.amdsmi_get_gpu_device_bdf(h)), bus_id):
                return h
        raise LookupError(f"no amdsmi GPU on PCI bus {bus_id}")

    def by_uuid(self, uuid: str) -> Any:
        for h in self.handles:
            theirs = str(self.lib.amdsmi_get_gpu_device_uuid(h)).lower()
            if theirs.removeprefix("gpu-") == uuid:
                return h
        raise LookupError(f"no amdsmi GPU with UUID {uuid}")

    def by_index(self, index: int) -> Any:
        return self.handles[index]

    def name(self, handle: Any) -> str:
        return str(self.lib.amdsmi_get_gpu_asic_info(handle).get("market_name", ""))

    def mig_enabled(self, handle: Any) -> bool:
        return False

    def bus_id(self, handle: Any) -> str:
        return str(self.lib.amdsmi_get_gpu_device_bdf(handle))

    def uuid(self, handle: Any) -> str:
        return str(self.lib.amdsmi_get_gpu_device_uuid(handle))


def identify_rocm_device(
    index: int, lib: Any = None, cuda: Any = None, env: Any = None
) -> tuple[identity.DeviceIdentity, list[str]]:
    """amdsmi's GPU for HIP device `index` (through the one mapping), with notes on what failed."""
    try:
        lib = start(lib)
    except AmdSmiUnavailable as exc:
        reason = f"{exc}: no GPU energy"
        return identity.DeviceIdentity(index, None, identity.UNKNOWN, reason), [reason]
    try:
        props, count = identity.cuda_facts(cuda, index)
        found = identity.identify(AmdSmiLocator(lib), index, props, count, env)
    except Exception as exc:
        found = identity.DeviceIdentity(index, None, identity.UNKNOWN, f"amdsmi failed: {exc}")
    finally:
        stop(lib)
    return found, ([] if found.found else [found.reason])


def energy_mj(lib: Any, handle: Any) -> float:
    """The GPU's energy counter in mJ: accumulator x resolution (microjoules per count).

    The accumulator's key was "power" in amdsmi before ROCm 6.1 and "energy_accumulator" since.
    """
    d = lib.amdsmi_get_energy_count(handle)
    ticks = d["energy_accumulator"] if "energy_accumulator" in d else d["power"]
    return float(ticks) * float(d["counter_resolution"]) / 1e3


def power_w(lib: Any, handle: Any) -> float:
    """Socket power in W: the current reading where the GPU reports one, else the average."""
    info = lib.amdsmi_get_power_info(handle)
    for key in ("current_socket_power", "average_socket_power"):
        value = info.get(key)
        if isinstance(value, (int, float)) and value >= 0:
            return float(value)
    raise LookupError("amdsmi reports no socket power")
