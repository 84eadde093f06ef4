"""Peak computation rates: the datasheet's for a device, a measured matmul peak, and which of
them a configuration's burden uses (`peak_figures`, the one place that decides).

The datasheet peak is the paper's hardware burden and the usual MFU denominator; the measured
peak is what the hardware sustains here. A CPU has no datasheet figure in the processor table,
so there the measured peak is the peak, and its source says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from harness.catalog.processors import lookup_processor
from harness.errors import ConfigurationError
from harness.hardware.devices import DeviceInfo, cpu_identity, describe_device, resolve_device
from harness.hardware.matmul_peak import (
    WINDOWS,
    CpuWindowTimer,
    CudaWindowTimer,
    SustainedPeak,
    cpu_threads,
    cuda_tf32,
    default_sizes,
    max_sm_clock,
    nvml_sm_clock,
    sustain_seconds,
    sustained_peak,
)
from harness.hardware.mig import sm_share
from harness.hardware.precision import MATMUL_DTYPES
from harness.vocab import check_precision_name

CPU_PEAK_NOTE = "no datasheet figure for CPUs: the measured matmul peak is the peak"


def datasheet_peak(info: DeviceInfo, precision: str) -> float | None:
    """Dense datasheet peak of one device at `precision` (FLOP/s); None on CPU or unknown GPUs."""
    if info.kind != "cuda":
        return None
    spec = lookup_processor(info.name)
    value = spec.peak_flop_per_s(precision) if spec else None
    share = sm_share(info, spec)[0] if spec else None
    return value * share if value is not None and share is not None else None


# --------------------------------------------------------------------------------------------
# Measured matmul peak
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatmulPeak:
    """The best sustained rate over several matmul sizes (`harness.hardware.matmul_peak`).

    `n`, `samples_s` and `median_s` describe the best size: seconds per matmul in each timed
    window and their median, so `flop_per_s` = 2 n^3 / `median_s`. `seconds` is that size's
    timed (sustained) time; `by_size` every size's run; `sm_clock_mhz` the SM clock at the end
    of the best size's run and `max_sm_clock_mhz` the device's maximum (None without NVML).
    """

    device: str
    dtype: str
    tf32: bool
    n: int
    samples_s: tuple[float, ...]
    median_s: float
    flop_per_s: float
    threads: int | None
    source: str
    sizes: tuple[int, ...] = ()
    seconds: float = 0.0
    by_size: tuple[dict[str, Any], ...] = ()
    sm_clock_mhz: float | None = None
    max_sm_clock_mhz: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["samples_s"] = list(self.samples_s)
        d["sizes"] = list(self.sizes)
        d["by_size"] = list(self.by_size)
        return d


def measure_matmul_peak(
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float32,
    *,
    tf32: bool = False,
    n: int | None = None,
    sizes: Sequence[int] | None = None,
    seconds: float | None = None,
    windows: int = WINDOWS,
    threads: int | None = None,
) -> MatmulPeak:
    """The best sustained n x n x n matmul rate over `sizes` (or the one size `n`).

    Each size is timed for `seconds` (default 1 s, or `HARNESS_PEAK_SECONDS`) after a warm-up,
    in at least `windows` windows; its rate is the median over windows. Default sizes: 2048,
    4096, 8192 on CUDA; 256, 512, 1024 on CPU (128, 256, 512 for 16-bit types), on `threads`
    CPU threads (default: torch's current count, restored after).
    """
    dev = resolve_device(device)
    dt = MATMUL_DTYPES[check_precision_name(dtype)] if isinstance(dtype, str) else dtype
    cuda = dev.type == "cuda"
    wanted = (n,) if n is not None else tuple(sizes or default_sizes(cuda, dt))
    if any(not isinstance(x, int) or x < 1 for x in wanted):
        raise ConfigurationError(f"matmul sizes must be at least 1, got {list(wanted)}")
    sustain_s = sustain_seconds(seconds)

    def make_timer(size: int) -> Any:
        a = torch.randn(size, size, device=dev, dtype=dt)  # made where it is used
        b = torch.randn(size, size, device=dev, dtype=dt)
        return CudaWindowTimer(a, b, dev) if cuda else CpuWindowTimer(a, b)

    if cuda:
        with torch.cuda.device(dev), cuda_tf32(tf32):
            clock = nvml_sm_clock(dev)
            peak = sustained_peak(
                make_timer, wanted, seconds=sustain_s, windows=windows, read_sm_clock=clock
            )
        where, used_threads, max_clock = torch.cuda.get_device_name(dev), None, max_sm_clock(dev)
    else:
        with cpu_threads(threads) as used_threads:
            peak = sustained_peak(make_timer, wanted, seconds=sustain_s, windows=windows)
        where, max_clock = cpu_identity()[0] or "CPU", None
    return _matmul_peak(peak, str(dev), dt, tf32 and cuda, used_threads, where, max_clock)


def _matmul_peak(
    peak: SustainedPeak,
    device: str,
    dt: torch.dtype,
    tf32: bool,
    threads: int | None,
    where: str,
    max_clock: float | None,
) -> MatmulPeak:
    best = peak.best
    samples = best.per_matmul_s
    dtype_name = str(dt).removeprefix("torch.")
    mode = " with TF32" if tf32 else ""
    thread_note = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    sizes = tuple(r.n for r in peak.runs)
    clock = f", SM clock {best.sm_clock_mhz:g} MHz at the end" if best.sm_clock_mhz else ""
    return MatmulPeak(
        device=device,
        dtype=dtype_name,
        tf32=bool(tf32),
        n=best.n,
        samples_s=samples,
        median_s=statistics.median(samples),
        flop_per_s=best.flop_per_s,
        threads=threads,
        source=f"measured here: best of sizes {', '.join(map(str, sizes))}: {best.n}x{best.n} "
        f"{dtype_name} matmuls{mode} sustained {best.seconds:.2g} s, median of "
        f"{len(samples)} windows, on {where}{thread_note}{clock}",
        sizes=sizes,
        seconds=best.seconds,
        by_size=tuple(r.to_dict() for r in peak.runs),
        sm_clock_mhz=best.sm_clock_mhz,
        max_sm_clock_mhz=max_clock,
    )


def measure_peak_for_precision(device: str | torch.device, precision: str, **kw: Any) -> MatmulPeak:
    """The matmul peak in the arithmetic a step at `precision` uses (tf32: float32 + TF32)."""
    p = check_precision_name(precision)
    return measure_matmul_peak(device, MATMUL_DTYPES[p], tf32=(p == "tf32"), **kw)


# --------------------------------------------------------------------------------------------
# The figures a configuration reports
# --------------------------------------------------------------------------------------------


def _datasheet_source(info: DeviceInfo) -> str:
    if info.kind == "cpu":
        return CPU_PEAK_NOTE
    spec = lookup_processor(info.name)
    if spec is None:
        return f"{info.name!r} is not in processors.csv: no datasheet peak"
    scaled = sm_share(info, spec)[1]
    flag = " [flagged]" if spec.flagged else ""
    return f"processors.csv {spec.name}: {spec.source}{flag}" + (f"; {scaled}" if scaled else "")


def _share(info: DeviceInfo) -> float | None:
    spec = lookup_processor(info.name) if info.kind == "cuda" else None
    return sm_share(info, spec)[0] if spec else None


def peak_figures(
    device: str,
    precision: str,
    threads: int | None = None,
    *,
    measure: bool = True,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Datasheet peak at `precision` (GPUs), a measured sustained matmul peak (on `threads` CPU
    threads when given; each size for `seconds`, default `sustain_seconds()`), and which one the
    burden uses (the datasheet's; on a CPU, the measured one), each with its source."""
    info = describe_device(device)
    sheet = datasheet_peak(info, precision)
    measured = None
    if measure:
        kw: dict[str, Any] = {"threads": threads} if info.kind == "cpu" and threads else {}
        measured = measure_peak_for_precision(device, precision, seconds=seconds, **kw)
    sheet_source = _datasheet_source(info)
    if sheet is not None:
        burden_peak, burden_source = sheet, sheet_source
    elif info.kind == "cpu" and measured is not None:
        burden_peak, burden_source = measured.flop_per_s, f"{CPU_PEAK_NOTE}; {measured.source}"
    else:
        burden_peak, burden_source = None, sheet_source
    return {
        "device_name": info.name,
        "device_kind": info.kind,
        "device_identity_basis": info.identity_basis,  # pci | uuid | index | unknown (GPUs)
        "device_pci_bus_id": info.pci_bus_id,  # the identified GPU's (None: not identified)
        "device_uuid": info.uuid,
        "mig_slice": info.mig_slice,
        "datasheet_sm_share": _share(info),  # of the table row's peak (MIG slices); 1 otherwise
        "datasheet_flop_per_s": sheet,
        "datasheet_source": sheet_source,
        "measured_flop_per_s": measured.flop_per_s if measured else None,
        "measured_source": measured.source if measured else "not measured",
        "burden_peak_flop_per_s": burden_peak,
        "burden_peak_source": burden_source,
        **measured_peak_details(measured),
    }


def measured_peak_details(measured: MatmulPeak | None) -> dict[str, Any]:
    """How the measured peak was taken: sustained seconds, sizes, each size's rate, clocks."""
    if measured is None:
        return {
            "peak_measured_seconds": None,
            "peak_measured_sizes": None,
            "peak_measured_by_size": None,
            "peak_measured_sm_clock_mhz": None,
            "peak_measured_max_sm_clock_mhz": None,
        }
    return {
        "peak_measured_seconds": measured.seconds,
        "peak_measured_sizes": list(measured.sizes),
        "peak_measured_by_size": [
            {"n": r["n"], "flop_per_s": r["flop_per_s"], "seconds": r["seconds"]}
            for r in measured.by_size
        ],
        "peak_measured_sm_clock_mhz": measured.sm_clock_mhz,
        "peak_measured_max_sm_clock_mhz": measured.max_sm_clock_mhz,
    }


def fp32_peak(peak: dict[str, Any], precision: str) -> tuple[float | None, str]:
    """The device's fp32 datasheet peak (the published burdens' convention), with its source.

    A GPU's comes from processors.csv; a CPU has none, so its measured peak serves when the step
    ran in fp32 (and there is none otherwise).
    """
    if peak.get("device_kind") == "cuda":
        spec = lookup_processor(peak.get("device_name") or "")
        value = spec.peak_flop_per_s("fp32") if spec else None
        share = peak.get("datasheet_sm_share", 1.0)
        if value is not None and share is not None:
            scaled = f" x {share:.4g} of its SMs" if share != 1.0 else ""
            return value * share, f"processors.csv {spec.name} fp32{scaled}: {spec.source}"
        return None, f"{peak.get('device_name')!r}: no fp32 datasheet peak"
    if precision == "fp32":
        return peak.get("burden_peak_flop_per_s"), peak.get("burden_peak_source") or ""
    return (
        None,
        f"no fp32 peak for a {precision} step on {peak.get('device_kind') or 'this device'}",
    )
