"""Variants of an architecture for timing: activation checkpointing, and fewer layers.

- Activation checkpointing (`model.gradient_checkpointing_enable()`, transformers models) keeps
  only each block's input in the forward pass and recomputes the block during the backward
  pass. The recomputation is real work: counted on the same model, it appears in the backward
  phase (about one more forward of the checkpointed blocks).
- A network too large for one device is timed on its first k layers (same widths, same
  sequence) and the step time scaled by L / k, labelled `scaled_from_layers: k of L`. The
  embedding and LM head are timed once in the truncated model and scaled with the layers, so
  the scaled time overstates their share by (L/k - 1) times; with k much smaller than L and
  layers dominating the step this is a small error, stated rather than hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from torch import nn

from harness.arch.spec import Architecture
from harness.errors import ConfigurationError

LAYER_KEYS: tuple[str, ...] = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")


def _checkpointed(build):
    def checkpointed_build() -> nn.Module:
        model = build()
        if not hasattr(model, "gradient_checkpointing_enable"):
            raise ConfigurationError(
                f"{type(model).__name__} has no gradient_checkpointing_enable(); "
                "--activation-checkpointing applies to transformers models"
            )
        model.gradient_checkpointing_enable()
        return model

    return checkpointed_build


def with_activation_checkpointing(arch: Architecture) -> Architecture:
    """The same architecture, built with activation checkpointing on."""
    return replace(
        arch,
        builder=_checkpointed(arch.builder),
        tiny_builder=_checkpointed(arch.tiny_builder),
        tags=arch.tags | {"activation-checkpointing"},
        description=f"{arch.description} (activation checkpointing)",
    )


@dataclass(frozen=True)
class Truncation:
    """k of L layers kept; times scale by L / k."""

    kept: int
    total: int

    @property
    def scale(self) -> float:
        return self.total / self.kept

    @property
    def label(self) -> str:
        return f"{self.kept} of {self.total}"


def layer_key(builder) -> tuple[str, int]:
    """The configuration key holding the layer count of a transformers-built model, and it."""
    config = getattr(builder, "config", None)
    if not isinstance(config, dict) or not hasattr(builder, "with_config"):
        raise ConfigurationError(
            "layer truncation applies to zoo models built from a transformers configuration"
        )
    for key in LAYER_KEYS:
        if key in config:
            return key, int(config[key])
    raise ConfigurationError(f"no layer count among {', '.join(LAYER_KEYS)} in the configuration")


def truncated_to_layers(
    arch: Architecture, layers: int, *, tiny: bool = False
) -> tuple[Architecture, Truncation]:
    """The architecture with only its first `layers` layers (the full or the tiny variant)."""
    build = arch.tiny_builder if tiny else arch.builder
    key, total = layer_key(build)
    if not 1 <= layers <= total:
        raise ConfigurationError(f"{arch.name} has {total} layers; keep between 1 and {total}")
    short = build.with_config(**{key: layers})
    changed = {"tiny_builder": short} if tiny else {"builder": short}
    return replace(arch, **changed), Truncation(kept=layers, total=total)


def layers_that_fit(
    layer_params: int,
    other_params: int,
    free_bytes: float,
    *,
    bytes_per_param: float = 16.0,
    activation_bytes_per_layer: float = 0.0,
    headroom: float = 0.8,
) -> int:
    """How many layers a device holds, by a simple estimate: parameters x bytes per parameter
    (16 for mixed-precision Adam: bf16 weights and gradients, fp32 master weights and two
    moments; Rajbhandari et al. 2020, "ZeRO", arXiv:1910.02054 Sec. 3.1) plus activations,
    within `headroom` of the free memory. 0 when not even the embedding and head fit."""
    budget = free_bytes * headroom - other_params * bytes_per_param
    per_layer = layer_params * bytes_per_param + activation_bytes_per_layer
    return max(0, int(budget // per_layer)) if per_layer > 0 else 0
