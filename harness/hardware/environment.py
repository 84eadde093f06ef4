"""The environment every record carries: versions, processors, driver, git state."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import __version__
from harness.hardware import identity, nvml
from harness.paths import REPO_ROOT

# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        out = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if out:
            return out
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.lru_cache(maxsize=8)
def device_identity(device: str) -> str:
    """'kind/model' of a device, for the measurement key: `cpu/<model>` or `cuda/<GPU name>`.

    GPU names come from NVML when every GPU has the same name (no CUDA context is made in a
    sweep's parent), else from torch.cuda for the exact index.
    """
    kind, _, index = device.partition(":")
    if kind == "cpu":
        return f"cpu/{cpu_model()}"
    if kind == "cuda":
        names = nvml.gpu_names()
        if names and len(set(names)) == 1:
            return f"cuda/{names[0]}"
        try:
            import torch

            if torch.cuda.is_available():
                return f"cuda/{torch.cuda.get_device_name(int(index or 0))}"
        except Exception:
            pass
        return "cuda/unknown"
    return kind


def identity_basis(index: int) -> str | None:
    """How the management library's GPU for cuda:index was found (pci | uuid | index | unknown).

    None where CUDA is not started in this process: a sweep's parent never starts it, and the
    match needs torch's device properties.
    """
    found = identified_device(index)
    return found.basis if found is not None else None


def identified_device(index: int) -> identity.DeviceIdentity | None:
    """The management library's GPU for cuda:index (basis, PCI bus id, UUID); None where CUDA
    is not started in this process (see `identity_basis`)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    if getattr(torch.version, "hip", None):
        from harness.hardware import amd_smi

        return amd_smi.identify_rocm_device(index)[0]
    try:
        with nvml.session() as lib:
            return nvml.identify_cuda_device(lib, index)
    except Exception as exc:
        return identity.DeviceIdentity(index, None, identity.UNKNOWN, nvml.error_text(exc))


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state(root: Path | None = REPO_ROOT) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository the harness runs from; (None, None) outside git."""
    if root is None or not (root / ".git").exists():
        return None, None
    commit = _run(["git", "rev-parse", "HEAD"], cwd=root)
    if commit is None:
        return None, None
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    return commit, (bool(status) if status is not None else None)


def _version(dist: str) -> str | None:
    from importlib import metadata  # not at import time: it costs a worker 0.1 s

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def capture_environment(device: str = "cpu") -> dict[str, Any]:
    """What changes a number, for every record: software versions, GPU and CPU, host, commit.

    Cheap (no CUDA kernels, no benchmarks); torch is imported, and CUDA queried only where
    this build of torch has CUDA and a device is visible.
    """
    commit, dirty = git_state()
    try:
        threads = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        threads = os.cpu_count()
    env: dict[str, Any] = {
        "harness_version": __version__,
        "device": device,
        "device_identity": device_identity(device),
        "device_identity_basis": None,  # how the GPU was matched: pci | uuid | index | unknown
        "device_pci_bus_id": None,  # the matched GPU's, as NVML (amdsmi) reports it
        "device_uuid": None,
        "python": platform.python_version(),
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "transformers": _version("transformers"),
        "cuda": None,
        "cudnn": None,
        "driver": None,
        "gpu_name": None,
        "gpu_count": 0,
        "cpu_model": cpu_model(),
        "cpu_threads": threads,
        "torch_threads": None,
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "git_commit": commit,
        "git_dirty": dirty,
        # the CUDA caching allocator's settings (sweep workers add expandable_segments:True)
        "pytorch_cuda_alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
    }
    try:
        import torch
    except ImportError:
        return env
    env["torch"] = torch.__version__  # with its build tag (+cu130, +cpu)
    env["torch_threads"] = torch.get_num_threads()
    env["cuda"] = torch.version.cuda
    gpu_build = torch.version.cuda is not None or getattr(torch.version, "hip", None) is not None
    if gpu_build and torch.cuda.is_available():
        index = int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0
        env["gpu_count"] = torch.cuda.device_count()
        env["gpu_name"] = device_identity(f"cuda:{index}").partition("/")[2]
        env["driver"] = nvml.driver_version()
        found = identified_device(index)
        if found is not None:
            env["device_identity_basis"] = found.basis
            env["device_pci_bus_id"], env["device_uuid"] = found.pci_bus_id, found.uuid
        try:
            env["cudnn"] = torch.backends.cudnn.version()
        except Exception:
            env["cudnn"] = None
    return env
