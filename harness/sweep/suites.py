"""Sweep suites: TOML files under harness/data/suites/ that say what a sweep measures.

    description = "what this suite is for"
    note = "run after the driver update"  # optional; printed at the start, kept in each record
    architectures = ["resnet18", "vit_*", "tag:paper", "benchmark:coco", "my_net.py:build"]
    exclude = ["vit_h_14"]            # optional, names or patterns
    devices = ["cuda"]                # "cpu", "cuda", "cuda:N", or "auto" (cuda if present, else cpu)
    tiny = false
    batch_sizes = [32]
    precisions = ["fp32"]             # fp32, tf32, bf16, fp16
    sizes = ["default"]               # resolution / sequence length overrides
    warmup_steps = 3
    min_steps = 10
    min_seconds = 1.0
    timeout_s = 900

    [[entry]]                         # override settings for selected architectures
    match = ["benchmark:coco"]
    batch_sizes = [4]

    [[entry]]                         # add architectures with their own settings
    architectures = ["bert_large_squad"]
    precisions = ["bf16"]

Top-level settings apply to every architecture; each `[[entry]]` that adds an architecture
(`architectures`) or matches one already selected (`match`, which adds nothing) overrides them
for it, in file order. Every setting of a `MeasurementConfig` (channels_last,
compile_mode, seed, country, pue, price_per_gpu_hour, world_size) may appear at either level;
`world_size` N > 1 runs N data-parallel ranks under torchrun on this node.
The device default is "cuda". A `note` (top level, or in an `[[entry]]` for its
architectures) is printed when the sweep starts and stored in each record's environment as
`suite_note` (the notes that apply joined by "; "). A mistake (an unknown key, an unknown architecture, a value of
the wrong type) is an error that names the file and line.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.data import SUITES_DIR
from harness.errors import ConfigurationError
from harness.sweep.suite import Selector, Suite, SuiteEntry
from harness.sweep.suite_settings import (
    ENTRY_KEYS,
    SETTINGS,
    TOP_KEYS,
    Locator,
    check_value,
    cuda_is_available,
)

# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def list_suites(directory: Path = SUITES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def default_suite(cuda_available: bool | None = None) -> tuple[str, str]:
    """The suite `make measure` runs here, and the sentence that says why."""
    if cuda_available is None:
        cuda_available = cuda_is_available()
    if cuda_available:
        return "paper", "a CUDA device is present: running the paper suite (full-size networks)"
    return "smoke", (
        "no CUDA device: running the smoke suite on the CPU (tiny variants; the paper suite "
        "needs a GPU)"
    )


def suite_path(name_or_path: str | Path) -> Path:
    """A suite's file: a path to a .toml file, or the name of one in harness/data/suites/."""
    p = Path(name_or_path).expanduser()
    if p.suffix == ".toml" or p.is_file():
        if not p.is_file():
            raise ConfigurationError(f"suite file {p} does not exist")
        return p
    candidate = SUITES_DIR / f"{name_or_path}.toml"
    if not candidate.is_file():
        names = list_suites()
        close = difflib.get_close_matches(str(name_or_path), names, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigurationError(
            f"unknown suite {str(name_or_path)!r}; {hint}suites: {', '.join(names) or 'none'} "
            "(or pass a path to a .toml file)"
        )
    return candidate


def load_suite(name_or_path: str | Path) -> Suite:
    path = suite_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read suite {path}: {exc}") from None
    return parse_suite(text, path=path)


def parse_suite(text: str, *, path: Path | None = None, name: str | None = None) -> Suite:
    """Check a suite's text (keys, types); architectures are resolved later, by `jobs()`."""
    where = str(path) if path else f"suite {name or '<text>'}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where}: invalid TOML: {exc}") from None
    loc = Locator(text)

    def err(line: int | None, msg: str) -> ConfigurationError:
        return ConfigurationError(f"{where}:{line}: {msg}" if line else f"{where}: {msg}")

    _check_keys(data, TOP_KEYS, None, loc, err)
    entries_raw = data.get("entry", [])
    if not isinstance(entries_raw, list) or not all(isinstance(e, dict) for e in entries_raw):
        raise err(loc.key(None, "entry"), "entry must be [[entry]] tables")
    for key in ("name", "description", "note"):
        if key in data and not isinstance(data[key], str):
            raise err(loc.key(None, key), f"{key} must be a string")

    settings = _settings(data, None, loc, err)
    selectors = _selectors(data, "architectures", None, loc, err)
    exclude = _selectors(data, "exclude", None, loc, err)
    entries = []
    for i, raw in enumerate(entries_raw, 1):
        _check_keys(raw, ENTRY_KEYS, i, loc, err)
        if "architectures" not in raw and "match" not in raw:
            raise err(
                loc.section_start(i),
                f"[[entry]] #{i} needs architectures = [...] (to add) or match = [...] "
                "(to override for selected ones)",
            )
        if "note" in raw and not isinstance(raw["note"], str):
            raise err(loc.key(i, "note"), "note must be a string")
        entries.append(
            SuiteEntry(
                index=i,
                line=loc.section_start(i),
                selectors=_selectors(raw, "architectures", i, loc, err),
                settings=_settings(raw, i, loc, err),
                matchers=_selectors(raw, "match", i, loc, err),
                note=raw.get("note", "").strip(),
            )
        )
    if not selectors and not any(e.selectors for e in entries):
        raise err(None, "the suite lists no architectures (add architectures = [...])")
    return Suite(
        name=data.get("name") or name or (path.stem if path else "suite"),
        description=data.get("description", ""),
        note=data.get("note", "").strip(),
        path=path,
        selectors=selectors,
        exclude=exclude,
        settings=settings,
        entries=tuple(entries),
        text=text,
    )


def _check_keys(
    table: Mapping[str, Any], allowed: Sequence[str], section: int | None, loc: Locator, err
) -> None:
    for key in table:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        place = "at the top level" if section is None else f"in [[entry]] #{section}"
        raise err(
            loc.key(section, key),
            f"unknown key {key!r} {place}; {hint}known keys: {', '.join(allowed)}",
        )


def _settings(table: Mapping[str, Any], section: int | None, loc: Locator, err) -> dict[str, Any]:
    out = {}
    for key in SETTINGS:
        if key in table:
            value = table[key]
            out[key] = check_value(key, value, lambda msg, k=key: err(loc.key(section, k), msg))
    return out


def _selectors(
    table: Mapping[str, Any], key: str, section: int | None, loc: Locator, err
) -> tuple[Selector, ...]:
    if key not in table:
        return ()
    raw = table[key]
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise err(loc.key(section, key), f"{key} must be a list of names, patterns or tags")
        out.append(Selector(item.strip(), loc.value(section, key, item)))
    if not out:
        raise err(loc.key(section, key), f"{key} must not be empty")
    return tuple(out)
