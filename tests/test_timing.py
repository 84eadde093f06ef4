"""Timed training steps: statistics, a real CPU run of a tiny network, bad input, the CLI."""

from __future__ import annotations

import json
import math
import re
import statistics
import time

import numpy as np
import pytest
import torch
from torch import nn

from harness.arch import registry
from harness.arch.spec import Architecture, Batch, OptimizerSpec, random_float, random_int
from harness.cli import main
from harness.cost.utilisation import utilisation
from harness.errors import ConfigurationError, DeviceUnavailableError, UnknownArchitectureError
from harness.timing.loop import time_training
from harness.timing.memory import check_cpu_memory, estimate_training_memory
from harness.timing.stats import NOISY_IQR_RATIO, quantile, summarize

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")


# --------------------------------------------------------------------------------------------
# Tiny hand-made architectures (the zoo is not needed)
# --------------------------------------------------------------------------------------------


def mlp_arch(
    *,
    in_features: int = 32,
    hidden: int = 64,
    classes: int = 10,
    optimizer: OptimizerSpec | None = None,
    loss_hook=None,
    builds: list | None = None,
) -> Architecture:
    def build() -> nn.Module:
        if builds is not None:
            builds.append(torch.empty(0).device.type)
        return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def batch(bs, size, *, tiny, device, dtype, generator) -> Batch:
        x = random_float((bs, size), dtype, device, generator)
        y = random_int(classes, (bs,), device, generator)
        return Batch(args=(x,), kwargs={}, targets=y, size=bs)

    def loss(model, b) -> torch.Tensor:
        if loss_hook is not None:
            loss_hook(b)
        return nn.functional.cross_entropy(model(*b.args), b.targets)

    return Architecture(
        name="test_mlp",
        domain="custom",
        task="classification",
        benchmark=None,
        year=None,
        builder=build,
        tiny_builder=build,
        batch_factory=batch,
        loss_fn=loss,
        optimizer=optimizer or OptimizerSpec("sgd", 0.1, {"momentum": 0.9}),
        size_kind="seq_len",
        default_size=in_features,
        tiny_size=in_features,
    )


def conv_arch() -> Architecture:
    def build() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 5),
        )

    def batch(bs, size, *, tiny, device, dtype, generator) -> Batch:
        x = random_float((bs, 3, size, size), dtype, device, generator)
        return Batch((x,), {}, random_int(5, (bs,), device, generator), bs)

    return Architecture(
        name="test_conv",
        domain="vision",
        task="classification",
        benchmark=None,
        year=None,
        builder=build,
        tiny_builder=build,
        batch_factory=batch,
        loss_fn=lambda m, b: nn.functional.cross_entropy(m(*b.args), b.targets),
        optimizer=OptimizerSpec("sgd", 0.1, {"momentum": 0.9}),
        size_kind="resolution",
        default_size=16,
        tiny_size=16,
    )


# One thread: tiny steps on a shared 2-core machine are faster and steadier that way.
FAST = dict(warmup_steps=1, min_steps=5, min_seconds=0.0, progress=False, threads=1)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 101])
def test_statistics_match_numpy(n):
    rng = np.random.default_rng(n)
    xs = list(rng.lognormal(-3, 0.5, size=n))
    if n > 3:
        xs[1] = xs[2]  # ties
    s = summarize(xs)
    assert s.n == n
    assert s.median_s == pytest.approx(float(np.median(xs)), rel=1e-12)
    assert s.mean_s == pytest.approx(float(np.mean(xs)), rel=1e-12)
    q25, q75, q90 = np.percentile(xs, [25, 75, 90])
    assert s.iqr_s == pytest.approx(float(q75 - q25), rel=1e-9, abs=1e-15)
    assert s.p90_s == pytest.approx(float(q90), rel=1e-12)
    assert s.min_s == min(xs) and s.max_s == max(xs)


def test_noisy_flag_at_iqr_over_median_of_a_tenth():
    assert NOISY_IQR_RATIO == 0.1
    # [0.8, 1, 1.2]: quartiles 0.9 and 1.1, IQR/median = 0.2
    assert summarize([0.8, 1.0, 1.2]).noisy
    # [0.96, 1, 1.04]: IQR/median = 0.04
    quiet = summarize([0.96, 1.0, 1.04])
    assert not quiet.noisy and quiet.iqr_ratio == pytest.approx(0.04)
    assert not summarize([2.0] * 5).noisy


def test_quantile_rejects_bad_input():
    with pytest.raises(ValueError):
        quantile([], 0.5)
    with pytest.raises(ValueError):
        quantile([1.0], 1.5)
    with pytest.raises(ValueError):
        summarize([])


def test_utilisation_arithmetic():
    u = utilisation(1e12, 0.5, datasheet_peak_flop_per_s=1e13, measured_peak_flop_per_s=4e12)
    assert u.achieved_flop_per_s == pytest.approx(2e12)
    assert u.mfu == pytest.approx(0.2)
    assert u.mfu_measured == pytest.approx(0.5)
    assert utilisation(1e12, 0.5, datasheet_peak_flop_per_s=1e13, devices=2).mfu == pytest.approx(
        0.1
    )
    none = utilisation(None, 0.5, datasheet_peak_flop_per_s=1e13)
    assert none.achieved_flop_per_s is None and none.mfu is None
    assert utilisation(1e12, 0.5).mfu is None  # no peak, no MFU
    with pytest.raises(ValueError):
        utilisation(1e12, 0.0)


# --------------------------------------------------------------------------------------------
# A real run on CPU
# --------------------------------------------------------------------------------------------


def test_timed_cpu_run_returns_consistent_figures():
    arch = mlp_arch()
    r = time_training(arch, batch_size=4, **FAST)
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
        batch_size=16,
        warmup_steps=5,
        min_steps=20,
        min_seconds=0.0,
        progress=False,
        threads=1,
    )
    assert r.final_loss < 0.5 * initial


def test_min_seconds_is_honoured():
    r = time_training(
        mlp_arch(),
        batch_size=2,
        warmup_steps=1,
        min_steps=1,
        min_seconds=0.3,
        progress=False,
        threads=1,
    )
    assert r.timed_s >= 0.3 and r.steps > 1


class RecordingMonitor:
    def __init__(self):
        self.events: list[tuple[str, str, float]] = []
        self.open = False

    def begin_window(self, name):
        self.open = True
        self.events.append(("begin", name, time.perf_counter()))

    def end_window(self, name):
        self.open = False
        self.events.append(("end", name, time.perf_counter()))
        return {"name": name, "duration_s": self.events[-1][2] - self.events[-2][2]}


def test_monitor_window_wraps_exactly_the_timed_steps():
    mon = RecordingMonitor()
    calls = {"inside": 0, "outside": 0}

    def hook(batch):
        if batch.args[0].device.type == "meta":  # the memory pre-check's meta forward
            return
        calls["inside" if mon.open else "outside"] += 1

    r = time_training(
        mlp_arch(loss_hook=hook),
        batch_size=4,
        warmup_steps=2,
        min_steps=7,
        min_seconds=0.0,
        monitor=mon,
        progress=False,
        threads=1,
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
        time_training(mlp_arch(loss_hook=hook), batch_size=2, monitor=mon, **FAST)
    assert [e[0] for e in mon.events] == ["begin", "end"] and not mon.open


def test_threads_are_fixed_recorded_and_restored():
    before = torch.get_num_threads()
    r = time_training(mlp_arch(), batch_size=2, **FAST)
    assert r.threads == FAST["threads"] == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ConfigurationError):
        time_training(mlp_arch(), batch_size=2, **{**FAST, "threads": 0})


def test_channels_last_is_applied_to_images_and_recorded_as_ignored_otherwise():
    r = time_training(conv_arch(), batch_size=2, channels_last=True, **FAST)
    assert r.channels_last and r.size_kind == "resolution" and r.size == 16
    r2 = time_training(mlp_arch(), batch_size=2, channels_last=True, **FAST)
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

    r = time_training(mlp_arch(), batch_size=2, wrap_model=wrap, **FAST)
    assert len(wrappers) == 1 and wrappers[0].calls == r.warmup_steps + r.steps


def test_bf16_autocast_on_cpu_is_recorded():
    r = time_training(mlp_arch(), batch_size=2, precision="bf16", **FAST)
    assert r.precision_used == "bf16" and r.autocast_dtype == "bfloat16" and not r.grad_scaler


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg
    return msg


@pytest.mark.parametrize(
    "precision, words",
    [("fp16", "needs a CUDA device"), ("tf32", "CUDA tensor-core"), ("fp64", "unknown precision")],
)
def test_precision_the_cpu_cannot_run_is_one_line_error(precision, words):
    builds: list = []
    with pytest.raises(ConfigurationError) as exc:
        time_training(mlp_arch(builds=builds), batch_size=2, precision=precision, **FAST)
    assert words in _one_line(exc.value)
    assert builds == []  # refused before anything was built


@pytest.mark.skipif(HAS_CUDA, reason="checks the no-CUDA error")
def test_cuda_device_without_cuda_is_one_line_error():
    with pytest.raises(DeviceUnavailableError) as exc:
        time_training(mlp_arch(), batch_size=2, device="cuda", **FAST)
    assert "--device cpu" in _one_line(exc.value)


def test_bad_numbers_are_refused():
    for kw in (
        {"batch_size": 0},
        {"batch_size": 2, "min_steps": 0},
        {"batch_size": 2, "compile_mode": "fastest"},
    ):
        opts = {**FAST, **kw}
        with pytest.raises(ConfigurationError):
            time_training(mlp_arch(), **opts)


def test_memory_estimate_fixed_parts_are_exact():
    n = 1000 * 1000 + 1000  # one Linear(1000, 1000): weight + bias
    adam = mlp_arch(
        in_features=1000, hidden=1000, classes=1000, optimizer=OptimizerSpec("adam", 1e-3)
    )
    est = estimate_training_memory(adam, 8)
    assert est.params_bytes == 4 * 2 * n  # two Linear(1000, 1000)
    assert est.grads_bytes == est.params_bytes
    assert est.optimizer_state_bytes == 2 * est.params_bytes  # exp_avg, exp_avg_sq
    sgd_m = mlp_arch(in_features=1000, hidden=1000, classes=1000)
    assert estimate_training_memory(sgd_m, 8).optimizer_state_bytes == est.params_bytes
    sgd = mlp_arch(in_features=1000, hidden=1000, classes=1000, optimizer=OptimizerSpec("sgd", 0.1))
    assert estimate_training_memory(sgd, 8).optimizer_state_bytes == 0
    assert est.batch_bytes == 8 * 1000 * 4 + 8 * 8  # float input + int64 targets


def test_activation_estimate_scales_with_batch_and_bounds_saved_inputs():
    arch = mlp_arch(in_features=256, hidden=512, classes=10)
    a8 = estimate_training_memory(arch, 8).activations_bytes
    a64 = estimate_training_memory(arch, 64).activations_bytes
    assert a64 == pytest.approx(8 * a8, rel=0.02)
    # at least: the input saved by the first Linear and the ReLU output saved for backward
    assert a64 >= 4 * 64 * (256 + 512)


def test_cpu_refuses_a_batch_beyond_available_memory(monkeypatch):
    builds: list = []
    arch = mlp_arch(in_features=256, hidden=512, builds=builds)
    est = estimate_training_memory(arch, 1024)
    builds.clear()
    available = est.total_bytes - 1
    monkeypatch.setattr("harness.timing.loop.available_memory_bytes", lambda: available)
    with pytest.raises(ConfigurationError) as exc:
        time_training(arch, batch_size=1024, **FAST)
    msg = _one_line(exc.value)
    assert "estimated" in msg and "available" in msg
    suggested = int(re.search(r"--batch (\d+)", msg).group(1))
    assert 1 <= suggested < 1024
    assert estimate_training_memory(arch, suggested).total_bytes <= available
    assert "cpu" not in builds  # only meta builds happened: nothing real was allocated


def test_cpu_refusal_when_even_batch_one_does_not_fit():
    arch = mlp_arch()
    est = estimate_training_memory(arch, 4)
    with pytest.raises(ConfigurationError, match="even at batch 1"):
        check_cpu_memory(est, est.fixed_bytes // 2)
    check_cpu_memory(est, est.total_bytes)  # fits exactly: no error
    check_cpu_memory(est, None)  # unknown availability: no check


def test_out_of_memory_retries_at_half_the_batch(capsys):
    def hook(batch):
        if batch.args[0].device.type != "meta" and batch.size > 4:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")

    r = time_training(mlp_arch(loss_hook=hook), batch_size=16, memory_check=False, **FAST)
    assert r.batch_size == 4 and r.requested_batch_size == 16
    assert r.samples_per_s == pytest.approx(4 / r.median_s)
    assert any("retrying at batch 8" in n for n in r.notes)
    assert any("retrying at batch 4" in n for n in r.notes)
    assert "retrying at batch 4" in capsys.readouterr().err


def test_out_of_memory_at_batch_one_is_one_line_error():
    def hook(batch):
        if batch.args[0].device.type != "meta":
            raise torch.OutOfMemoryError("CUDA out of memory.")

    with pytest.raises(ConfigurationError) as exc:
        time_training(mlp_arch(loss_hook=hook), batch_size=2, memory_check=False, **FAST)
    assert "batch 1" in _one_line(exc.value)


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "small_net.py"
    path.write_text(
        "import torch.nn as nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))\n"
    )
    return f"{path}:build"


def test_cli_time_json(net_file, capsys):
    rc = main(
        [
            "time",
            net_file,
            "--input-shape",
            "1,3,8,8",
            "--device",
            "cpu",
            "--batch",
            "4",
            "--steps",
            "3",
            "--min-seconds",
            "0",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--json",
            "--no-flops",
            "--no-peak",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    t = out["timing"]
    assert t["batch_size"] == 4 and t["steps"] == 3 and t["device"] == "cpu"
    assert t["samples_per_s"] == pytest.approx(4 / t["median_s"])
    assert out["device"]["kind"] == "cpu" and out["matmul_peak"] is None


def test_cli_time_table_with_measured_peak(net_file, capsys):
    rc = main(
        [
            "time",
            net_file,
            "--input-shape",
            "1,3,8,8",
            "--device",
            "cpu",
            "--batch",
            "2",
            "--steps",
            "2",
            "--min-seconds",
            "0",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--no-flops",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "median step" in out and "samples/s" in out
    assert "measured matmul peak fp32" in out
    assert "the measured matmul peak is the peak" in out


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--device", "cpu", "--precision", "fp16"], "needs a CUDA device"),
        (["--device", "tpu"], "unknown device"),
    ]
    + ([] if HAS_CUDA else [(["--device", "cuda"], "--device cpu")]),
)
def test_cli_bad_input_is_one_line_error(net_file, capsys, extra, words):
    rc = main(["time", net_file, "--input-shape", "1,3,8,8", *extra])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("harness time: error:") and words in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_registered_tiny_model_smoke_if_present():
    """The zoo's resnet18 tiny variant, when the zoo has landed."""
    try:
        arch = registry.get("resnet18")
    except UnknownArchitectureError:
        pytest.skip("resnet18 is not registered yet")
    r = time_training(
        arch,
        batch_size=2,
        tiny=True,
        warmup_steps=1,
        min_steps=2,
        min_seconds=0.0,
        progress=False,
        threads=1,
    )
    assert r.steps == 2 and r.median_s > 0 and math.isfinite(r.final_loss)


# --------------------------------------------------------------------------------------------
# CUDA (skipped without a GPU)
# --------------------------------------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
def test_cuda_event_path_times_the_window():
    mon = RecordingMonitor()
    bench_before = torch.backends.cudnn.benchmark
    r = time_training(
        conv_arch(),
        batch_size=8,
        device="cuda",
        warmup_steps=3,
        min_steps=20,
        min_seconds=0.5,
        monitor=mon,
        progress=False,
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
@needs_cuda
def test_cuda_fp32_turns_tf32_off_during_the_step_and_restores_it():
    seen = {}

    def hook(batch):
        if batch.args[0].device.type == "cuda":
            seen["matmul"] = torch.backends.cuda.matmul.allow_tf32
            seen["cudnn"] = torch.backends.cudnn.allow_tf32

    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    time_training(mlp_arch(loss_hook=hook), batch_size=4, device="cuda", **FAST)
    assert seen == {"matmul": False, "cudnn": False}
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


@pytest.mark.gpu
@needs_cuda
def test_cuda_half_precisions():
    fp16 = time_training(conv_arch(), batch_size=4, device="cuda", precision="fp16", **FAST)
    assert fp16.autocast_dtype == "float16" and fp16.grad_scaler
    if torch.cuda.is_bf16_supported(including_emulation=False):
        bf16 = time_training(conv_arch(), batch_size=4, device="cuda", precision="bf16", **FAST)
        assert bf16.autocast_dtype == "bfloat16" and not bf16.grad_scaler
    else:
        with pytest.raises(ConfigurationError, match="compute capability"):
            time_training(conv_arch(), batch_size=4, device="cuda", precision="bf16", **FAST)


@pytest.mark.gpu
@needs_cuda
def test_real_cuda_out_of_memory_retries_with_half_the_batch(capsys):
    """2**16 floats (256 KiB) per example: batch 2**20 needs 256 GiB, more than any GPU."""
    arch = mlp_arch(in_features=2**16, hidden=8, classes=2)
    r = time_training(arch, batch_size=2**20, device="cuda", **FAST)
    assert r.batch_size < 2**20 and (2**20) % r.batch_size == 0
    assert any("out of memory at batch 1048576" in n for n in r.notes)
    assert "retrying" in capsys.readouterr().err
    assert torch.cuda.memory_allocated() < 2**30  # the failed attempts were freed
