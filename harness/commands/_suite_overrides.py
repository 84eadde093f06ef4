"""The step options of `harness measure` applied to a suite: each one given wins over the
suite file's setting of the same name, and one a suite cannot take is refused by name.

Why: eight copies of a sweep started with `--device cuda:0` ... `cuda:7` must land on eight
devices, and `--precision bf16` must time bf16; an option that is silently dropped turns into
wrong rows stored as "ok".
"""

from __future__ import annotations

import argparse
from typing import Any

from harness.commands._options import truncate_layers
from harness.errors import ConfigurationError

# option -> (suite setting, how the option's value becomes the setting's value)
_SETTINGS: dict[str, tuple[str, Any]] = {
    "device": ("devices", lambda v: [v]),
    "batch": ("batch_sizes", lambda v: [v]),
    "size": ("sizes", lambda v: [v]),
    "precision": ("precisions", lambda v: [v]),
    "tiny": ("tiny", bool),
    "channels_last": ("channels_last", bool),
    "compile": ("compile_mode", str),
    "steps": ("min_steps", int),
    "min_seconds": ("min_seconds", float),
    "warmup": ("warmup_steps", int),
    "seed": ("seed", int),
    "pue": ("pue", float),
    "price_per_gpu_hour": ("price_per_gpu_hour", float),
    "country": ("country", str),
    "activation_checkpointing": ("activation_checkpointing", bool),
    "truncate_layers": ("truncate_layers", truncate_layers),
}
# a value equal to the option's default leaves the suite's own setting
_UNSET: dict[str, Any] = {
    "device": "auto",
    "tiny": False,
    "channels_last": False,
    "pue": 1.0,
    "price_per_gpu_hour": 2.0,
    "country": "USA",
    "activation_checkpointing": False,
}
# options that describe one architecture given as a file, never a suite's many
_REFUSED = {
    "input_shape": "--input-shape",
    "vocab": "--vocab",
}


def suite_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The suite settings the given options set (empty when none was given); an option a
    suite cannot honour is a ConfigurationError naming it."""
    for dest, flag in _REFUSED.items():
        if getattr(args, dest, None) is not None:
            raise ConfigurationError(
                f"{flag} describes one architecture's input; a suite cannot take it: "
                "measure that architecture by name, or drop the option"
            )
    out: dict[str, Any] = {}
    for dest, (setting, convert) in _SETTINGS.items():
        value = getattr(args, dest, None)
        if value is None or (dest in _UNSET and value == _UNSET[dest]):
            continue
        out[setting] = convert(value)
    return out


def describe(overrides: dict[str, Any]) -> str:
    """`devices=['cuda:3'], precisions=['bf16']`, for the line the sweep prints."""
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items())
