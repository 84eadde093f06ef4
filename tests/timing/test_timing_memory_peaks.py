"""Peak memory of a timed run: the timed steps' own peak (reset after the warm-up), the whole
run's, and the allocator's reserved peak, through a stand-in for torch.cuda's memory API that
records every call in order beside the training steps."""

from __future__ import annotations

import pytest
from timing_archs import fast, mlp_arch

import harness.timing.run as run_module
from harness.present.timing_text import timing_rows
from harness.timing.memory import CudaPeakMemory
from harness.timing.run import time_training
from harness.timing.runtime import CpuRuntime

WARMUP_ALLOCATED, STEADY_ALLOCATED = 900 * 2**20, 500 * 2**20  # warm-up: benchmark workspaces
WARMUP_RESERVED, STEADY_RESERVED = 1200 * 2**20, 800 * 2**20


class FakeCudaMemory:
    """torch.cuda's memory statistics: the peaks since the last reset, and a call log."""

    def __init__(self, log: list[str]):
        self.log, self.resets = log, 0

    def synchronize(self, device=None):
        self.log.append("synchronize")

    def reset_peak_memory_stats(self, device=None):
        self.log.append("reset")
        self.resets += 1

    def max_memory_allocated(self, device=None):
        self.log.append("max_allocated")
        return WARMUP_ALLOCATED if self.resets == 1 else STEADY_ALLOCATED

    def max_memory_reserved(self, device=None):
        self.log.append("max_reserved")
        return WARMUP_RESERVED if self.resets == 1 else STEADY_RESERVED


def test_peak_stats_are_reset_after_the_warm_up_and_before_the_timed_steps(monkeypatch):
    log: list[str] = []
    fake = FakeCudaMemory(log)

    class CudaMemoryOnCpu(CpuRuntime):
        def start_peak_memory(self):
            return CudaPeakMemory(self.device, cuda=fake)

    monkeypatch.setattr(run_module, "runtime_for", lambda device: CudaMemoryOnCpu(device))

    def hook(batch):
        if batch.args[0].device.type != "meta":
            log.append("step")

    request = fast(4, warmup_steps=2, min_steps=3, memory_check=False)
    r = time_training(mlp_arch(loss_hook=hook), request)
    assert log == [
        "synchronize",
        "reset",  # before the model is built
        "step",
        "step",  # warm-up
        "synchronize",
        "max_allocated",
        "max_reserved",
        "reset",  # after the warm-up, before the timed steps
        "step",
        "step",
        "step",  # timed
        "synchronize",
        "max_allocated",
        "max_reserved",
    ]
    assert r.peak_memory_steady_bytes == STEADY_ALLOCATED
    assert r.peak_memory_run_bytes == WARMUP_ALLOCATED == r.peak_memory_bytes
    assert r.peak_reserved_bytes == WARMUP_RESERVED
    assert r.peak_memory_source == "cuda-max-allocated"
    d = r.to_dict()
    assert d["peak_memory_steady_bytes"] == STEADY_ALLOCATED
    assert d["peak_memory_run_bytes"] == d["peak_memory_bytes"]


def test_the_run_peak_is_the_larger_of_warm_up_and_timed_steps():
    log: list[str] = []
    fake = FakeCudaMemory(log)
    fake.max_memory_allocated = lambda device=None: 100 if fake.resets == 1 else 300
    fake.max_memory_reserved = lambda device=None: 400 if fake.resets == 1 else 350
    memory = CudaPeakMemory("cuda:0", cuda=fake)
    memory.after_warmup()
    peak = memory.read()
    assert (peak.steady_bytes, peak.run_bytes, peak.reserved_bytes) == (300, 300, 400)


def test_a_real_cpu_run_records_both_peaks(capsys):
    r = time_training(mlp_arch(), fast(4))
    assert r.peak_memory_run_bytes == r.peak_memory_bytes > 1e6
    assert r.peak_reserved_bytes is None  # no caching allocator on the CPU
    if r.peak_memory_source == "cpu-peak-rss":  # the kernel let the high-water mark be reset
        assert 0 < r.peak_memory_steady_bytes <= r.peak_memory_run_bytes
    else:
        assert r.peak_memory_steady_bytes is None


def test_harness_time_shows_the_timed_and_the_whole_run_peaks():
    doc = {
        "timing": {
            **{k: None for k in ("autocast_dtype", "compile_mode", "cudnn_benchmark")},
            "arch": "net",
            "tiny": False,
            "device": "cuda:0",
            "device_name": "GPU",
            "batch_size": 8,
            "requested_batch_size": 8,
            "size_kind": "resolution",
            "size": 32,
            "precision": "fp32",
            "precision_used": "fp32",
            "grad_scaler": False,
            "channels_last": False,
            "threads": 1,
            "warmup_steps": 3,
            "steps": 10,
            "window_s": 1.0,
            "median_s": 0.1,
            "mean_s": 0.1,
            "iqr_s": 0.001,
            "p90_s": 0.1,
            "noisy": False,
            "samples_per_s": 80.0,
            "peak_memory_bytes": 900e6,
            "peak_memory_steady_bytes": 500e6,
            "peak_reserved_bytes": 1.2e9,
            "peak_memory_source": "cuda-max-allocated",
        },
        "flops": None,
        "utilisation": {"datasheet_peak_flop_per_s": None, "mfu": None, "mfu_measured": None},
        "matmul_peak": None,
    }
    (row,) = [r for r in timing_rows(doc) if r["figure"] == "peak memory"]
    assert row["value"] == (
        "500 MB timed steps, 900 MB whole run, 1.2 GB reserved (cuda-max-allocated)"
    )


@pytest.mark.gpu
def test_real_cuda_peaks_after_warm_up():
    from timing_archs import conv_arch

    r = time_training(conv_arch(), fast(8, device="cuda"))
    assert 0 < r.peak_memory_steady_bytes <= r.peak_memory_run_bytes <= r.peak_reserved_bytes
