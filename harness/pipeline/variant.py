"""The architecture a configuration asks to count and to time: with activation checkpointing,
and timed on its first K layers (`harness.arch.variants`).

A truncated run counts the FULL model (with the recompute where checkpointed) and times the
first K layers; its step time is scaled by L / K (`scaled_from_layers: K of L`) and the MFU and
burden divide the full model's count by the scaled step time, so both describe the same
(whole) step. Energy per step is scaled the same way: the window's energy over the full-model
steps it stands for (timed steps x K / L).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.arch.spec import Architecture
from harness.arch.variants import (
    Truncation,
    layer_key,
    truncated_to_layers,
    with_activation_checkpointing,
)
from harness.errors import ConfigurationError
from harness.pipeline.config import MeasurementConfig


@dataclass(frozen=True)
class Variants:
    """What is counted, what is timed, and the truncation (None: the whole model is timed)."""

    counted: Architecture
    timed: Architecture
    truncation: Truncation | None


def check_variants(arch: Architecture, config: MeasurementConfig) -> None:
    """A one-line error naming the option when it cannot apply to `arch`."""
    if config.activation_checkpointing:
        from harness.counting.build import build_meta

        model = build_meta(arch, config.tiny)
        if not hasattr(model, "gradient_checkpointing_enable"):
            raise ConfigurationError(
                f"--activation-checkpointing applies to transformers models; "
                f"{config.architecture} ({type(model).__name__}) is not one: drop the option"
            )
    if config.truncate_layers is not None:
        try:
            _, total = layer_key(arch.tiny_builder if config.tiny else arch.builder)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"--truncate-layers applies to layer stacks built from a transformers "
                f"configuration (decoders); {config.architecture}: {exc}"
            ) from None
        keep = config.truncate_layers
        if keep != "auto" and not 1 <= keep <= total:
            raise ConfigurationError(
                f"--truncate-layers {keep}: {config.architecture} has {total} layers; "
                f"keep between 1 and {total}"
            )


def measured_variants(arch: Architecture, config: MeasurementConfig) -> Variants:
    """The counted and the timed architecture of `config` (checked first)."""
    check_variants(arch, config)
    if config.activation_checkpointing:
        arch = with_activation_checkpointing(arch)
    keep = config.truncate_layers
    if keep == "auto":
        keep = _layers_that_fit(arch, config)
    if keep is None:
        return Variants(counted=arch, timed=arch, truncation=None)
    timed, truncation = truncated_to_layers(arch, int(keep), tiny=config.tiny)
    return Variants(counted=arch, timed=timed, truncation=truncation)


def _layers_that_fit(arch: Architecture, config: MeasurementConfig) -> int | None:
    """On CUDA, the layers the free memory holds (None: all of them, or not a CUDA device)."""
    import torch

    if config.device_kind != "cuda" or not torch.cuda.is_available():
        return None
    from harness.timing.layer_fit import layers_to_time

    free, _ = torch.cuda.mem_get_info(torch.device(config.device))
    return layers_to_time(arch, config.tiny, free)


def scaled_section(section: dict[str, Any], truncation: Truncation) -> float:
    """Add the scaled figures and their basis to a record's timing section; the step time
    that the MFU and burden use (the scaled median)."""
    from harness.timing.layer_fit import scaled_timing

    section.update(scaled_timing(section, truncation))
    if section.get("samples_per_s") is not None:
        section["scaled_samples_per_s"] = section["samples_per_s"] / truncation.scale
    section["scaled_basis"] = (
        f"the first {truncation.kept} of {truncation.total} layers timed; median_s, mean_s, "
        f"p90_s are of those layers, scaled_* are x {truncation.scale:g} (L / K); the count "
        "is of the full model; MFU and burden use scaled_median_s and the full count"
    )
    return section["scaled_median_s"]


def whole_model_note(config: MeasurementConfig, truncation: Truncation | None) -> str | None:
    """Why a run asked for `truncate_layers = auto` timed every layer."""
    if config.truncate_layers != "auto" or truncation is not None:
        return None
    return (
        "truncate_layers auto: every layer was timed (the whole model fits the device's free "
        "memory, or the device is not CUDA)"
    )


def energy_steps(window_steps: int | None, truncation: Truncation | None) -> float | None:
    """The full-model steps an energy window of `window_steps` timed steps stands for."""
    if truncation is None or window_steps is None:
        return window_steps
    return window_steps / truncation.scale
