"""Timing a truncated decoder: the step scaled by layers, labelled `scaled_from_layers`."""

from __future__ import annotations

import json
import warnings

import pytest

from harness.arch.registry import get
from harness.arch.variants import truncated_to_layers
from harness.timing.layer_fit import layer_params, layers_to_time, scaled_timing


def _four_layer_tiny_llama():
    arch = get("llama2_7b")
    return type(arch)(
        **{**arch.__dict__, "tiny_builder": arch.tiny_builder.with_config(num_hidden_layers=4)}
    )


def test_two_of_four_layers_scales_the_step_by_two():
    arch4 = _four_layer_tiny_llama()
    _, truncation = truncated_to_layers(arch4, 2, tiny=True)
    out = scaled_timing({"median_s": 0.25, "mean_s": 0.3, "p90_s": None}, truncation)
    assert out["scaled_from_layers"] == "2 of 4"
    assert out["scaled_median_s"] == 0.5 and out["scaled_mean_s"] == pytest.approx(0.6)
    assert "scaled_p90_s" not in out


def test_layer_parameters_from_the_meta_build():
    one, other, layers = layer_params(_four_layer_tiny_llama(), tiny=True)
    # d 32: Q, O 32x32; K, V 32x16; SwiGLU 3 x 32x64; two RMSNorm weights of 32
    assert one == 2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 64 + 2 * 32
    assert layers == 4
    assert other == 2 * 1000 * 32 + 32  # embedding, untied head, final norm
    assert layers_to_time(_four_layer_tiny_llama(), True, free_bytes=1e12) is None  # all fit
    budget = (other + 2 * one) * 16 / 0.8  # room for exactly two layers
    assert layers_to_time(_four_layer_tiny_llama(), True, free_bytes=budget + 1) == 2


def test_time_command_labels_the_truncated_timing(capsys):
    from harness.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(
            [
                "time",
                "llama2_7b",
                "--tiny",
                "--device",
                "cpu",
                "--batch",
                "1",
                "--steps",
                "2",
                "--warmup",
                "1",
                "--min-seconds",
                "0",
                "--no-peak",
                "--no-flops",
                "--truncate-layers",
                "1",
                "--json",
            ]
        )
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)["summary"]
    assert doc["scaled_from_layers"] == "1 of 2"
    assert doc["scaled_median_s"] == pytest.approx(2 * doc["timing"]["median_s"])


def test_auto_truncation_asks_the_gpu_for_free_memory(monkeypatch):
    """`--truncate-layers auto` on CUDA: free memory from torch.cuda.mem_get_info (faked here),
    layers from the memory estimate; on a CPU device, no truncation."""
    import torch

    from harness.pipeline.config import MeasurementConfig
    from harness.pipeline.variant import _layers_that_fit

    arch4 = _four_layer_tiny_llama()
    one, other, _ = layer_params(arch4, tiny=True)
    free = (other + 3 * one) * 16 / 0.8 + 1  # room for three of four layers
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))
    on_gpu = MeasurementConfig("llama2_7b", device="cuda:0", tiny=True, truncate_layers="auto")
    assert _layers_that_fit(arch4, on_gpu) == 3
    on_cpu = MeasurementConfig("llama2_7b", device="cpu", tiny=True, truncate_layers="auto")
    assert _layers_that_fit(arch4, on_cpu) is None
