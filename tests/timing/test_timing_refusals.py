"""Bad input fails before anything is built; memory is estimated and checked; an
out-of-memory error retries at half the batch."""

from __future__ import annotations

import re

import pytest
import torch
from cuda_available import HAS_CUDA
from timing_archs import FAST, fast, mlp_arch

from harness.arch.spec import OptimizerSpec
from harness.errors import ConfigurationError, DeviceUnavailableError
from harness.timing.memory import check_cpu_memory, estimate_training_memory
from harness.timing.request import TimingRequest
from harness.timing.run import time_training

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
        time_training(mlp_arch(builds=builds), fast(2, precision=precision))
    assert words in _one_line(exc.value)
    assert builds == []  # refused before anything was built


@pytest.mark.skipif(HAS_CUDA, reason="checks the no-CUDA error")
def test_cuda_device_without_cuda_is_one_line_error():
    with pytest.raises(DeviceUnavailableError) as exc:
        time_training(mlp_arch(), fast(2, device="cuda"))
    assert "--device cpu" in _one_line(exc.value)


def test_bad_numbers_are_refused():
    for kw in (
        {"batch_size": 0},
        {"batch_size": 2, "min_steps": 0},
        {"batch_size": 2, "compile_mode": "fastest"},
    ):
        opts = {**FAST, **kw}
        with pytest.raises(ConfigurationError):
            time_training(mlp_arch(), TimingRequest(**opts))


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
    monkeypatch.setattr("harness.timing.setup.available_memory_bytes", lambda: available)
    with pytest.raises(ConfigurationError) as exc:
        time_training(arch, fast(1024))
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

    r = time_training(mlp_arch(loss_hook=hook), fast(16, memory_check=False))
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
        time_training(mlp_arch(loss_hook=hook), fast(2, memory_check=False))
    assert "batch 1" in _one_line(exc.value)
