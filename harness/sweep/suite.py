"""A parsed suite: its selectors, settings and entries, and the jobs they expand to."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigurationError, DeviceUnavailableError, UnknownArchitectureError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.loop import Job
from harness.sweep.store import ResultStore
from harness.sweep.suite_settings import DEFAULTS, SETTINGS, Locator, check_value, cuda_is_available
from harness.user_files import is_file_reference
from harness.vocab import CUDA_ONLY_PRECISIONS

if TYPE_CHECKING:
    from harness.arch.spec import Architecture


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
        if is_file_reference(t):
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
    note: str = ""


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
    note: str = ""

    # -- expansion ----------------------------------------------------------------------------

    def jobs(self, **kwargs: Any) -> list[Job]:
        """One Job per (architecture, device, batch size, precision, size), in file order.

        Keywords as `noted_jobs`.
        """
        return [job for job, _ in self.noted_jobs(**kwargs)]

    def notes(self) -> list[str]:
        """The suite's note and its entries' notes, as printed when the sweep starts."""
        out = [f"suite {self.name}: note: {self.note}"] if self.note else []
        out += [
            f"suite {self.name}: [[entry]] #{e.index} note: {e.note}"
            for e in self.entries
            if e.note
        ]
        return out

    def noted_jobs(
        self,
        *,
        overrides: Mapping[str, Any] | None = None,
        catalog: Sequence[Architecture] | None = None,
        cuda_available: bool | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> list[tuple[Job, str]]:
        """(Job, the notes that apply to it joined by "; "), in file order.

        `overrides` are settings (as in the file) that win over the file, e.g.
        {"devices": ["cpu"]} for `--device cpu`. `catalog` replaces the registry (tests).
        """
        say = notify or (lambda msg: None)
        extra = self._check_overrides(overrides or {})
        archs = self._select(catalog)
        if cuda_available is None:
            cuda_available = cuda_is_available()
        jobs: list[tuple[Job, str]] = []
        seen: set[str] = set()
        notes: set[str] = set()
        for spec, arch, applied in archs:
            s = {**DEFAULTS, **self.settings}
            for e in applied:
                s.update(e.settings)
            note = "; ".join(n for n in [self.note, *(e.note for e in applied)] if n)
            s.update(extra)
            if self._variant_skipped(spec, arch, s, notes, say):
                continue
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
                                activation_checkpointing=s["activation_checkpointing"],
                                truncate_layers=s["truncate_layers"],
                            )
                            k = repr(config)
                            if k in seen:
                                continue
                            seen.add(k)
                            job = Job(config, float(s["timeout_s"]), arch.summary())
                            jobs.append((job, note))
        return jobs

    def configs(self, **kwargs: Any) -> list[MeasurementConfig]:
        return [j.config for j in self.jobs(**kwargs)]

    def _variant_skipped(
        self,
        spec: str,
        arch: Architecture,
        s: Mapping[str, Any],
        notes: set[str],
        say: Callable[[str], None],
    ) -> bool:
        """An architecture that activation checkpointing or layer truncation cannot apply to
        is skipped with a note (a suite mixes vision models and decoders)."""
        if not s["activation_checkpointing"] and s["truncate_layers"] is None:
            return False
        from harness.pipeline.variant import check_variants

        probe = MeasurementConfig(
            spec,
            tiny=s["tiny"],
            activation_checkpointing=s["activation_checkpointing"],
            truncate_layers=s["truncate_layers"],
        )
        try:
            check_variants(arch, probe)
        except ConfigurationError as exc:
            note = f"suite {self.name}: skipped: {exc}"
            if note not in notes:
                notes.add(note)
                say(note)
            return True
        return False

    def _check_overrides(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in SETTINGS:
                raise ConfigurationError(
                    f"unknown suite setting {key!r}; known: {', '.join(SETTINGS)}"
                )
            out[key] = check_value(key, value, lambda msg: ConfigurationError(msg))
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
                line = Locator(self.text).any_value("devices", d)
                raise DeviceUnavailableError(
                    f"{self._where(line)}suite {self.name} runs on {d} but no CUDA device is "
                    'visible; use the smoke suite, --device cpu, or devices = ["auto"]'
                )
            if d not in out:
                out.append(d)
        return out

    def _select(
        self, catalog: Sequence[Architecture] | None
    ) -> list[tuple[str, Architecture, list[SuiteEntry]]]:
        """(config architecture string, Architecture, the entries that apply)."""
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
                e
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


class NotedStore(ResultStore):
    """A results store that writes each record's suite note into its environment
    (`environment["suite_note"]`), so the note travels with the row it explains."""

    def __init__(self, path: Any, notes: Mapping[str, str]) -> None:
        super().__init__(path)
        self.notes = dict(notes)  # record key -> note

    def put_many(self, records: Iterable[Measurement], *, overwrite: bool = False) -> int:
        noted = []
        for rec in records:
            note = self.notes.get(rec.key)
            if note:
                rec = rec.replace(environment={**rec.environment, "suite_note": note})
            noted.append(rec)
        return super().put_many(noted, overwrite=overwrite)
