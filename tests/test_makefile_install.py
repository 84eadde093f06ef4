"""The Makefile's install decisions, read from `make -n` with PYTHON pointed at fake interpreters:
a system torch that sees CUDA is reused (--system-site-packages, pinned by a constraint), an old
driver gets its PyTorch wheel index, and the big install shows pip's progress (no --quiet)."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def fake_python(tmp_path: Path, *, cuda_torch: str | None) -> Path:
    """A 'system python': answers the Makefile's torch probe, runs the harness's modules for real."""
    probe = f'echo "{cuda_torch}"; exit 0' if cuda_torch else "exit 1"
    return _executable(
        tmp_path / "sys" / "python",
        "#!/bin/sh\n"
        f'case "$*" in *torch.cuda.is_available*) {probe};; esac\n'
        f'exec "{sys.executable}" "$@"\n',
    )


def dry_run(tmp_path: Path, target: str, python: Path, path_dirs: str = "/usr/bin:/bin") -> str:
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"PYTHON={python}", f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": path_dirs, "HOME": str(tmp_path)},
    )
    return done.stdout


def _install_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if "pip install" in ln and "--upgrade pip" not in ln]


def test_a_cuda_torch_in_the_system_python_is_reused(tmp_path):
    out = dry_run(tmp_path, "measure", fake_python(tmp_path, cuda_torch="2.11.0"))
    venv_line = next(ln for ln in out.splitlines() if "-m venv" in ln)
    assert "--system-site-packages" in venv_line
    assert 'echo "torch==2.11.0" >' in out  # pinned: pip keeps the system torch
    (install,) = _install_lines(out)
    assert "--constraint" in install and ".[all,dev]" in install
    assert "reusing torch 2.11.0" in out


def test_without_a_system_torch_the_venv_is_plain_and_the_big_install_is_not_quiet(tmp_path):
    out = dry_run(tmp_path, "test", fake_python(tmp_path, cuda_torch=None))
    venv_line = next(ln for ln in out.splitlines() if "-m venv" in ln)
    assert "--system-site-packages" not in venv_line
    (install,) = _install_lines(out)
    assert "--quiet" not in install and "--progress-bar on" in install
    assert '".[all,dev]"' in install  # CI's `make test` installs every optional extra
    assert "5-6 GB" in out  # the size is said before the download starts
    assert "-m pytest" in out


def test_an_old_driver_gets_the_wheel_index_of_its_cuda(tmp_path):
    _executable(
        tmp_path / "bin" / "nvidia-smi",
        "#!/bin/sh\n"
        'case "$1" in --query-gpu=*) echo "NVIDIA A100-SXM4-80GB, 535.104.05";;\n'
        '  *) echo "| NVIDIA-SMI 535.104.05  Driver Version: 535.104.05  CUDA Version: 12.2 |";;\n'
        "esac\n",
    )
    python = fake_python(tmp_path, cuda_torch=None)
    out = dry_run(tmp_path, "install", python, f"{tmp_path / 'bin'}:/usr/bin:/bin")
    torch_line, harness_line = _install_lines(out)
    assert "torch torchvision --index-url https://download.pytorch.org/whl/cu121" in torch_line
    assert "--quiet" not in torch_line and "-e " in harness_line
