"""Peak computation rates: the datasheet's for a device, a measured matmul peak, and which of
them a configuration's burden uses (`peak_figures`, the one place that decides).

The datasheet peak is the paper's hardware burden and the usual MFU denominator; the measured
peak is what the hardware sustains here. A CPU has no datasheet figure in the processor table,
so there the measured peak is the peak, and its source says so.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from harness.catalog.processors import lookup_processor
from harness.errors import ConfigurationError
from harness.hardware.devices import DeviceInfo, cpu_identity, describe_device, resolve_device
from harness.hardware.mig import sm_share
from harness.hardware.precision import MATMUL_DTYPES, restore_tf32, set_tf32, tf32_state
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
    if cuda:
        samples = _cuda_matmul_samples(a, b, dev, warmup=warmup, repeats=repeats, tf32=tf32)
        where, used_threads = torch.cuda.get_device_name(dev), None
    else:
        samples, used_threads = _cpu_matmul_samples(
            a, b, warmup=warmup, repeats=repeats, threads=threads, budget_s=cpu_budget_s
        )
        where = cpu_identity()[0] or "CPU"
    med = statistics.median(samples)
    dtype_name = str(dt).removeprefix("torch.")
    mode = " with TF32" if tf32 and cuda else ""
    thread_note = (
        f", {used_threads} thread{'s' if used_threads != 1 else ''}" if used_threads else ""
    )
    return MatmulPeak(
        device=str(dev),
        dtype=dtype_name,
        tf32=bool(tf32 and cuda),
        n=n,
        samples_s=tuple(samples),
        median_s=med,
        flop_per_s=2.0 * n**3 / med,
        threads=used_threads,
        source=f"measured here: median of {len(samples)} {n}x{n} {dtype_name} matmuls{mode} "
        f"on {where}{thread_note}",
    )


def _cuda_matmul_samples(
    a: torch.Tensor, b: torch.Tensor, dev: torch.device, *, warmup: int, repeats: int, tf32: bool
) -> list[float]:
    """Seconds per matmul from CUDA events between back-to-back matmuls, one synchronise."""
    saved = tf32_state(cudnn=False)
    set_tf32(tf32, cudnn=False)
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
            return [events[i].elapsed_time(events[i + 1]) / 1e3 for i in range(repeats)]
    finally:
        restore_tf32(saved, cudnn=False)


def _cpu_matmul_samples(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    warmup: int,
    repeats: int,
    threads: int | None,
    budget_s: float,
) -> tuple[list[float], int]:
    """(seconds per matmul by perf_counter, the thread count used); threads restored after."""
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ConfigurationError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    samples: list[float] = []
    try:
        for _ in range(warmup):
            torch.mm(a, b)
        start = time.perf_counter()
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            samples.append(time.perf_counter() - t0)
            if len(samples) >= 3 and time.perf_counter() - start > budget_s:
                break
        return samples, torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


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
    device: str, precision: str, threads: int | None = None, *, measure: bool = True
) -> dict[str, Any]:
    """Datasheet peak at `precision` (GPUs), a measured matmul peak (on `threads` CPU threads
    when given), and which one the burden uses (the datasheet's; on a CPU, the measured one),
    each with its source."""
    info = describe_device(device)
    sheet = datasheet_peak(info, precision)
    measured = None
    if measure:
        kw = {"threads": threads} if info.kind == "cpu" and threads else {}
        measured = measure_peak_for_precision(device, precision, **kw)
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
        "mig_slice": info.mig_slice,
        "datasheet_sm_share": _share(info),  # of the table row's peak (MIG slices); 1 otherwise
        "datasheet_flop_per_s": sheet,
        "datasheet_source": sheet_source,
        "measured_flop_per_s": measured.flop_per_s if measured else None,
        "measured_source": measured.source if measured else "not measured",
        "burden_peak_flop_per_s": burden_peak,
        "burden_peak_source": burden_source,
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
