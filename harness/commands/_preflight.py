"""Checks a command makes before it measures: every mistake the options can show is found
in a second, as a one-line error (exit 2), not after minutes of counting and timing.

In order, cheapest first: the precision against the device (before anything is built), the
country code of the carbon conversion, the architecture (a file is imported here), the
example batch on the meta device (a sequence longer than the model's positions, a size of
the wrong kind), and, for a file reference, its factory called once on the meta device, so
that a file which exits while being built is refused here. The factory's other failures are
left to the measurement, which records them: a factory may do things meta tensors cannot.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigurationError, HarnessError
from harness.user_files import UserFileExit, is_file_reference


def check_precision(precision: str, device: str) -> None:
    """tf32 and fp16 are CUDA modes: refused on CPU before anything is built."""
    if device.split(":")[0] != "cpu":
        return
    from harness.hardware.precision import plan_precision

    plan_precision(precision, "cpu")


def check_country(country: Any) -> None:
    if country is not None:
        from harness.catalog.grid import grid_intensity

        grid_intensity(country)


def check_example(arch: Any, size: int | None, *, tiny: bool, file_reference: bool) -> None:
    """Make one example batch (and, for a file, build the model) on the meta device."""
    import torch

    try:
        arch.example_batch(1, size=size, tiny=tiny, device="meta")
    except HarnessError:
        raise
    except Exception:  # a factory meta tensors cannot run: the measurement will tell
        pass
    if not file_reference:
        return
    try:
        with torch.device("meta"):
            arch.build(tiny=tiny)
    except UserFileExit:
        raise
    except Exception:
        pass


def preflight(config: Any) -> Any:
    """Check a MeasurementConfig before measuring it; returns its Architecture."""
    check_precision(config.precision, config.device)
    check_country(config.country)
    arch = config.resolve_architecture()
    check_example(
        arch,
        config.size,
        tiny=config.tiny,
        file_reference=is_file_reference(config.architecture),
    )
    return arch


def check_vocab(vocab: int | None) -> None:
    if vocab is not None and vocab < 1:
        raise ConfigurationError(f"--vocab must be at least 1 (the token-id range), got {vocab}")
