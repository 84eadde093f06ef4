"""What one measurement is asked to do: the architecture, its size, batch, device and settings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import __version__
from harness.cost.routes import DEFAULT_USD_PER_CPU_HOUR
from harness.errors import ConfigurationError
from harness.hardware.environment import device_identity
from harness.user_files import is_file_reference
from harness.vocab import COMPILE_MODES, DEVICE_PATTERN, PRECISIONS

PhaseCallback = Callable[[str], None]
# Settings applied after a measurement, from its measured energy and hours: not in the key.
CONVERSION_FIELDS = ("country", "pue", "price_per_gpu_hour", "price_per_cpu_hour")
# Fields added after records were stored: left out of the key at their default, so the key of
# every configuration that does not use them stays what it was.
KEY_FIELDS_OMITTED_AT_DEFAULT = {"activation_checkpointing": False, "truncate_layers": None}


# --------------------------------------------------------------------------------------------
# What to measure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasurementConfig:
    """One point of a sweep. Every field but the conversions enters the key, so a change means
    a new measurement; the conversions (`CONVERSION_FIELDS`) are applied to a stored row again.

    `architecture` is a registered name or a `path/to/file.py:name` reference; `input_shape`
    and `vocab` are only for a file reference to a plain `() -> nn.Module` function (see
    `harness.arch.registry.resolve`). `size` is the resolution or sequence length (None: the
    architecture's default). Energy settings (`country`, `pue`, `price_per_gpu_hour`,
    `price_per_cpu_hour`) feed the conversions to carbon and dollars.
    """

    architecture: str
    batch_size: int = 1
    tiny: bool = False
    size: int | None = None
    device: str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    compile_mode: str | None = None
    warmup_steps: int = 3
    min_steps: int = 10
    min_seconds: float = 1.0
    country: str | None = None
    pue: float = 1.0
    price_per_gpu_hour: float = 2.0
    seed: int = 0
    world_size: int = 1
    input_shape: tuple[int, ...] | None = None
    vocab: int | None = None
    price_per_cpu_hour: float | None = DEFAULT_USD_PER_CPU_HOUR
    # transformers models: each block recomputed in the backward pass (counted and timed)
    activation_checkpointing: bool = False
    # time the first K layers (or "auto": as many as the CUDA device holds), scale by L / K
    truncate_layers: int | str | None = None

    def __post_init__(self) -> None:
        def bad(msg: str) -> ConfigurationError:
            return ConfigurationError(f"measurement of {self.architecture!r}: {msg}")

        if not isinstance(self.architecture, str) or not self.architecture.strip():
            raise ConfigurationError("a measurement needs an architecture name or file.py:name")
        for name in ("batch_size", "min_steps", "world_size"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise bad(f"{name} must be an integer of at least 1, got {v!r}")
        for name in ("warmup_steps", "seed"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                raise bad(f"{name} must be a non-negative integer, got {v!r}")
        if self.size is not None and (not _is_int(self.size) or self.size < 1):
            raise bad(f"size must be a positive integer or None, got {self.size!r}")
        if not _is_number(self.min_seconds) or self.min_seconds < 0:
            raise bad(f"min_seconds must be a non-negative number, got {self.min_seconds!r}")
        if not _is_number(self.pue) or self.pue < 1.0:
            raise bad(f"pue must be a number of at least 1.0, got {self.pue!r}")
        if not _is_number(self.price_per_gpu_hour) or self.price_per_gpu_hour < 0:
            raise bad(f"price_per_gpu_hour must be non-negative, got {self.price_per_gpu_hour!r}")
        cpu_price = self.price_per_cpu_hour
        if cpu_price is not None and (not _is_number(cpu_price) or cpu_price < 0):
            raise bad(f"price_per_cpu_hour must be non-negative, got {cpu_price!r}")
        if self.precision not in PRECISIONS:
            raise bad(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.match(self.device):
            raise bad(f"unknown device {self.device!r}; use cpu, cuda or cuda:N")
        if self.compile_mode is not None and self.compile_mode not in COMPILE_MODES:
            raise bad(
                f"unknown compile mode {self.compile_mode!r}; use one of {', '.join(COMPILE_MODES)}"
            )
        if not isinstance(self.tiny, bool) or not isinstance(self.channels_last, bool):
            raise bad("tiny and channels_last must be true or false")
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if not shape or not all(_is_int(s) and s >= 1 for s in shape):
                raise bad(f"input_shape must be positive integers, got {self.input_shape!r}")
            object.__setattr__(self, "input_shape", shape)
        if self.vocab is not None and (not _is_int(self.vocab) or self.vocab < 1):
            raise bad(f"vocab must be a positive integer, got {self.vocab!r}")
        if not isinstance(self.activation_checkpointing, bool):
            raise bad("activation_checkpointing must be true or false")
        keep = self.truncate_layers
        if keep is not None and keep != "auto" and (not _is_int(keep) or keep < 1):
            raise bad(
                f"truncate_layers must be a number of layers of at least 1 or auto, got {keep!r}"
            )

    # -- identity -----------------------------------------------------------------------------

    @property
    def device_kind(self) -> str:
        return self.device.split(":")[0]

    def key(self) -> str:
        """Stable name of this measurement: a hash of the configuration, the architecture
        (for a file reference, its path and contents), the device's kind and model, and the
        harness version. The same configuration on another GPU model is another measurement.
        The conversions to carbon and dollars (country, PUE, prices) are not part of it: they
        change no measured figure, so a row is reused and converted again on read. Settings
        added later (`KEY_FIELDS_OMITTED_AT_DEFAULT`) enter it only where they are set."""
        config = {
            k: v
            for k, v in self.to_dict().items()
            if k not in CONVERSION_FIELDS
            and not (k in KEY_FIELDS_OMITTED_AT_DEFAULT and v == KEY_FIELDS_OMITTED_AT_DEFAULT[k])
        }
        ident = {
            "config": config,
            "architecture": _architecture_identity(self.architecture),
            "device": device_identity(self.device),
            "harness_version": __version__,
        }
        blob = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def label(self) -> str:
        """A short human description for progress bars and logs."""
        parts = [self.architecture, f"bs={self.batch_size}", self.device, self.precision]
        if self.tiny:
            parts.append("tiny")
        if self.size is not None:
            parts.append(f"size={self.size}")
        if self.compile_mode:
            parts.append(f"compile={self.compile_mode}")
        if self.channels_last:
            parts.append("channels_last")
        if self.world_size > 1:
            parts.append(f"world={self.world_size}")
        if self.activation_checkpointing:
            parts.append("activation_checkpointing")
        if self.truncate_layers is not None:
            parts.append(f"truncate_layers={self.truncate_layers}")
        return " ".join(parts)

    # -- conversion ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["input_shape"] is not None:
            d["input_shape"] = list(d["input_shape"])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MeasurementConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigurationError(
                f"unknown measurement setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(names))}"
            )
        return cls(**dict(d))

    def replace(self, **changes: Any) -> MeasurementConfig:
        return dataclasses.replace(self, **changes)

    def resolve_architecture(self):  # -> harness.arch.spec.Architecture (imports torch)
        """The Architecture this configuration names (registry name or file reference)."""
        from harness.arch.registry import resolve

        return resolve(
            self.architecture,
            input_shape=self.input_shape,
            seq_len=self.size if self.vocab is not None else None,
            vocab=self.vocab,
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _architecture_identity(spec: str) -> dict[str, Any]:
    """A registered name as is; a file reference by absolute path and content hash."""
    if not is_file_reference(spec):
        return {"name": spec}
    path_str, _, attr = spec.rpartition(":")
    path = Path(path_str).expanduser()
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        digest = None
    return {"file": str(path.resolve()), "attr": attr, "sha256": digest}
