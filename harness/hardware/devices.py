"""The device a step runs on: what it is, its datasheet peak, and its measured matmul peak.

Two peaks, because they answer different questions. The datasheet peak (dense figures from
harness/data/reference/processors.csv, each with its citation) is the paper's hardware burden
and the usual MFU denominator. The measured peak (median of large square matmuls) is what the
hardware actually sustains here, so a user sees how far a datasheet is from practice. On a CPU
no datasheet figure exists in the table and the measured peak is the peak (its source says so).
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from harness.catalog.processors import lookup_processor
from harness.errors import ConfigurationError, DeviceUnavailableError
from harness.hardware import nvml as nvml_lib
from harness.hardware.identity import UNKNOWN, is_mig_name
from harness.vocab import DEVICE_PATTERN

# --------------------------------------------------------------------------------------------
# Which device
# --------------------------------------------------------------------------------------------


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """'cpu', 'cuda' or 'cuda:i' (None: cuda when present, else cpu), checked against this machine."""
    if device is None or str(device) == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    text = str(device).strip().lower()
    m = DEVICE_PATTERN.match(text)
    if not m:
        raise ConfigurationError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    kind, index = m.group(1), m.group(2)
    if kind == "cpu":
        if index not in (None, "0"):
            raise ConfigurationError(f"device {device!r}: the CPU is a single device; use cpu")
        return torch.device("cpu")
    if not torch.cuda.is_available():
        why = (
            "this PyTorch build has no CUDA support"
            if torch.version.cuda is None
            else "no CUDA device is visible (check the driver, nvidia-smi and CUDA_VISIBLE_DEVICES)"
        )
        raise DeviceUnavailableError(f"--device {text} requested but {why}; use --device cpu")
    i = int(index or 0)
    n = torch.cuda.device_count()
    if i >= n:
        raise DeviceUnavailableError(
            f"--device {text} requested but this machine has {n} CUDA device(s) (cuda:0..cuda:{n - 1})"
        )
    return torch.device("cuda", i)


# --------------------------------------------------------------------------------------------
# What the device is
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    """What a bug report and a measurement record need to know about the device."""

    kind: str  # "cuda" or "cpu"
    index: int | None
    name: str  # torch.cuda.get_device_name, or the CPU model
    count: int  # CUDA devices visible (cuda), or 1 (cpu)
    memory_bytes: int | None  # GPU memory, or system RAM
    torch_version: str
    cuda_runtime_version: str | None = None  # the CUDA PyTorch was built with
    cuda_driver_version: str | None = None  # the CUDA version the driver supports
    driver_version: str | None = None
    cudnn_version: int | None = None
    compute_capability: str | None = None
    multiprocessors: int | None = None
    sm_clock_mhz: int | None = None
    max_sm_clock_mhz: int | None = None
    memory_clock_mhz: int | None = None
    power_limit_w: float | None = None
    cpu_model: str = ""
    cpu_cores: int | None = None  # physical
    cpu_threads: int | None = None  # logical, usable by this process
    torch_threads: int | None = None
    processor_type: str | None = None  # matched row of processors.csv, if any
    notes: tuple[str, ...] = field(default_factory=tuple)
    # how the management library's device was matched: pci | uuid | index | unknown (None: CPU)
    identity_basis: str | None = None
    pci_bus_id: str | None = None  # the identified GPU's, as its management library reports it
    uuid: str | None = None
    mig_slice: bool = False  # a MIG slice: a share of the GPU's SMs, and no energy of its own

    @property
    def device(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


def describe_device(device: str | torch.device | None = "cpu") -> DeviceInfo:
    """Identify the device; NVML fills in driver and clocks where it is available."""
    dev = resolve_device(device)
    cpu_model, cores, threads = cpu_identity()
    common = dict(
        torch_version=torch.__version__,
        cpu_model=cpu_model,
        cpu_cores=cores,
        cpu_threads=threads,
        torch_threads=torch.get_num_threads(),
    )
    if dev.type == "cpu":
        return DeviceInfo(
            kind="cpu",
            index=None,
            name=cpu_model or platform.processor() or "unknown CPU",
            count=1,
            memory_bytes=_meminfo().get("MemTotal"),
            **common,
        )
    i = dev.index or 0
    props = torch.cuda.get_device_properties(i)
    name = torch.cuda.get_device_name(i)
    nvml, notes, found = _library_facts(props, i)
    spec = lookup_processor(name)
    if spec is None:
        notes = (*notes, f"{name!r} is not in processors.csv: no datasheet peak")
    return DeviceInfo(
        kind="cuda",
        index=i,
        name=name,
        count=torch.cuda.device_count(),
        memory_bytes=int(props.total_memory),
        cuda_runtime_version=torch.version.cuda,
        cudnn_version=torch.backends.cudnn.version(),
        compute_capability=f"{props.major}.{props.minor}",
        multiprocessors=props.multi_processor_count,
        processor_type=spec.name if spec else None,
        notes=tuple(notes),
        identity_basis=found.basis if found is not None else UNKNOWN,
        pci_bus_id=found.pci_bus_id if found is not None else None,
        uuid=found.uuid if found is not None else None,
        mig_slice=is_mig_name(name) or bool(found is not None and found.mig),
        **nvml,
        **common,
    )


def _library_facts(props: Any, index: int) -> tuple[dict[str, Any], list[str], Any]:
    """NVML's facts of cuda:index, or on ROCm (torch.version.hip) amdsmi's identification."""
    if getattr(torch.version, "hip", None):
        from harness.hardware import amd_smi

        found, notes = amd_smi.identify_rocm_device(index)
        return {}, notes, found
    return nvml_lib.identified_facts(props, index, torch.cuda.device_count())


def cpu_identity() -> tuple[str, int | None, int | None]:
    """(model name, physical cores, logical threads usable by this process)."""
    model = ""
    pairs: set[tuple[str, str]] = set()
    phys = core = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and not model:
                    model = value
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and phys is not None and core is not None:
                    pairs.add((phys, core))
                    phys = core = None
        if phys is not None and core is not None:
            pairs.add((phys, core))
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    try:
        threads = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        threads = os.cpu_count()
    return model, (len(pairs) or None), threads


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    except OSError:
        pass
    return out


def available_memory_bytes() -> int | None:
    """Memory this process can still take: MemAvailable, capped by a cgroup limit if any."""
    candidates = []
    avail = _meminfo().get("MemAvailable")
    if avail is not None:
        candidates.append(avail)
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            candidates.append(max(0, int(limit) - usage))
    return min(candidates) if candidates else None
