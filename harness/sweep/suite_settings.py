"""The settings a suite may give, their checks and defaults, and where a value sits in the file."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from harness.pipeline.config import MeasurementConfig
from harness.sweep.loop import DEFAULT_TIMEOUT_S
from harness.vocab import COMPILE_MODES, PRECISIONS, SUITE_DEVICE_PATTERN


def _int(min_value: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, int) or isinstance(v, bool) or v < min_value:
            return f"an integer of at least {min_value}"
        return None

    return check


def _number(min_value: float, *, strict: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok and not math.isfinite(v):  # TOML has inf and nan; no limit or price is either
            return f"a finite number {'above' if strict else 'of at least'} {min_value:g}"
        if not ok or v < min_value or (strict and v == min_value):
            return f"a number {'above' if strict else 'of at least'} {min_value:g}"
        return None

    return check


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def _country(v: Any) -> str | None:
    """A code the shipped grid table knows, checked when the suite is read, not per job."""
    from harness.catalog.grid import grid_intensity
    from harness.errors import ConfigurationError

    if not isinstance(v, str):
        return "a string (an ISO 3166-1 alpha-3 code such as USA, FRA)"
    try:
        grid_intensity(v)
    except ConfigurationError:
        return "an ISO 3166-1 alpha-3 code in codecarbon's grid table (USA, FRA, DEU, ...)"
    return None


def _device(v: Any) -> str | None:
    if isinstance(v, str) and SUITE_DEVICE_PATTERN.match(v):
        return None
    return '"auto", "cpu", "cuda" or "cuda:N"'


def _precision(v: Any) -> str | None:
    return None if v in PRECISIONS else f"one of {', '.join(PRECISIONS)}"


def _size(v: Any) -> str | None:
    if v == "default" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
        return None
    return 'a positive integer or "default"'


def _truncate_layers(v: Any) -> str | None:
    if v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
        return None
    return 'a number of layers of at least 1 or "auto"'


def _compile_mode(v: Any) -> str | None:
    return None if v in (*COMPILE_MODES, "none") else f"one of none, {', '.join(COMPILE_MODES)}"


# name -> (is a list, element check)
SETTINGS: dict[str, tuple[bool, Callable[[Any], str | None]]] = {
    "devices": (True, _device),
    "batch_sizes": (True, _int(1)),
    "precisions": (True, _precision),
    "sizes": (True, _size),
    "tiny": (False, _bool),
    "channels_last": (False, _bool),
    "compile_mode": (False, _compile_mode),
    "warmup_steps": (False, _int(0)),
    "min_steps": (False, _int(1)),
    "min_seconds": (False, _number(0)),
    "timeout_s": (False, _number(0, strict=True)),
    "seed": (False, _int(0)),
    "country": (False, _country),
    "pue": (False, _number(1)),
    "price_per_gpu_hour": (False, _number(0)),
    "world_size": (False, _int(1)),
    "activation_checkpointing": (False, _bool),
    "truncate_layers": (False, _truncate_layers),
}
_CONFIG_DEFAULTS = MeasurementConfig("x")
DEFAULTS: dict[str, Any] = {
    "devices": ["cuda"],
    "batch_sizes": [_CONFIG_DEFAULTS.batch_size],
    "precisions": [_CONFIG_DEFAULTS.precision],
    "sizes": ["default"],
    "tiny": _CONFIG_DEFAULTS.tiny,
    "channels_last": _CONFIG_DEFAULTS.channels_last,
    "compile_mode": "none",
    "warmup_steps": _CONFIG_DEFAULTS.warmup_steps,
    "min_steps": _CONFIG_DEFAULTS.min_steps,
    "min_seconds": _CONFIG_DEFAULTS.min_seconds,
    "timeout_s": DEFAULT_TIMEOUT_S,
    "seed": _CONFIG_DEFAULTS.seed,
    "country": None,
    "pue": _CONFIG_DEFAULTS.pue,
    "price_per_gpu_hour": _CONFIG_DEFAULTS.price_per_gpu_hour,
    "world_size": _CONFIG_DEFAULTS.world_size,
    "activation_checkpointing": _CONFIG_DEFAULTS.activation_checkpointing,
    "truncate_layers": _CONFIG_DEFAULTS.truncate_layers,
}
# `note`: free text, printed when the sweep starts and kept in each record's environment
TOP_KEYS = ("name", "description", "note", "architectures", "exclude", "entry", *SETTINGS)
ENTRY_KEYS = ("architectures", "match", "note", *SETTINGS)


def check_value(key: str, value: Any, err: Callable[[str], Exception]) -> Any:
    is_list, check = SETTINGS[key]
    if is_list:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise err(f"{key} must not be empty")
        for item in items:
            expected = check(item)
            if expected:
                raise err(f"{key}: {item!r} is not {expected}")
        return list(dict.fromkeys(items))  # duplicates dropped, order kept
    expected = check(value)
    if expected:
        raise err(f"{key} must be {expected}, got {value!r}")
    return value


def cuda_is_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


class Locator:
    """Line numbers for keys and values (tomllib reports none for valid TOML)."""

    _HEADER = re.compile(r"^\s*\[(\[)?\s*([^\]]+?)\s*\](\])?\s*(#.*)?$")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []  # (1-based line, table name)
        for n, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line)
            if m:
                self.headers.append((n, m.group(2).strip().strip('"').strip("'")))

    def _range(self, section: int | None) -> tuple[int, int]:
        """Lines [start, end] of the top level (None) or of the section-th [[entry]]."""
        ends = [n for n, _ in self.headers]
        if section is None:
            return 1, (ends[0] - 1 if ends else len(self.lines))
        entries = [n for n, name in self.headers if name == "entry"]
        if section > len(entries):
            return 1, len(self.lines)
        start = entries[section - 1]
        after = [n for n in ends if n > start]
        return start, (after[0] - 1 if after else len(self.lines))

    def section_start(self, section: int) -> int | None:
        start, _ = self._range(section)
        return start

    def key(self, section: int | None, key: str) -> int | None:
        start, end = self._range(section)
        pat = re.compile(r"""^\s*["']?""" + re.escape(key) + r"""["']?\s*(=|\.)""")
        for n in range(start, end + 1):
            if pat.match(self.lines[n - 1]):
                return n
        for n, name in self.headers:  # a table: [key] or [[key]]
            if name == key or name.startswith(f"{key}."):
                return n
        return None

    def value(self, section: int | None, key: str, value: str) -> int | None:
        first = self.key(section, key)
        if first is None:
            return None
        _, end = self._range(section)
        quoted = (f'"{value}"', f"'{value}'")
        for n in range(first, end + 1):
            if any(q in self.lines[n - 1] for q in quoted):
                return n
        return first

    def any_value(self, key: str, value: str) -> int | None:
        for section in [None, *range(1, len(self.headers) + 1)]:
            line = self.value(section, key, value)
            if line is not None:
                return line
        return None
