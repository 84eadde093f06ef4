"""Python files named by path (`path/to/file.py:name`): recognising such a reference, and
importing the file once per process.

Dependency-free on purpose (no torch): a sweep's parent process and its workers use it before
anything heavy is imported. The architecture loader and the worker-target loader both import
files through `import_python_file`, so a file is never imported twice under two names.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.errors import ArchitectureLoadError


class UserFileExit(ArchitectureLoadError):
    """A user's file called `sys.exit()` (or raised SystemExit) while loaded or built."""


def exit_error(what: str, path: Path | str, exc: SystemExit, when: str) -> UserFileExit:
    """The one line for a file that exits: which file, which status, and what to do."""
    return UserFileExit(
        f"{what}: {path} called sys.exit({exc.code!r}) while {when}; a model file must "
        "define its network, not exit (guard script code with if __name__ == '__main__')"
    )


def is_file_reference(spec: str) -> bool:
    """Whether `spec` names an attribute of a Python file (`path/to/file.py:name`)."""
    path, sep, attr = spec.rpartition(":")
    return bool(sep) and path.endswith(".py") and bool(attr)


def import_python_file(path: Path, *, what: str = "") -> ModuleType:
    """The module of the Python file at `path`, imported once per process.

    A file already imported (a zoo module named by path) is that module, so it runs once.
    Errors say `what` (the reference being loaded) and why the import failed.
    """
    what = what or str(path)
    path = Path(path).expanduser()
    if not path.is_file():
        raise ArchitectureLoadError(f"{what}: file {path} does not exist")
    module_name = f"harness_user_{abs(hash(str(path.resolve())))}"
    module = sys.modules.get(module_name) or _imported_module_at(path)
    if module is not None:
        return module
    mspec = importlib.util.spec_from_file_location(module_name, path)
    if mspec is None or mspec.loader is None:
        raise ArchitectureLoadError(f"{what}: {path} is not an importable Python file")
    module = importlib.util.module_from_spec(mspec)
    sys.modules[module_name] = module
    try:
        mspec.loader.exec_module(module)
    except SystemExit as exc:
        del sys.modules[module_name]
        raise exit_error(what, path, exc, "being imported") from None
    except Exception as exc:
        del sys.modules[module_name]
        raise ArchitectureLoadError(
            f"{what}: importing {path} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _imported_module_at(path: Path) -> Any:
    """A module already imported from `path` (a zoo file named by path), so it runs once."""
    target = path.resolve()
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and f.endswith(".py") and Path(f).resolve() == target:
            return mod
    return None
