"""TF32 through torch's fp32_precision API where it exists (2.9+), else the legacy allow_tf32
flags, never a mix: torch raises on reading allow_tf32 once fp32_precision has set TF32."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.hardware.precision import PrecisionPlan, precision_settings, tf32_allowed

TF32 = PrecisionPlan("tf32", "tf32", "cuda", None, False, True)
FP32 = PrecisionPlan("fp32", "fp32", "cuda", None, False, False)


class Knob:
    """One fp32_precision setting of torch >= 2.9; touching the legacy flag is the error torch
    raises when the two APIs are mixed."""

    def __init__(self, value):
        self.fp32_precision = value

    @property
    def allow_tf32(self):
        raise RuntimeError("mix of the legacy and new APIs to set the TF32 status")

    @allow_tf32.setter
    def allow_tf32(self, value):
        raise RuntimeError("mix of the legacy and new APIs to set the TF32 status")


class NewCudnn(Knob):
    def __init__(self):
        super().__init__("none")
        self.conv, self.rnn, self.benchmark = Knob("tf32"), Knob("tf32"), False


def new_backends():
    return SimpleNamespace(cuda=SimpleNamespace(matmul=Knob("none")), cudnn=NewCudnn())


def legacy_backends():
    return SimpleNamespace(
        cuda=SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False)),
        cudnn=SimpleNamespace(allow_tf32=True, benchmark=False),
    )


def settings(b):
    return (b.cuda.matmul.fp32_precision, b.cudnn.conv.fp32_precision, b.cudnn.rnn.fp32_precision)


@pytest.mark.parametrize(("plan", "value"), [(TF32, "tf32"), (FP32, "ieee")])
def test_new_api_sets_fp32_precision_and_puts_it_back(plan, value):
    b = new_backends()
    with precision_settings(plan, cudnn_benchmark=True, backends=b):
        assert settings(b) == (value, value, value)
        assert tf32_allowed(backends=b) == (value == "tf32",) * 2
        assert b.cudnn.benchmark is True
    assert settings(b) == ("none", "tf32", "tf32") and b.cudnn.benchmark is False


@pytest.mark.parametrize("enabled", [True, False])
def test_legacy_torch_sets_allow_tf32(enabled):
    b = legacy_backends()
    plan = TF32 if enabled else FP32
    with precision_settings(plan, backends=b):
        assert (b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32) == (enabled, enabled)
        assert tf32_allowed(backends=b) == (enabled, enabled)
    assert (b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32) == (False, True)


def test_cpu_plans_leave_the_switches_alone():
    b = new_backends()
    with precision_settings(PrecisionPlan("fp32", "fp32", "cpu", None, False, False), backends=b):
        assert settings(b) == ("none", "tf32", "tf32")
