"""The only access to NVML (the `pynvml` module of nvidia-ml-py): opening the library, finding a
CUDA device's handle, and the facts every record carries (driver, GPU names, clocks, power limit).

NVML numbers GPUs in its own order and ignores `CUDA_VISIBLE_DEVICES`, so a CUDA device is
matched through `harness.hardware.identity`: PCI bus id, then UUID, then a safe index. Every
reader here returns a value or a reason, never raises: a machine without NVIDIA's driver is a
normal case.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from harness.hardware import identity


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


class NvmlLocator:
    """NVML's ways of finding a GPU, for `harness.hardware.identity.identify`."""

    def __init__(self, nvml: Any):
        self.nvml = nvml

    def count(self) -> int:
        return int(self.nvml.nvmlDeviceGetCount())

    def by_pci(self, bus_id: str) -> Any:
        return self.nvml.nvmlDeviceGetHandleByPciBusId(bus_id)

    def by_uuid(self, uuid: str) -> Any:
        """NVML's UUIDs carry a "GPU-" (or "MIG-") prefix that torch's lack."""
        for prefix in ("GPU-", "MIG-"):
            with contextlib.suppress(Exception):
                return self.nvml.nvmlDeviceGetHandleByUUID(prefix + uuid)
        for i in range(self.count()):  # bindings without GetHandleByUUID
            h = self.nvml.nvmlDeviceGetHandleByIndex(i)
            if text(self.nvml.nvmlDeviceGetUUID(h)).lower().split("-", 1)[-1] == uuid:
                return h
        raise LookupError(f"no NVML device with UUID {uuid}")

    def by_index(self, index: int) -> Any:
        return self.nvml.nvmlDeviceGetHandleByIndex(index)

    def name(self, handle: Any) -> str:
        return text(self.nvml.nvmlDeviceGetName(handle))

    def mig_enabled(self, handle: Any) -> bool:
        current, _pending = self.nvml.nvmlDeviceGetMigMode(handle)
        return current == getattr(self.nvml, "NVML_DEVICE_MIG_ENABLE", 1)

    def bus_id(self, handle: Any) -> str:
        return text(self.nvml.nvmlDeviceGetPciInfo(handle).busId)

    def uuid(self, handle: Any) -> str:
        return text(self.nvml.nvmlDeviceGetUUID(handle))


def identify_cuda_device(
    nvml: Any, cuda_index: int, cuda: Any = None, env: Any = None
) -> identity.DeviceIdentity:
    """NVML's handle of `cuda:N` (PCI bus id, else UUID, else a safe index, else none + reason).

    `cuda` stands in for torch.cuda in tests; None reads torch without starting CUDA for it.
    """
    props, count = identity.cuda_facts(cuda, cuda_index)
    return identity.identify(NvmlLocator(nvml), cuda_index, props, count, env)


def device_facts(
    props: Any, cuda_index: int = 0, cuda_count: int | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Driver, clocks and power limit of a CUDA device (its torch properties), or notes why not."""
    facts, notes, _ = identified_facts(props, cuda_index, cuda_count)
    return facts, notes


def identified_facts(
    props: Any, cuda_index: int = 0, cuda_count: int | None = None
) -> tuple[dict[str, Any], list[str], identity.DeviceIdentity | None]:
    """`device_facts` with the NVML device it read (None where NVML is unavailable)."""
    try:
        nvml = load()
    except NvmlUnavailable:
        return {}, ["nvidia-ml-py is not installed: no driver version or clocks"], None
    try:
        with session(nvml):
            return _facts(nvml, props, cuda_index, cuda_count)
    except NvmlUnavailable as exc:
        return {}, [f"NVML unavailable ({exc}): no driver version or clocks"], None


def _facts(
    nvml: Any, props: Any, cuda_index: int, cuda_count: int | None
) -> tuple[dict[str, Any], list[str], identity.DeviceIdentity | None]:
    facts: dict[str, Any] = {}
    notes: list[str] = []
    found = None
    try:
        facts["driver_version"] = text(nvml.nvmlSystemGetDriverVersion())
        v = nvml.nvmlSystemGetCudaDriverVersion()
        facts["cuda_driver_version"] = f"{v // 1000}.{(v % 1000) // 10}"
        found = identity.identify(NvmlLocator(nvml), cuda_index, props, cuda_count)
        if not found.found:
            note = f"no NVML device matches this CUDA device: no clocks ({found.reason})"
            return facts, [*notes, note], found
        handle = found.handle
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
    return facts, notes, found


@functools.lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    """The names of every GPU NVML sees, in NVML's order (empty without NVML, and where a GPU is
    in MIG mode: CUDA then sees slices, whose names carry their profile and only torch gives)."""
    try:
        with session() as nvml:
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
            locator = NvmlLocator(nvml)
            if any(identity.attempt(lambda h=h: locator.mig_enabled(h)) for h in handles):
                return ()
            return tuple(text(nvml.nvmlDeviceGetName(h)) for h in handles)
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
