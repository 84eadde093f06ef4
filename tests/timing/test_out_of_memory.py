"""Out-of-memory classification: every shape an allocation failure takes, and the batch retry
it triggers (a fake cuBLAS workspace failure on the CPU path)."""

from __future__ import annotations

import pytest
import torch
from timing_archs import fast, mlp_arch

from harness.errors import ConfigurationError
from harness.timing.out_of_memory import is_out_of_memory
from harness.timing.run import time_training

CUBLAS = "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"  # torch/csrc/cuda CUDAContext: the cuBLAS handle's workspace could not be allocated


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer from e
    except BaseException as caught:
        return caught


def _raised_while_handling(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - the implicit __context__ is what this case is about
    except BaseException as caught:
        return caught


class _CompilerFailed(Exception):
    """Shaped like torch._dynamo.exc.BackendCompilerFailed: the cause kept as an attribute."""

    def __init__(self, inner: BaseException) -> None:
        super().__init__("backend='inductor' raised an error")
        self.inner_exception = inner


def _cuda_oom_type() -> type[BaseException]:
    return torch.cuda.OutOfMemoryError  # exists since torch 1.13


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(_cuda_oom_type()("CUDA out of memory. Tried to allocate 2.00 GiB"), id="cuda"),
        pytest.param(_cuda_oom_type()(""), id="cuda-type-without-message"),
        pytest.param(RuntimeError(CUBLAS), id="cublas-alloc"),
        pytest.param(RuntimeError("cuDNN error: CUDNN_STATUS_NOT_ALLOCATED"), id="cudnn-alloc"),
        pytest.param(
            RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR (out of memory)"),
            id="cudnn-internal-oom",
        ),
        pytest.param(RuntimeError("CUDA error: out of memory"), id="raw-cuda"),
        pytest.param(
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"
            ),
            id="cpu-allocator",
        ),
        pytest.param(MemoryError(), id="python-memory-error"),
        pytest.param(_CompilerFailed(RuntimeError(CUBLAS)), id="compiler-inner"),
        pytest.param(
            _raised_from(RuntimeError("compiled graph failed"), RuntimeError(CUBLAS)),
            id="cause",
        ),
        pytest.param(
            _raised_while_handling(ValueError("cleanup failed"), RuntimeError(CUBLAS)),
            id="context",
        ),
    ],
)
def test_every_shape_of_an_allocation_failure_is_out_of_memory(exc):
    assert is_out_of_memory(exc)


def test_backend_compiler_failed_wrapping_an_allocation_failure():
    exc_mod = pytest.importorskip("torch._dynamo.exc")
    inner = RuntimeError(CUBLAS)
    wrapped = exc_mod.BackendCompilerFailed(lambda *a: None, inner, None)
    assert is_out_of_memory(wrapped)
    assert not is_out_of_memory(exc_mod.BackendCompilerFailed(lambda *a: None, KeyError("x"), None))


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)"),
        RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR"),  # without an allocation
        RuntimeError("CUDA error: device-side assert triggered"),
        _raised_from(ValueError("bad"), KeyError("inner")),
        _CompilerFailed(TypeError("unsupported operand")),
    ],
)
def test_unrelated_errors_are_not_out_of_memory(exc):
    assert not is_out_of_memory(exc)


def test_a_cause_cycle_ends():
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a
    assert not is_out_of_memory(a)


# --------------------------------------------------------------------------------------------
# The retry they trigger
# --------------------------------------------------------------------------------------------


def test_a_cublas_allocation_failure_retries_at_half_the_batch(capsys):
    def hook(batch):
        if batch.args[0].device.type != "meta" and batch.size > 4:
            raise RuntimeError(CUBLAS)

    r = time_training(mlp_arch(loss_hook=hook), fast(8, memory_check=False))
    assert r.batch_size == 4 and r.requested_batch_size == 8
    assert any("out of memory at batch 8; retrying at batch 4" in n for n in r.notes)
    assert "retrying at batch 4" in capsys.readouterr().err


def test_an_unrelated_runtime_error_is_not_retried():
    def hook(batch):
        if batch.args[0].device.type != "meta":
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        time_training(mlp_arch(loss_hook=hook), fast(8, memory_check=False))


def test_out_of_memory_under_torch_compile_is_retried_not_a_compile_error():
    """compile_failures_as_errors turns a compile failure into a one-line error; an allocation
    failure raised through it must reach the batch retry instead."""
    from harness.timing.setup import compile_failures_as_errors

    with pytest.raises(_CompilerFailed), compile_failures_as_errors("default"):
        raise _CompilerFailed(RuntimeError(CUBLAS))
    with (
        pytest.raises(ConfigurationError, match="torch.compile"),
        compile_failures_as_errors("default"),
    ):
        raise _CompilerFailed(TypeError("unsupported"))
