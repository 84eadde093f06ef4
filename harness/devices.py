"""The device a step runs on: what it is, its datasheet peak, and its measured matmul peak.

Two peaks, because they answer different questions. The datasheet peak (dense figures from
benchmarks/reference/processors.csv, each with its citation) is the paper's hardware burden
and the usual MFU denominator. The measured peak (median of large square matmuls) is what the
hardware actually sustains here, so a user sees how far a datasheet is from practice. On a CPU
no datasheet figure exists in the table and the measured peak is the peak (its source says so).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import os
import platform
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from harness.errors import ConfigurationError, DeviceUnavailableError
from harness.paths import REFERENCE_DIR
from harness.precision import MATMUL_DTYPES, check_precision_name

# --------------------------------------------------------------------------------------------
# Which device
# --------------------------------------------------------------------------------------------

_DEVICE_RE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """'cpu', 'cuda' or 'cuda:i' (None: cuda when present, else cpu), checked against this machine."""
    if device is None or str(device) == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    text = str(device).strip().lower()
    m = _DEVICE_RE.match(text)
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
    nvml, notes = _nvml_facts(props)
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
        **nvml,
        **common,
    )


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


def _nvml_facts(props: Any) -> tuple[dict[str, Any], list[str]]:
    """Driver, clocks and power limit from NVML (matched by PCI bus id), or a note why not."""
    try:
        import pynvml
    except ImportError:
        return {}, ["nvidia-ml-py is not installed: no driver version or clocks"]
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses vary by driver; any failure means "no NVML"
        return {}, [f"NVML unavailable ({exc}): no driver version or clocks"]
    facts: dict[str, Any] = {}
    notes: list[str] = []
    try:
        facts["driver_version"] = _text(pynvml.nvmlSystemGetDriverVersion())
        v = pynvml.nvmlSystemGetCudaDriverVersion()
        facts["cuda_driver_version"] = f"{v // 1000}.{(v % 1000) // 10}"
        handle = _nvml_handle(pynvml, props)
        if handle is None:
            return facts, [*notes, "no NVML device matches this CUDA device: no clocks"]
        for key, fn in (
            ("sm_clock_mhz", lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM)),
            (
                "max_sm_clock_mhz",
                lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM),
            ),
            (
                "memory_clock_mhz",
                lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM),
            ),
            ("power_limit_w", lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0),
        ):
            try:
                facts[key] = fn()
            except Exception:
                notes.append(f"NVML could not read {key}")
    except Exception as exc:
        notes.append(f"NVML query failed: {exc}")
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()
    return facts, notes


def _nvml_handle(pynvml: Any, props: Any) -> Any:
    """The NVML handle of a CUDA device: by PCI bus id, else by UUID (indices can differ)."""
    try:
        bus = f"{props.pci_domain_id:08X}:{props.pci_bus_id:02X}:{props.pci_device_id:02X}.0"
        return pynvml.nvmlDeviceGetHandleByPciBusId(bus)
    except Exception:
        pass
    want = str(getattr(props, "uuid", "")).lower().removeprefix("gpu-")
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            if want and _text(pynvml.nvmlDeviceGetUUID(h)).lower().removeprefix("gpu-") == want:
                return h
    except Exception:
        pass
    return None


def _text(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


# --------------------------------------------------------------------------------------------
# Datasheet peaks
# --------------------------------------------------------------------------------------------


PRECISIONS_WITH_PEAKS: tuple[str, ...] = ("fp32", "tf32", "bf16", "fp16", "fp8")


@dataclass(frozen=True)
class ProcessorSpec:
    """One row of processors.csv: dense peak rates in FLOP/s and TDP, with the citation."""

    name: str
    year: int | None
    fp32_flop_per_s: float | None
    tensor16_flop_per_s: float | None  # fp16/bf16 tensor-core rate, dense
    tf32_flop_per_s: float | None
    fp8_flop_per_s: float | None
    tdp_watts: float | None
    source: str

    def peak_flop_per_s(self, precision: str) -> float | None:
        """Dense datasheet peak at `precision`; None where the table has no figure."""
        p = "fp8" if precision.strip().lower() == "fp8" else check_precision_name(precision)
        return {
            "fp32": self.fp32_flop_per_s,
            "tf32": self.tf32_flop_per_s,
            "bf16": self.tensor16_flop_per_s,
            "fp16": self.tensor16_flop_per_s,
            "fp8": self.fp8_flop_per_s,
        }[p]

    @property
    def flagged(self) -> bool:
        """The source marks a figure as not confirmed in a primary source."""
        s = self.source.lower()
        return "memory" in s or "flag" in s


def _tflops(cell: str) -> float | None:
    cell = cell.strip()
    return float(cell) * 1e12 if cell else None


@functools.lru_cache(maxsize=1)
def processor_table() -> dict[str, ProcessorSpec]:
    """processors.csv, keyed by processor_type."""
    out: dict[str, ProcessorSpec] = {}
    with open(REFERENCE_DIR / "processors.csv", newline="") as f:
        for row in csv.DictReader(f):
            out[row["processor_type"]] = ProcessorSpec(
                name=row["processor_type"],
                year=int(row["year"]) if row["year"].strip() else None,
                fp32_flop_per_s=_tflops(row["fp32_tflops"]),
                tensor16_flop_per_s=_tflops(row["fp16_or_bf16_tensor_tflops_dense"]),
                tf32_flop_per_s=_tflops(row["tf32_tflops_dense"]),
                fp8_flop_per_s=_tflops(row["fp8_tflops_dense"]),
                tdp_watts=float(row["tdp_watts"]) if row["tdp_watts"].strip() else None,
                source=row["source"],
            )
    return out


@functools.lru_cache(maxsize=1)
def _aliases() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    with open(REFERENCE_DIR / "processor_aliases.csv", newline="") as f:
        for row in csv.DictReader(f):
            out[_norm(row["alias"])] = row["processor_type"].strip() or None
    return out


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[-_]", " ", name.lower())).strip()


# What torch.cuda.get_device_name returns -> a processors.csv row (None: known, but no row with
# the right figures, so no peak rather than a wrong one). First match wins.
_DEVICE_NAME_RULES: tuple[tuple[str, str | None], ...] = (
    (r"\bh100\b.*\bnvl\b", None),  # H100 NVL: different clocks and TDP from SXM5 and PCIe
    (r"\bh100\b.*\bpcie\b", "H100 PCIe"),
    (r"\bh100\b", "H100 SXM5"),  # "NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"
    (r"\bh200\b.*\bnvl\b", None),
    (r"\bh200\b", "H200 SXM"),  # "NVIDIA H200"
    (r"\bb200\b", "B200 (HGX, 1000 W)"),
    (r"\ba100\b.*\bpcie\b", None),  # same rates as SXM4 but 250-300 W: not in the table
    (r"\ba100\b.*\b80 ?gb\b", "A100 80GB SXM4"),  # "NVIDIA A100-SXM4-80GB"
    (r"\ba100\b", "A100 40GB SXM4"),  # "NVIDIA A100-SXM4-40GB"
    (r"\bv100\b.*\bpcie\b", "V100 PCIe"),  # "Tesla V100-PCIE-16GB" (not V100S)
    (r"\bv100\b", "V100 SXM2"),  # "Tesla V100-SXM2-16GB"
    (r"\bp100\b.*\bpcie\b", "P100 PCIe 16GB"),
    (r"\bp100\b", "P100 SXM2"),
    (r"\bt4\b", "T4"),  # "Tesla T4"
    (r"\ba10\b", "A10"),  # "NVIDIA A10" (not A10G)
    (r"\bl4\b", "L4"),
    (r"\bl40s\b", "L40S"),
    (r"\brtx 4090\b(?! d\b)", "RTX 4090"),  # "NVIDIA GeForce RTX 4090" (not 4090 D)
    (r"\brtx 3090\b(?! ti\b)", "RTX 3090"),
    (r"\bgtx 1080\b(?! ti\b)", "GTX 1080"),
    (r"\btitan x \(pascal\)", "Titan X (Pascal)"),
    (r"\bgtx titan x\b", "Titan X (Maxwell)"),
    (r"\btitan black\b", "GTX Titan Black"),
    (r"\bgtx 580\b", "GTX 580"),
    (r"\bk80\b", None),  # CUDA sees one GK210, half of the board the table row describes
    (r"\bk40[cm]?\b", "K40"),
    (r"\bk20[cm]?\b", "K20 (K20c/K20m)"),
    (r"\bm40\b", "M40"),
)


def lookup_processor(name: str) -> ProcessorSpec | None:
    """A table row by its name, an alias, or a CUDA device name; None when none fits."""
    table = processor_table()
    n = _norm(name)
    for key, spec in table.items():
        if _norm(key) == n:
            return spec
    aliases = _aliases()
    if n in aliases:
        target = aliases[n]
        return table.get(target) if target else None
    for pattern, target in _DEVICE_NAME_RULES:
        if re.search(pattern, n):
            return table.get(target) if target else None
    return None


def datasheet_peak(info: DeviceInfo, precision: str) -> float | None:
    """Dense datasheet peak of one device at `precision` (FLOP/s); None on CPU or unknown GPUs."""
    if info.kind != "cuda":
        return None
    spec = lookup_processor(info.name)
    return spec.peak_flop_per_s(precision) if spec else None


# --------------------------------------------------------------------------------------------
# Measured matmul peak
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatmulPeak:
    """Median rate of n x n x n matmuls: 2 n^3 FLOPs each."""

    device: str
    dtype: str
    tf32: bool
    n: int
    samples_s: tuple[float, ...]
    median_s: float
    flop_per_s: float
    threads: int | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["samples_s"] = list(self.samples_s)
        return d


def measure_matmul_peak(
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float32,
    *,
    tf32: bool = False,
    n: int | None = None,
    repeats: int | None = None,
    warmup: int | None = None,
    threads: int | None = None,
    cpu_budget_s: float = 3.0,
) -> MatmulPeak:
    """Time large square matmuls after a warm-up and return the median rate.

    Defaults: n=8192, 5 warm-up and 20 timed on CUDA (CUDA events, one synchronise); on CPU
    (perf_counter; `threads` or the current torch thread count) n=1024 for float32 and 512 for
    16-bit types (often emulated, far slower), 2 warm-up and up to 10 timed, stopping after
    `cpu_budget_s` once 3 are in.
    """
    dev = resolve_device(device)
    dt = MATMUL_DTYPES[check_precision_name(dtype)] if isinstance(dtype, str) else dtype
    cuda = dev.type == "cuda"
    if n is None:
        n = 8192 if cuda else (1024 if dt.itemsize >= 4 else 512)
    repeats = (20 if cuda else 10) if repeats is None else repeats
    warmup = (5 if cuda else 2) if warmup is None else warmup
    if n < 1 or repeats < 1:
        raise ConfigurationError("matmul size and repeats must be at least 1")
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(dev, dt)
    b = torch.randn(n, n, generator=gen).to(dev, dt)
    samples: list[float] = []
    if cuda:
        saved = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        try:
            with torch.cuda.device(dev):
                for _ in range(warmup):
                    torch.mm(a, b)
                events = [torch.cuda.Event(enable_timing=True) for _ in range(repeats + 1)]
                torch.cuda.synchronize(dev)
                events[0].record()
                for i in range(repeats):
                    torch.mm(a, b)
                    events[i + 1].record()
                torch.cuda.synchronize(dev)
                samples = [events[i].elapsed_time(events[i + 1]) / 1e3 for i in range(repeats)]
        finally:
            torch.backends.cuda.matmul.allow_tf32 = saved
        where = torch.cuda.get_device_name(dev)
        threads = None
    else:
        before = torch.get_num_threads()
        if threads is not None:
            if threads < 1:
                raise ConfigurationError(f"threads must be at least 1, got {threads}")
            torch.set_num_threads(threads)
        try:
            for _ in range(warmup):
                torch.mm(a, b)
            start = time.perf_counter()
            for _ in range(repeats):
                t0 = time.perf_counter()
                torch.mm(a, b)
                samples.append(time.perf_counter() - t0)
                if len(samples) >= 3 and time.perf_counter() - start > cpu_budget_s:
                    break
            threads = torch.get_num_threads()
        finally:
            torch.set_num_threads(before)
        where = cpu_identity()[0] or "CPU"
    med = statistics.median(samples)
    dtype_name = str(dt).removeprefix("torch.")
    mode = " with TF32" if tf32 and cuda else ""
    thread_note = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    return MatmulPeak(
        device=str(dev),
        dtype=dtype_name,
        tf32=bool(tf32 and cuda),
        n=n,
        samples_s=tuple(samples),
        median_s=med,
        flop_per_s=2.0 * n**3 / med,
        threads=threads,
        source=f"measured here: median of {len(samples)} {n}x{n} {dtype_name} matmuls{mode} "
        f"on {where}{thread_note}",
    )


def measure_peak_for_precision(device: str | torch.device, precision: str, **kw: Any) -> MatmulPeak:
    """The matmul peak in the arithmetic a step at `precision` uses (tf32: float32 + TF32)."""
    p = check_precision_name(precision)
    return measure_matmul_peak(device, MATMUL_DTYPES[p], tf32=(p == "tf32"), **kw)
