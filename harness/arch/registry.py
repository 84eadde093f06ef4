"""The registry of architectures: registration, discovery (models/, entry points) and lookup."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from typing import Any

from torch import nn

from harness.arch.hf import is_hf_reference, load_hf_reference
from harness.arch.loader import load_file_reference
from harness.arch.spec import Architecture
from harness.errors import ConfigurationError, UnknownArchitectureError
from harness.user_files import is_file_reference
from harness.vocab import BENCHMARKS

ENTRY_POINT_GROUP = "harness.architectures"


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------

_REGISTRY: dict[str, Architecture] = {}
_DISCOVERED = False


def register(arch: Architecture, *, replace_existing: bool = False) -> Architecture:
    """Add an architecture to the registry (names are unique)."""
    if arch.benchmark is not None and arch.benchmark not in BENCHMARKS:
        raise ValueError(f"{arch.name}: unknown benchmark {arch.benchmark!r}")
    if arch.size_kind not in ("resolution", "seq_len"):
        raise ValueError(f"{arch.name}: size_kind must be 'resolution' or 'seq_len'")
    if (
        arch.name in _REGISTRY
        and not replace_existing
        and _REGISTRY[arch.name] is not arch
        and not _same_definition(_REGISTRY[arch.name], arch)
    ):
        raise ConfigurationError(
            f"architecture {arch.name!r} is registered twice "
            f"({_REGISTRY[arch.name].source} and {arch.source or _caller_module()}); rename one"
        )
    if not arch.source:
        arch = replace(arch, source=_caller_module())
    _REGISTRY[arch.name] = arch
    return arch


def _same_definition(a: Architecture, b: Architecture) -> bool:
    """The same file imported twice (as `models.x` and as `models/x.py:name`) is no clash."""
    ca, cb = getattr(a.builder, "__code__", None), getattr(b.builder, "__code__", None)
    return (
        ca is not None
        and cb is not None
        and (ca.co_filename, ca.co_firstlineno) == (cb.co_filename, cb.co_firstlineno)
    )


def architecture(**fields: Any) -> Callable[[Callable[[], nn.Module]], Architecture]:
    """Decorator: turn a builder function into a registered `Architecture`.

        @architecture(name="mynet", domain="vision", task="classification", ...)
        def mynet() -> nn.Module: ...

    `name` defaults to the function's name; every other `Architecture` field is a keyword.
    A decorated function in a file outside the repository is loadable as `file.py:mynet`.
    """

    def wrap(fn: Callable[[], nn.Module]) -> Architecture:
        spec = dict(fields)
        spec.setdefault("name", fn.__name__)
        spec.setdefault("description", (fn.__doc__ or "").strip().split("\n")[0])
        spec.setdefault("source", fn.__module__)
        return register(Architecture(builder=fn, **spec))

    return wrap


def _caller_module() -> str:
    frame = sys._getframe(2)
    return frame.f_globals.get("__name__", "")


# --------------------------------------------------------------------------------------------
# Discovery and lookup
# --------------------------------------------------------------------------------------------


def discover() -> None:
    """Import the zoo and the entry-point plug-ins (once)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import models

    for info in pkgutil.iter_modules(models.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"models.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plug-in must not take the zoo down
            print(f"warning: entry point {ep.name!r} failed to load: {exc}", file=sys.stderr)


def all_architectures() -> list[Architecture]:
    discover()
    return list(_REGISTRY.values())


def list_architectures(
    pattern: str | None = None,
    *,
    domain: str | None = None,
    task: str | None = None,
    benchmark: str | None = None,
    tag: str | None = None,
) -> list[Architecture]:
    """Registered architectures, filtered; `pattern` is a glob like 'vit*' (timm's way)."""
    out = []
    for a in all_architectures():
        if pattern and not fnmatch.fnmatch(a.name, pattern):
            continue
        if domain and a.domain != domain:
            continue
        if task and a.task != task:
            continue
        if benchmark and a.benchmark != benchmark:
            continue
        if tag and tag not in a.tags:
            continue
        out.append(a)
    return sorted(
        out,
        key=lambda a: (BENCHMARKS.index(a.benchmark) if a.benchmark in BENCHMARKS else 99, a.name),
    )


def get(name: str) -> Architecture:
    """A registered architecture by exact name; an unknown name suggests close matches."""
    discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `harness list` shows them all"
        raise UnknownArchitectureError(f"unknown architecture {name!r}{hint}") from None


def resolve(
    spec: str,
    *,
    input_shape: Sequence[int] | None = None,
    seq_len: int | None = None,
    vocab: int | None = None,
) -> Architecture:
    """A name, `path/to/file.py:name` or `hf:MODEL_ID`, to an Architecture.

    `name` in a file is either an Architecture (made with `@architecture`) or a plain function
    returning an nn.Module; the latter needs `input_shape` (float input, first dimension the
    batch) or `seq_len` and `vocab` (token ids) to make its example batch.
    """
    if is_hf_reference(spec):
        return load_hf_reference(spec)
    if not is_file_reference(spec):
        return get(spec)
    return load_file_reference(spec, input_shape=input_shape, seq_len=seq_len, vocab=vocab)
