"""Architecture variants: activation checkpointing counted, and layer truncation."""

from __future__ import annotations

import warnings

import pytest

from harness.arch.registry import get
from harness.arch.variants import (
    layers_that_fit,
    truncated_to_layers,
    with_activation_checkpointing,
)
from harness.counting.count import count_flops
from harness.errors import ConfigurationError


def _count(arch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return count_flops(arch, tiny=True, train=True, methods=("fake",))


def test_checkpointing_adds_one_forward_of_the_blocks_to_the_backward():
    """Tiny Llama (T 16, d 32, 4 heads, 2 KV heads of 8, d_ff 64, 2 layers): a block's forward
    is Q and O 2Td^2 + K and V 2Td(16) + SwiGLU 3Td d_ff + attention 2T^2d MACs. torch's
    non-reentrant checkpoint stops recomputing once every tensor the backward needs exists, so
    the last matmul (down projection, T d_ff d) is not recomputed."""
    t, d, ff, layers = 16, 32, 64, 2
    block = 2 * t * d * d + 2 * t * d * 16 + 3 * t * d * ff + 2 * t * t * d
    plain = _count(get("llama2_7b"))
    checkpointed = _count(with_activation_checkpointing(get("llama2_7b")))
    assert checkpointed.forward_flops == plain.forward_flops
    recomputed = checkpointed.backward_flops - plain.backward_flops
    assert recomputed == 2 * layers * (block - t * ff * d)
    assert 0.75 < recomputed / (2 * layers * block) <= 1  # about one forward of the blocks


def test_checkpointing_needs_a_transformers_model():
    arch = with_activation_checkpointing(get("resnet18"))
    with pytest.raises(ConfigurationError, match="transformers"):
        arch.build(tiny=True)


def test_truncation_keeps_k_layers_and_labels_k_of_l():
    arch = get("llama2_7b")
    four = arch.tiny_builder.with_config(num_hidden_layers=4)
    arch4 = type(arch)(**{**arch.__dict__, "tiny_builder": four})
    short, truncation = truncated_to_layers(arch4, 2, tiny=True)
    assert len(short.build(tiny=True).model.layers) == 2
    assert truncation.label == "2 of 4" and truncation.scale == 2.0
    with pytest.raises(ConfigurationError, match="between 1 and 4"):
        truncated_to_layers(arch4, 5, tiny=True)
    with pytest.raises(ConfigurationError, match="transformers configuration"):
        truncated_to_layers(get("resnet18"), 1, tiny=True)


def test_layers_that_fit_is_a_memory_budget():
    # 16 bytes per parameter: 1e9-parameter layers, 2e9 outside them, 80 GB at 80% headroom
    # -> (64e9 - 32e9) / 16e9 = 2 layers
    assert layers_that_fit(1_000_000_000, 2_000_000_000, 80e9) == 2
    assert layers_that_fit(1_000_000_000, 5_000_000_000, 80e9) == 0


def test_flops_command_counts_the_recompute(capsys):
    import json

    from harness.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["flops", "llama2_7b", "--tiny", "--json", "--method", "fake"]) == 0
        plain = json.loads(capsys.readouterr().out)
        assert (
            main(
                [
                    "flops",
                    "llama2_7b",
                    "--tiny",
                    "--json",
                    "--method",
                    "fake",
                    "--activation-checkpointing",
                ]
            )
            == 0
        )
        checkpointed = json.loads(capsys.readouterr().out)
    assert checkpointed["forward_flops"] == plain["forward_flops"]
    assert checkpointed["backward_flops"] > plain["backward_flops"]
    # the per-token section shows the extra work against the unchanged formulas
    assert checkpointed["per_token_training"]["vs_palm"] > plain["per_token_training"]["vs_palm"]
