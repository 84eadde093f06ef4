"""Timed training steps: a real CPU run of a tiny network, the monitor window, threads, layout,
precision, and the CUDA paths (skipped without a GPU)."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import torch
from timing_archs import FAST, RecordingMonitor, conv_arch, fast, mlp_arch
from torch import nn

from harness.arch import registry
from harness.errors import ConfigurationError, UnknownArchitectureError
from harness.hardware.precision import tf32_allowed
from harness.timing.request import TimingRequest
from harness.timing.run import time_training

# --------------------------------------------------------------------------------------------
# A real run on CPU
# --------------------------------------------------------------------------------------------


def test_timed_cpu_run_returns_consistent_figures():
    arch = mlp_arch()
    r = time_training(arch, fast(4))
    assert r.steps == 5 and len(r.samples_s) == 5
    assert all(s > 0 for s in r.samples_s)
    assert r.median_s == pytest.approx(statistics.median(r.samples_s))
    assert r.mean_s == pytest.approx(statistics.fmean(r.samples_s))
    assert r.min_s <= r.median_s <= r.p90_s <= r.max_s
    assert r.samples_per_s == pytest.approx(4 / r.median_s)
    assert r.timed_s == pytest.approx(math.fsum(r.samples_s))
    assert r.window_s == pytest.approx(r.timed_s, rel=1e-9)  # back-to-back steps on CPU
    assert r.batch_size == r.requested_batch_size == 4
    assert r.size == 32 and r.size_kind == "seq_len"
    assert r.warmup_steps == 1
    assert r.threads == 1
    assert r.precision == r.precision_used == "fp32" and r.autocast_dtype is None
    assert r.cudnn_benchmark is None and r.compile_mode is None and not r.channels_last
    assert r.peak_memory_source.startswith("cpu-peak-rss") and r.peak_memory_bytes > 1e6
    assert r.memory_estimate_bytes and r.memory_estimate_bytes > 0
    assert math.isfinite(r.final_loss)
    d = r.to_dict()
    json.dumps(d)
    assert d["steps"] == 5 and d["samples_s"] == list(r.samples_s)


def test_timed_steps_train_the_model():
    """The step is a real optimizer step: the loss on the fixed batch goes down."""
    arch = mlp_arch()
    torch.manual_seed(0)
    model = arch.build()
    initial = arch.training_loss(model, arch.example_batch(16, seed=0)).item()
    r = time_training(
        arch,
        TimingRequest(batch_size=16, warmup_steps=5, min_steps=20, min_seconds=0.0, threads=1),
    )
    assert r.final_loss < 0.5 * initial


def test_min_seconds_is_honoured():
    r = time_training(
        mlp_arch(),
        TimingRequest(batch_size=2, warmup_steps=1, min_steps=1, min_seconds=0.3, threads=1),
    )
    assert r.timed_s >= 0.3 and r.steps > 1


def test_monitor_window_wraps_exactly_the_timed_steps():
    mon = RecordingMonitor()
    calls = {"inside": 0, "outside": 0}

    def hook(batch):
        if batch.args[0].device.type == "meta":  # the memory pre-check's meta forward
            return
        calls["inside" if mon.open else "outside"] += 1

    r = time_training(
        mlp_arch(loss_hook=hook),
        TimingRequest(batch_size=4, warmup_steps=2, min_steps=7, min_seconds=0.0, threads=1),
        monitor=mon,
    )
    assert [e[0] for e in mon.events] == ["begin", "end"]
    assert mon.events[0][1] == mon.events[1][1]
    assert calls == {"inside": r.steps, "outside": 2}
    assert r.window["name"] == mon.events[0][1]
    # the window covers the timed steps (the call counts above show nothing else ran in it)
    assert r.timed_s <= r.window["duration_s"] <= r.timed_s + 0.5


def test_monitor_window_is_closed_when_a_step_fails():
    mon = RecordingMonitor()
    state = {"n": 0}

    def hook(batch):
        if batch.args[0].device.type != "meta" and mon.open:
            state["n"] += 1
            if state["n"] == 3:
                raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        time_training(mlp_arch(loss_hook=hook), fast(2), monitor=mon)
    assert [e[0] for e in mon.events] == ["begin", "end"] and not mon.open


def test_threads_are_fixed_recorded_and_restored():
    before = torch.get_num_threads()
    r = time_training(mlp_arch(), fast(2))
    assert r.threads == FAST["threads"] == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ConfigurationError):
        time_training(mlp_arch(), fast(2, threads=0))


def test_channels_last_is_applied_to_images_and_recorded_as_ignored_otherwise():
    r = time_training(conv_arch(), fast(2, channels_last=True))
    assert r.channels_last and r.size_kind == "resolution" and r.size == 16
    r2 = time_training(mlp_arch(), fast(2, channels_last=True))
    assert not r2.channels_last
    assert any("channels_last" in n for n in r2.notes)


def test_wrap_model_runs_the_loss_through_the_wrapper():
    class Counting(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.calls = inner, 0

        def forward(self, *args, **kwargs):
            self.calls += 1
            return self.inner(*args, **kwargs)

    wrappers: list[Counting] = []

    def wrap(model):
        wrappers.append(Counting(model))
        return wrappers[-1]

    r = time_training(mlp_arch(), fast(2), wrap_model=wrap)
    assert len(wrappers) == 1 and wrappers[0].calls == r.warmup_steps + r.steps


def test_bf16_autocast_on_cpu_is_recorded():
    r = time_training(mlp_arch(), fast(2, precision="bf16"))
    assert r.precision_used == "bf16" and r.autocast_dtype == "bfloat16" and not r.grad_scaler


def test_registered_tiny_model_smoke_if_present():
    """The zoo's resnet18 tiny variant, when the zoo has landed."""
    try:
        arch = registry.get("resnet18")
    except UnknownArchitectureError:
        pytest.skip("resnet18 is not registered yet")
    r = time_training(
        arch,
        TimingRequest(
            batch_size=2, tiny=True, warmup_steps=1, min_steps=2, min_seconds=0.0, threads=1
        ),
    )
    assert r.steps == 2 and r.median_s > 0 and math.isfinite(r.final_loss)


# --------------------------------------------------------------------------------------------
# CUDA (skipped without a GPU)
# --------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_cuda_event_path_times_the_window():
    mon = RecordingMonitor()
    bench_before = torch.backends.cudnn.benchmark
    r = time_training(
        conv_arch(),
        TimingRequest(batch_size=8, device="cuda", warmup_steps=3, min_steps=20, min_seconds=0.5),
        monitor=mon,
    )
    assert r.device.startswith("cuda") and r.device_name == torch.cuda.get_device_name(0)
    assert r.cudnn_benchmark is True
    assert r.peak_memory_source == "cuda-max-allocated" and r.peak_memory_bytes > 0
    assert all(s > 0 for s in r.samples_s) and r.steps >= 20
    # events between consecutive steps add up to the GPU time of the window
    assert r.timed_s >= 0.5 * 0.9
    assert r.timed_s <= r.window["duration_s"] * 1.05 + 0.005
    assert r.samples_per_s == pytest.approx(8 / r.median_s)
    assert torch.backends.cudnn.benchmark == bench_before  # the flag is put back


@pytest.mark.gpu
def test_cuda_fp32_turns_tf32_off_during_the_step_and_restores_it():
    seen = {}

    def hook(batch):
        if batch.args[0].device.type == "cuda":
            seen["matmul"], seen["cudnn"] = tf32_allowed()

    before = tf32_allowed()
    time_training(mlp_arch(loss_hook=hook), fast(4, device="cuda"))
    assert seen == {"matmul": False, "cudnn": False}
    assert tf32_allowed() == before


@pytest.mark.gpu
def test_cuda_half_precisions():
    fp16 = time_training(conv_arch(), fast(4, device="cuda", precision="fp16"))
    assert fp16.autocast_dtype == "float16" and fp16.grad_scaler
    if torch.cuda.is_bf16_supported(including_emulation=False):
        bf16 = time_training(conv_arch(), fast(4, device="cuda", precision="bf16"))
        assert bf16.autocast_dtype == "bfloat16" and not bf16.grad_scaler
    else:
        with pytest.raises(ConfigurationError, match="compute capability"):
            time_training(conv_arch(), fast(4, device="cuda", precision="bf16"))


@pytest.mark.gpu
def test_real_cuda_out_of_memory_retries_with_half_the_batch(capsys):
    """2**16 floats (256 KiB) per example: batch 2**20 needs 256 GiB, more than any GPU."""
    arch = mlp_arch(in_features=2**16, hidden=8, classes=2)
    r = time_training(arch, fast(2**20, device="cuda"))
    assert r.batch_size < 2**20 and (2**20) % r.batch_size == 0
    assert any("out of memory at batch 1048576" in n for n in r.notes)
    assert "retrying" in capsys.readouterr().err
    assert torch.cuda.memory_allocated() < 2**30  # the failed attempts were freed
