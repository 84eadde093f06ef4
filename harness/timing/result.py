"""The timing record: per-step samples, their statistics and the settings that change them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimingResult:
    """One timed configuration: every sample, its statistics, and what produced them."""

    arch: str
    device: str
    device_name: str
    requested_batch_size: int
    batch_size: int  # actually used (smaller after an out-of-memory retry)
    size: int
    size_kind: str
    tiny: bool
    precision: str  # requested
    precision_used: str  # differs after a recorded fallback (tf32 on a pre-Ampere GPU)
    autocast_dtype: str | None
    grad_scaler: bool
    channels_last: bool  # applied (False when requested but the input is not 4-D)
    compile_mode: str | None
    cudnn_benchmark: bool | None  # None on CPU
    seed: int
    threads: int  # torch intra-op threads
    warmup_steps: int  # warm-up steps actually run
    samples_s: tuple[float, ...]
    median_s: float
    mean_s: float
    iqr_s: float
    p90_s: float
    min_s: float
    max_s: float
    noisy: bool
    samples_per_s: float  # batch_size / median_s
    timed_s: float  # sum of the samples
    window_s: float  # wall clock from begin_window to end_window
    peak_memory_bytes: int | None  # = peak_memory_run_bytes (the key records always had)
    peak_memory_source: str  # "cuda-max-allocated", "cpu-peak-rss" or "cpu-peak-rss-process"
    memory_estimate_bytes: int | None  # CPU pre-check estimate
    final_loss: float
    torch_version: str
    peak_memory_steady_bytes: int | None = None  # timed steps only (reset after the warm-up)
    peak_memory_run_bytes: int | None = None  # the whole attempt: build, warm-up, timed steps
    peak_reserved_bytes: int | None = None  # CUDA caching allocator's reserved peak (run)
    notes: tuple[str, ...] = ()
    window: Any = field(default=None, compare=False)

    @property
    def steps(self) -> int:
        return len(self.samples_s)

    @property
    def iqr_ratio(self) -> float:
        return self.iqr_s / self.median_s

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "window"}
        d["samples_s"] = list(self.samples_s)
        d["notes"] = list(self.notes)
        d["steps"] = self.steps
        d["window"] = _plain(self.window)
        return d


def _plain(obj: Any) -> Any:
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return repr(obj)
