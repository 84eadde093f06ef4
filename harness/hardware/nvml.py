"""The only access to NVML (the `pynvml` module of nvidia-ml-py): opening the library, finding a
CUDA device's handle, and the facts every record carries (driver, GPU names, clocks, power limit).

NVML numbers GPUs in its own order and ignores `CUDA_VISIBLE_DEVICES`, so a CUDA device is
matched by PCI bus id, then by UUID. Every reader here returns a value or a reason, never raises:
a machine without NVIDIA's driver is a normal case.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from typing import Any


class NvmlUnavailable(Exception):
    """NVML cannot be used here; the message says why in words a user can act on."""


def load() -> Any:
    """The pynvml module (nvidia-ml-py), or NvmlUnavailable saying how to install it."""
    try:
        import pynvml
    except ImportError:
        raise NvmlUnavailable("nvidia-ml-py is not installed (pip install nvidia-ml-py)") from None
    return pynvml


def start(nvml: Any = None) -> Any:
    """NVML initialised (the pynvml module, or a stand-in in tests); the caller shuts it down."""
    nvml = nvml if nvml is not None else load()
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses vary by driver; any failure means "no NVML"
        raise NvmlUnavailable(f"NVML could not start ({error_text(exc)})") from None
    return nvml


@contextlib.contextmanager
def session(nvml: Any = None) -> Iterator[Any]:
    """An initialised NVML for the duration of a `with` block; shut down on the way out."""
    nvml = start(nvml)
    try:
        yield nvml
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def text(x: Any) -> str:
    """NVML strings are bytes in older bindings."""
    return x.decode() if isinstance(x, bytes) else str(x)


def error_text(exc: BaseException) -> str:
    try:
        return str(exc) or type(exc).__name__
    except Exception:  # NVMLError.__str__ needs the library it failed to find
        return type(exc).__name__


def handle_for_properties(nvml: Any, props: Any) -> Any:
    """The NVML handle of a CUDA device (its torch properties): by PCI bus id, else by UUID."""
    try:
        bus = f"{props.pci_domain_id:08X}:{props.pci_bus_id:02X}:{props.pci_device_id:02X}.0"
        return nvml.nvmlDeviceGetHandleByPciBusId(bus)
    except Exception:
        pass
    want = str(getattr(props, "uuid", "")).lower().removeprefix("gpu-")
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            if want and text(nvml.nvmlDeviceGetUUID(h)).lower().removeprefix("gpu-") == want:
                return h
    except Exception:
        pass
    return None


def handle_for_cuda_index(nvml: Any, cuda_index: int) -> Any:
    """The NVML handle of `cuda:N` for the energy monitor: by PCI bus id when CUDA is up."""
    torch = sys.modules.get("torch")  # never import torch (or start CUDA) just for this
    if torch is not None and torch.cuda.is_available():
        try:
            p = torch.cuda.get_device_properties(cuda_index)
            bus = f"{p.pci_domain_id:08x}:{p.pci_bus_id:02x}:{p.pci_device_id:02x}.0"
            return nvml.nvmlDeviceGetHandleByPciBusId(bus)
        except Exception:
            pass
    return nvml.nvmlDeviceGetHandleByIndex(cuda_index)


def device_facts(props: Any) -> tuple[dict[str, Any], list[str]]:
    """Driver, clocks and power limit of a CUDA device (its torch properties), or notes why not."""
    try:
        nvml = load()
    except NvmlUnavailable:
        return {}, ["nvidia-ml-py is not installed: no driver version or clocks"]
    try:
        with session(nvml):
            return _facts(nvml, props)
    except NvmlUnavailable as exc:
        return {}, [f"NVML unavailable ({exc}): no driver version or clocks"]


def _facts(nvml: Any, props: Any) -> tuple[dict[str, Any], list[str]]:
    facts: dict[str, Any] = {}
    notes: list[str] = []
    try:
        facts["driver_version"] = text(nvml.nvmlSystemGetDriverVersion())
        v = nvml.nvmlSystemGetCudaDriverVersion()
        facts["cuda_driver_version"] = f"{v // 1000}.{(v % 1000) // 10}"
        handle = handle_for_properties(nvml, props)
        if handle is None:
            return facts, [*notes, "no NVML device matches this CUDA device: no clocks"]
        for key, fn in (
            ("sm_clock_mhz", lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)),
            (
                "max_sm_clock_mhz",
                lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM),
            ),
            ("memory_clock_mhz", lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)),
            ("power_limit_w", lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0),
        ):
            try:
                facts[key] = fn()
            except Exception:
                notes.append(f"NVML could not read {key}")
    except Exception as exc:
        notes.append(f"NVML query failed: {exc}")
    return facts, notes


@functools.lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    """The names of every GPU NVML sees, in NVML's order (empty without NVML)."""
    try:
        with session() as nvml:
            count = nvml.nvmlDeviceGetCount()
            return tuple(
                text(nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i)))
                for i in range(count)
            )
    except Exception:
        return ()


@functools.lru_cache(maxsize=1)
def driver_version() -> str | None:
    try:
        with session() as nvml:
            return text(nvml.nvmlSystemGetDriverVersion())
    except Exception:
        return None


def availability() -> str:
    """'available (N GPU(s))' or 'unavailable: why', for `harness env`."""
    try:
        with session() as nvml:
            return f"available ({nvml.nvmlDeviceGetCount()} GPU(s))"
    except NvmlUnavailable as exc:
        return f"unavailable: {exc}"
    except Exception as exc:
        return f"unavailable: {error_text(exc)}"


# --------------------------------------------------------------------------------------------
# A GPU's thermal and clock state, and how many GPUs share the host
# --------------------------------------------------------------------------------------------

# The bits of nvmlDeviceGetCurrentClocksEventReasons (formerly ...ClocksThrottleReasons), as
# nvml.h defines them: https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html
CLOCK_EVENT_REASONS: tuple[tuple[int, str], ...] = (
    (0x001, "gpu_idle"),
    (0x002, "applications_clocks_setting"),
    (0x004, "sw_power_cap"),
    (0x008, "hw_slowdown"),
    (0x010, "sync_boost"),
    (0x020, "sw_thermal_slowdown"),
    (0x040, "hw_thermal_slowdown"),
    (0x080, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)
# The reasons that mean the clocks were held down by power or heat, not by idling or settings.
POWER_OR_THERMAL_REASONS = frozenset(
    {
        "sw_power_cap",
        "hw_slowdown",
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
    }
)


def decode_clock_event_reasons(mask: int) -> tuple[str, ...]:
    """The names of the bits set in a clock-event mask; an unknown bit is named by its value."""
    names = [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]
    known = sum(bit for bit, _ in CLOCK_EVENT_REASONS)
    rest = mask & ~known
    bit = 1
    while rest:
        if rest & bit:
            names.append(f"unknown_{bit:#x}")
            rest &= ~bit
        bit <<= 1
    return tuple(names)


def clock_event_mask(nvml: Any, handle: Any) -> int | None:
    """Why the clocks are below their maximum now, as NVML's bitmask (None where unsupported).

    NVML 12.x names it `nvmlDeviceGetCurrentClocksEventReasons`; older bindings only have
    `nvmlDeviceGetCurrentClocksThrottleReasons`.
    """
    for name in (
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons",
    ):
        fn = getattr(nvml, name, None)
        if fn is None:
            continue
        try:
            return int(fn(handle))
        except Exception:
            return None
    return None


def temperature_c(nvml: Any, handle: Any) -> float | None:
    """The GPU die temperature in degrees C (None where it cannot be read)."""
    try:
        return float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
    except Exception:
        return None


def sm_clock_mhz(nvml: Any, handle: Any) -> float | None:
    """The SM clock now, in MHz (None where it cannot be read)."""
    try:
        return float(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))
    except Exception:
        return None


def clock_state(nvml: Any, handle: Any) -> dict[str, Any]:
    """Temperature, SM clock and the clock-event reasons of one GPU now (None where unread)."""
    mask = clock_event_mask(nvml, handle)
    return {
        "temperature_c": temperature_c(nvml, handle),
        "sm_clock_mhz": sm_clock_mhz(nvml, handle),
        "clock_event_mask": mask,
        "clock_event_reasons": list(decode_clock_event_reasons(mask)) if mask is not None else None,
    }


def device_count(nvml: Any = None) -> int | None:
    """How many GPUs NVML sees on this host (None without NVML)."""
    try:
        with session(nvml) as lib:
            return int(lib.nvmlDeviceGetCount())
    except Exception:
        return None
