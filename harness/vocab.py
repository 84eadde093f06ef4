"""The harness's shared vocabulary, defined once: benchmarks, precisions, compile modes, device
strings, record statuses and energy provenance labels.

Dependency-free on purpose: the CLI builds its parser from these names, and a sweep's parent
process validates configurations with them, without importing torch or pandas.
"""

from __future__ import annotations

import re

from harness.errors import ConfigurationError

# The paper's benchmarks (Thompson et al. 2020, arXiv:2007.05558), by id.
BENCHMARKS: tuple[str, ...] = (
    "imagenet",
    "coco",
    "squad11",
    "conll03",
    "wmt14_en_fr",
    "wmt14_en_de",
)

# Numeric precisions a training step can run at. tf32 and fp16 need CUDA.
PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16", "fp16")
CUDA_ONLY_PRECISIONS: tuple[str, ...] = ("tf32", "fp16")
PRECISION_ALIASES: dict[str, str] = {
    "float32": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
}
# Precisions a processor's datasheet can give a dense peak for (fp8 has no training path here).
PRECISIONS_WITH_PEAKS: tuple[str, ...] = (*PRECISIONS, "fp8")

# torch.compile modes; None (or "none" in a suite) is eager.
COMPILE_MODES: tuple[str, ...] = (
    "default",
    "reduce-overhead",
    "max-autotune",
    "max-autotune-no-cudagraphs",
)

# Device strings: "cpu", "cuda" or "cuda:N"; a suite may also say "auto".
DEVICE_PATTERN = re.compile(r"^(cpu|cuda)(?::(\d+))?$")
SUITE_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def parse_device(text: str) -> tuple[str, int | None] | None:
    """("cpu", None), ("cuda", None), ("cuda", N), or None when `text` is not a device string."""
    m = DEVICE_PATTERN.match(text)
    if m is None:
        return None
    return m.group(1), (int(m.group(2)) if m.group(2) is not None else None)


# Status of a stored measurement attempt.
STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "crashed", "interrupted")

# Provenance of an energy figure, strongest first: a measurement is never shown as an estimate.
NVML_COUNTER = "nvml-counter"  # NVML's cumulative energy counter (Volta and newer), differenced
AMDSMI_COUNTER = "amdsmi-counter"  # amdsmi's GPU energy accumulator (AMD, ROCm), differenced
RAPL = "rapl"  # the CPU's RAPL energy counter, differenced
NVML_SAMPLED = "nvml-sampled"  # NVML power samples integrated over time
AMDSMI_SAMPLED = "amdsmi-sampled"  # amdsmi socket-power samples integrated over time
ESTIMATED_TDP = "estimated-tdp"  # a model (codecarbon: CPU load x TDP, fixed RAM power)
UNAVAILABLE = "unavailable"
PROVENANCES: tuple[str, ...] = (
    NVML_COUNTER,
    AMDSMI_COUNTER,
    RAPL,
    NVML_SAMPLED,
    AMDSMI_SAMPLED,
    ESTIMATED_TDP,
    UNAVAILABLE,
)
MEASURED_PROVENANCES: tuple[str, ...] = (
    NVML_COUNTER,
    NVML_SAMPLED,
    RAPL,
    AMDSMI_COUNTER,
    AMDSMI_SAMPLED,
)

# Units.
LBS_PER_KG = 2.20462262185


def check_precision_name(precision: str) -> str:
    """The canonical precision name (aliases such as "bfloat16" accepted), or a one-line error
    listing the choices."""
    p = precision.strip().lower()
    p = PRECISION_ALIASES.get(p, p)
    if p not in PRECISIONS:
        raise ConfigurationError(
            f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}"
        )
    return p
