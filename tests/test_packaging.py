"""The package data an installed wheel would read: every file under harness/data/ is packed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import harness

ROOT = Path(harness.__file__).resolve().parent.parent
DATA = ROOT / "harness" / "data"


_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The file names in a wheel built from a fresh copy of the source.

    pip builds in the source folder; a copy keeps the checkout clean, and no stale build/ folder
    can supply a file the package-data globs miss.
    """
    tmp = tmp_path_factory.mktemp("wheel")
    src, out = tmp / "src", tmp / "dist"
    for name in ("harness", "models"):
        shutil.copytree(ROOT / name, src / name, ignore=_SKIP)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), "-q"],
        check=True,
        cwd=tmp,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp)},
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.mark.slow
def test_every_data_file_is_in_the_wheel(wheel_files: set[str]) -> None:
    source = {
        p.relative_to(ROOT).as_posix()
        for p in DATA.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert source, "no package data found"
    missing = sorted(source - wheel_files)
    assert not missing, f"package data missing from the wheel: {missing}"


@pytest.mark.slow
def test_the_files_the_harness_reads_are_in_the_wheel(wheel_files: set[str]) -> None:
    for path in (
        "harness/data/__init__.py",
        "harness/data/reference/processors.csv",
        "harness/data/reference/processor_aliases.csv",
        "harness/data/suites/smoke.toml",
        "harness/data/recipes/imagenet.toml",
        "harness/data/recipes/coco.toml",
    ):
        assert path in wheel_files
