"""Timing a decoder too large for one device: how many layers fit, and the scaled step time.

The fit is a memory estimate (harness.arch.variants.layers_that_fit) from the parameter counts
of the model built on the meta device, against the device's free memory; the step time of the
truncated model is scaled by L / k and labelled `scaled_from_layers: k of L`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from harness.arch.spec import Architecture
from harness.arch.variants import Truncation, layer_key, layers_that_fit
from harness.counting.build import build_meta, param_counts


def layer_params(arch: Architecture, tiny: bool) -> tuple[int, int, int]:
    """(parameters of one layer, parameters outside the layers, layers) from a meta build."""
    build = arch.tiny_builder if tiny else arch.builder
    _, layers = layer_key(build)
    model = build_meta(arch, tiny)
    total = param_counts(model)[0]
    stacks = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == layers]
    if not stacks:
        return total // layers, 0, layers
    one = sum(p.numel() for p in stacks[0][0].parameters())
    return one, total - one * layers, layers


def layers_to_time(arch: Architecture, tiny: bool, free_bytes: float) -> int | None:
    """The layers to keep on a device with `free_bytes` free; None when the whole model fits."""
    one, other, layers = layer_params(arch, tiny)
    fit = layers_that_fit(one, other, free_bytes)
    return None if fit >= layers else max(1, fit)


def scaled_timing(timing: dict[str, Any], truncation: Truncation) -> dict[str, Any]:
    """The step figures scaled from k layers to L, with the label that says so."""
    out = {"scaled_from_layers": truncation.label, "layer_scale": truncation.scale}
    for key in ("median_s", "mean_s", "p90_s"):
        if timing.get(key) is not None:
            out[f"scaled_{key}"] = timing[key] * truncation.scale
    return out
