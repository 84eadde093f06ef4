"""Sweep suites: TOML files under harness/data/suites/ that say what a sweep measures.

    description = "what this suite is for"
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
compile_mode, seed, country, pue, price_per_gpu_hour, world_size) may appear at either level.
The device default is "cuda". A mistake (an unknown key, an unknown architecture, a value of
the wrong type) is an error that names the file and line.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.data import SUITES_DIR
from harness.errors import ConfigurationError, DeviceUnavailableError, UnknownArchitectureError
from harness.pipeline.config import MeasurementConfig
from harness.sweep.loop import DEFAULT_TIMEOUT_S, Job
from harness.vocab import COMPILE_MODES, CUDA_ONLY_PRECISIONS, PRECISIONS, SUITE_DEVICE_PATTERN

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

if TYPE_CHECKING:
    from harness.arch.spec import Architecture


def _int(min_value: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if not isinstance(v, int) or isinstance(v, bool) or v < min_value:
            return f"an integer of at least {min_value}"
        return None

    return check


def _number(min_value: float, *, strict: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok or v < min_value or (strict and v == min_value):
            return f"a number {'above' if strict else 'of at least'} {min_value:g}"
        return None

    return check


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def _str(v: Any) -> str | None:
    return None if isinstance(v, str) else "a string"


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
    "country": (False, _str),
    "pue": (False, _number(1)),
    "price_per_gpu_hour": (False, _number(0)),
    "world_size": (False, _int(1)),
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
}
TOP_KEYS = ("name", "description", "architectures", "exclude", "entry", *SETTINGS)
ENTRY_KEYS = ("architectures", "match", "note", *SETTINGS)


@dataclass(frozen=True)
class Selector:
    """One item of an `architectures` list, and the line it is on."""

    text: str
    line: int | None

    @property
    def kind(self) -> str:
        t = self.text
        head, sep, _ = t.partition(":")
        if sep and head in ("tag", "benchmark", "domain", "task", "family"):
            return head
        path, sep, attr = t.rpartition(":")
        if sep and path.endswith(".py") and attr:
            return "file"
        if any(c in t for c in "*?["):
            return "glob"
        return "name"

    def matches(self, arch: Architecture) -> bool:
        kind = self.kind
        value = self.text.partition(":")[2]
        if kind == "tag":
            return value in arch.tags
        if kind in ("benchmark", "domain", "task", "family"):
            return getattr(arch, kind) == value
        if kind == "glob":
            return fnmatch.fnmatchcase(arch.name, self.text)
        return arch.name == self.text


@dataclass(frozen=True)
class SuiteEntry:
    """An `[[entry]]` table: settings that override the suite's for the architectures it adds
    (`architectures`) and for those it only matches among the ones selected (`match`)."""

    index: int  # 1-based, in file order
    line: int | None
    selectors: tuple[Selector, ...]
    settings: Mapping[str, Any]
    matchers: tuple[Selector, ...] = ()


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    path: Path | None
    selectors: tuple[Selector, ...]
    exclude: tuple[Selector, ...]
    settings: Mapping[str, Any]  # the top-level settings only (DEFAULTS fill the rest)
    entries: tuple[SuiteEntry, ...] = ()
    text: str = field(default="", repr=False)

    # -- expansion ----------------------------------------------------------------------------

    def jobs(
        self,
        *,
        overrides: Mapping[str, Any] | None = None,
        catalog: Sequence[Architecture] | None = None,
        cuda_available: bool | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> list[Job]:
        """One Job per (architecture, device, batch size, precision, size), in file order.

        `overrides` are settings (as in the file) that win over the file, e.g.
        {"devices": ["cpu"]} for `--device cpu`. `catalog` replaces the registry (tests).
        """
        say = notify or (lambda msg: None)
        extra = self._check_overrides(overrides or {})
        archs = self._select(catalog)
        if cuda_available is None:
            cuda_available = _cuda_available()
        jobs: list[Job] = []
        seen: set[str] = set()
        notes: set[str] = set()
        for spec, arch, entry_settings in archs:
            s = {**DEFAULTS, **self.settings}
            for es in entry_settings:
                s.update(es)
            s.update(extra)
            devices = self._devices(s["devices"], cuda_available, notes, say)
            for device in devices:
                for precision in s["precisions"]:
                    if device == "cpu" and precision in CUDA_ONLY_PRECISIONS:
                        note = f"suite {self.name}: {precision} needs CUDA; skipped on cpu"
                        if note not in notes:
                            notes.add(note)
                            say(note)
                        continue
                    for batch_size in s["batch_sizes"]:
                        for size in s["sizes"]:
                            config = MeasurementConfig(
                                architecture=spec,
                                batch_size=batch_size,
                                tiny=s["tiny"],
                                size=None if size == "default" else size,
                                device=device,
                                precision=precision,
                                channels_last=s["channels_last"],
                                compile_mode=None
                                if s["compile_mode"] == "none"
                                else s["compile_mode"],
                                warmup_steps=s["warmup_steps"],
                                min_steps=s["min_steps"],
                                min_seconds=float(s["min_seconds"]),
                                country=s["country"],
                                pue=float(s["pue"]),
                                price_per_gpu_hour=float(s["price_per_gpu_hour"]),
                                seed=s["seed"],
                                world_size=s["world_size"],
                            )
                            k = repr(config)
                            if k in seen:
                                continue
                            seen.add(k)
                            jobs.append(Job(config, float(s["timeout_s"]), arch.summary()))
        return jobs

    def configs(self, **kwargs: Any) -> list[MeasurementConfig]:
        return [j.config for j in self.jobs(**kwargs)]

    def _check_overrides(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in SETTINGS:
                raise ConfigurationError(
                    f"unknown suite setting {key!r}; known: {', '.join(SETTINGS)}"
                )
            out[key] = _check_value(key, value, lambda msg: ConfigurationError(msg))
        return out

    def _devices(
        self, requested: Sequence[str], cuda: bool, notes: set[str], say: Callable[[str], None]
    ) -> list[str]:
        out: list[str] = []
        for d in requested:
            if d == "auto":
                d = "cuda" if cuda else "cpu"
                if not cuda:
                    note = (
                        f'suite {self.name}: no CUDA device here; running on cpu (devices = "auto")'
                    )
                    if note not in notes:
                        notes.add(note)
                        say(note)
            elif d.startswith("cuda") and not cuda:
                line = _Locator(self.text).any_value("devices", d)
                raise DeviceUnavailableError(
                    f"{self._where(line)}suite {self.name} runs on {d} but no CUDA device is "
                    'visible; use the smoke suite, --device cpu, or devices = ["auto"]'
                )
            if d not in out:
                out.append(d)
        return out

    def _select(
        self, catalog: Sequence[Architecture] | None
    ) -> list[tuple[str, Architecture, list[Mapping[str, Any]]]]:
        """(config architecture string, Architecture, the settings of entries that apply)."""
        if catalog is None:
            from harness.arch.registry import all_architectures

            catalog = all_architectures()
        by_name = {a.name: a for a in catalog}
        chosen: dict[str, tuple[Architecture, set[int]]] = {}  # spec -> (arch, entries adding it)

        def pick(sel: Selector, entry: int | None) -> None:
            for spec, arch in self._resolve(sel, catalog, by_name):
                chosen.setdefault(spec, (arch, set()))
                if entry is not None:
                    chosen[spec][1].add(entry)

        for sel in self.selectors:
            pick(sel, None)
        for entry in self.entries:
            for sel in entry.selectors:
                pick(sel, entry.index)
            for m in entry.matchers:  # a typo in a match list is an error too
                if m.kind == "file":
                    continue
                self._resolve(m, catalog, by_name)
        for sel in self.exclude:
            if sel.kind == "name" and sel.text not in by_name:
                self._unknown(sel, by_name)
            for spec in [s for s, (a, _) in chosen.items() if sel.matches(a) or s == sel.text]:
                del chosen[spec]
        if not chosen:
            raise ConfigurationError(
                f"{self._where(None)}suite {self.name} selects no architecture"
            )
        out = []
        for spec, (arch, adders) in chosen.items():
            applied = [
                e.settings
                for e in self.entries
                if e.index in adders or any(m.matches(arch) or m.text == spec for m in e.matchers)
            ]
            out.append((spec, arch, applied))
        return out

    def _resolve(
        self, sel: Selector, catalog: Sequence[Architecture], by_name: Mapping[str, Architecture]
    ) -> list[tuple[str, Architecture]]:
        kind = sel.kind
        if kind == "file":
            from harness.arch.registry import resolve

            path, _, attr = sel.text.rpartition(":")
            p = Path(path).expanduser()
            if not p.is_absolute() and self.path is not None and (self.path.parent / p).is_file():
                p = self.path.parent / p
            spec = f"{p}:{attr}"
            try:
                return [(spec, resolve(spec))]
            except ConfigurationError as exc:
                raise ConfigurationError(f"{self._where(sel.line)}{exc}") from None
            except Exception as exc:
                raise ConfigurationError(f"{self._where(sel.line)}{sel.text}: {exc}") from None
        if kind == "name":
            if sel.text not in by_name:
                self._unknown(sel, by_name)
            return [(sel.text, by_name[sel.text])]
        hits = [(a.name, a) for a in catalog if sel.matches(a)]
        if not hits:
            raise ConfigurationError(
                f"{self._where(sel.line)}{sel.text!r} matches no registered architecture; "
                "`harness list` shows them"
            )
        return hits

    def _unknown(self, sel: Selector, by_name: Mapping[str, Architecture]) -> None:
        close = difflib.get_close_matches(sel.text, list(by_name), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `harness list` shows them all"
        raise UnknownArchitectureError(
            f"{self._where(sel.line)}unknown architecture {sel.text!r}{hint}"
        )

    def _where(self, line: int | None) -> str:
        where = str(self.path) if self.path else f"suite {self.name}"
        return f"{where}:{line}: " if line else f"{where}: "


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def list_suites(directory: Path = SUITES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def default_suite(cuda_available: bool | None = None) -> tuple[str, str]:
    """The suite `make measure` runs here, and the sentence that says why."""
    if cuda_available is None:
        cuda_available = _cuda_available()
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
    loc = _Locator(text)

    def err(line: int | None, msg: str) -> ConfigurationError:
        return ConfigurationError(f"{where}:{line}: {msg}" if line else f"{where}: {msg}")

    _check_keys(data, TOP_KEYS, None, loc, err)
    entries_raw = data.get("entry", [])
    if not isinstance(entries_raw, list) or not all(isinstance(e, dict) for e in entries_raw):
        raise err(loc.key(None, "entry"), "entry must be [[entry]] tables")
    for key in ("name", "description"):
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
        entries.append(
            SuiteEntry(
                index=i,
                line=loc.section_start(i),
                selectors=_selectors(raw, "architectures", i, loc, err),
                settings=_settings(raw, i, loc, err),
                matchers=_selectors(raw, "match", i, loc, err),
            )
        )
    if not selectors and not any(e.selectors for e in entries):
        raise err(None, "the suite lists no architectures (add architectures = [...])")
    return Suite(
        name=data.get("name") or name or (path.stem if path else "suite"),
        description=data.get("description", ""),
        path=path,
        selectors=selectors,
        exclude=exclude,
        settings=settings,
        entries=tuple(entries),
        text=text,
    )


def _check_keys(
    table: Mapping[str, Any], allowed: Sequence[str], section: int | None, loc: _Locator, err
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


def _check_value(key: str, value: Any, err: Callable[[str], Exception]) -> Any:
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


def _settings(table: Mapping[str, Any], section: int | None, loc: _Locator, err) -> dict[str, Any]:
    out = {}
    for key in SETTINGS:
        if key in table:
            value = table[key]
            out[key] = _check_value(key, value, lambda msg, k=key: err(loc.key(section, k), msg))
    return out


def _selectors(
    table: Mapping[str, Any], key: str, section: int | None, loc: _Locator, err
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


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


class _Locator:
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
