"""A built wheel carries its data: every file under harness/data/ is packed, and an installed
(non-editable) harness lists the zoo, fits the published points and finds its suites."""

from __future__ import annotations

import json
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
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_files(wheel: Path) -> set[str]:
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


INSTALLED_CHECK = """
import json, sys
import harness
from harness.arch.registry import list_architectures
from harness.analysis.fit import fit_all
from harness.catalog.published import load_published
from harness.sweep.suites import list_suites, load_suite
print(json.dumps({
    "file": harness.__file__,
    "architectures": len(list_architectures()),
    "suites": list_suites(),
    "smoke": len(load_suite("smoke").jobs(cuda_available=False)),
    "fits": len(fit_all(load_published())),
}))
"""


@pytest.mark.slow
def test_an_installed_wheel_works_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target)]
        + [str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(target)}
    run = dict(capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    proc = subprocess.run([sys.executable, "-c", INSTALLED_CHECK], **run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout)
    assert facts["file"].startswith(str(target))
    assert facts["architectures"] > 100
    assert {"smoke", "paper", "zoo"} <= set(facts["suites"])
    assert facts["smoke"] == 7 and facts["fits"] > 10
    listed = subprocess.run([sys.executable, "-m", "harness", "list", "resnet*"], **run)
    assert listed.returncode == 0 and "resnet50" in listed.stdout, listed.stderr[-2000:]
    fitted = subprocess.run(
        [sys.executable, "-m", "harness", "fit", "--benchmark", "imagenet", "--json"], **run
    )
    assert fitted.returncode == 0, fitted.stderr[-2000:]
    assert json.loads(fitted.stdout)
