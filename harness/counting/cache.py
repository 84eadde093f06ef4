"""A cache of slow counts: a count on real CPU tensors (detectors, whose forward has
data-dependent shapes) runs the whole network at full size, minutes on a CPU; the same request
again reads the stored record instead.

A count is reused only when everything it depends on is the same: the architecture (its name
and the source files of its builders, batch factory, forward and loss), the request (batch,
size, tiny, train, attention options, methods), the torch / torchvision / transformers versions
and the harness's counting code (a hash of harness/counting and harness/arch/spec.py). Any
change gives another key, so a stale entry is never read. Counts on meta or fake tensors take
seconds and are not stored. A record read from the cache says so in its notes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from harness.arch.spec import Architecture
from harness.counting.record import DetectionBreakdown, FlopCount, FvcoreComparison
from harness.paths import reports_dir

CACHED_METHODS = frozenset({"real"})  # the slow ones; meta and fake counts take seconds
_COUNTING_ROOT = Path(__file__).resolve().parent
_SPEC_FILE = _COUNTING_ROOT.parent / "arch" / "spec.py"


def cache_dir() -> Path:
    """`count_cache/` in the reports folder; HARNESS_COUNT_CACHE_DIR overrides."""
    override = os.environ.get("HARNESS_COUNT_CACHE_DIR")
    return Path(override) if override else reports_dir() / "count_cache"


def _file_digest(path: str | Path, h: Any) -> None:
    try:
        h.update(Path(path).read_bytes())
    except OSError:
        h.update(str(path).encode())


def _callable_fingerprint(fn: Callable[..., Any], h: Any, seen: set[int] | None = None) -> None:
    """The file that defines `fn`, its qualified name, and simple closure values (a factory's
    `kind`), so two entries built by one factory function differ."""
    seen = set() if seen is None else seen
    if id(fn) in seen:
        return
    seen.add(id(fn))
    code = getattr(fn, "__code__", None)
    h.update(getattr(fn, "__qualname__", repr(type(fn))).encode())
    if code is None:
        return
    _file_digest(code.co_filename, h)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, (str, int, float, bool, tuple)):
            h.update(repr(value).encode())
        elif callable(value):
            _callable_fingerprint(value, h, seen)


def architecture_fingerprint(arch: Architecture) -> str:
    """A hash of what defines the counted network and its example batch."""
    h = hashlib.sha256()
    h.update(repr((arch.name, arch.size_kind, arch.default_size, arch.tiny_size)).encode())
    h.update(repr(arch.optimizer).encode())
    for fn in (arch.builder, arch.tiny_builder, arch.batch_factory, arch.forward_fn, arch.loss_fn):
        _callable_fingerprint(fn, h)
    return h.hexdigest()


def _code_fingerprint() -> str:
    h = hashlib.sha256()
    for path in sorted(_COUNTING_ROOT.rglob("*.py")) + [_SPEC_FILE]:
        if path.name in _PRESENTATION:
            continue
        h.update(path.relative_to(_COUNTING_ROOT.parent).as_posix().encode())
        _file_digest(path, h)
    return h.hexdigest()


# modules that print or request counts without changing them
_PRESENTATION = frozenset({"summary.py", "module_tree.py", "request.py"})
# hashed when the counting code is imported, so it describes the code that runs
_CODE_FINGERPRINT = _code_fingerprint()


def counting_code_fingerprint() -> str:
    """A hash of the harness's counting code: a new formula or counter gives new keys."""
    return _CODE_FINGERPRINT


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def cache_key(arch: Architecture, request: dict[str, Any]) -> str:
    """The key of one count: architecture, request, library versions and counting code."""
    from harness import __version__

    material = {
        "architecture": arch.name,
        "fingerprint": architecture_fingerprint(arch),
        "request": request,
        "torch": torch.__version__,
        "torchvision": _package_version("torchvision"),
        "transformers": _package_version("transformers"),
        "harness": __version__,
        "counting_code": counting_code_fingerprint(),
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _path(arch: Architecture, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in arch.name)
    return cache_dir() / f"{safe}-{key}.json"


def load(arch: Architecture, key: str) -> FlopCount | None:
    """The stored count for `key`, labelled as read from the cache; None on a miss."""
    path = _path(arch, key)
    started = time.perf_counter()
    try:
        stored = json.loads(path.read_text())
        record = record_from_dict(stored["count"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    note = (
        f"read from the count cache ({path}; counted {stored.get('counted_at', '?')} in "
        f"{record.seconds:.1f} s); --no-cache counts again"
    )
    return dataclasses.replace(
        record, notes=(*record.notes, note), seconds=time.perf_counter() - started
    )


def store(arch: Architecture, key: str, record: FlopCount) -> Path | None:
    """Keep a slow count; a cache that cannot be written is skipped, never an error."""
    if record.method not in CACHED_METHODS:
        return None
    path = _path(arch, key)
    payload = {
        "key": key,
        "counted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "count": record.to_dict(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, default=str))
        tmp.replace(path)
    except OSError:
        return None
    return path


def record_from_dict(d: dict[str, Any]) -> FlopCount:
    """A FlopCount from `FlopCount.to_dict()` (nested records and tuples restored)."""
    names = {f.name for f in dataclasses.fields(FlopCount)}
    fields = {k: v for k, v in d.items() if k in names}
    if fields.get("detection") is not None:
        fields["detection"] = DetectionBreakdown(**fields["detection"])
    if fields.get("fvcore") is not None:
        fv = dict(fields["fvcore"])
        fv["compared"] = tuple(fv["compared"])
        fields["fvcore"] = FvcoreComparison(**fv)
    fields["fallbacks"] = tuple(fields.get("fallbacks", ()))
    fields["notes"] = tuple(fields.get("notes", ()))
    return FlopCount(**fields)
