"""Whether the installed torch can use the GPUs the driver lists, and what to install if not.

A torch wheel carries a CUDA runtime and needs a driver at least as new as that runtime: a
torch built for CUDA 13.0 needs driver >= 580, so on the common 535-570 drivers it sees no GPU
and the harness would quietly measure the CPU smoke suite on a GPU machine. `nvidia-smi` is
the witness that GPUs exist: its header names the driver and the newest CUDA it runs. When it
lists GPUs but torch sees none, `harness measure --default-suite` (and `make measure`) stop
with one line naming both versions and the PyTorch wheel index for that CUDA.

Driver floors per CUDA toolkit: NVIDIA's CUDA Toolkit release notes, "CUDA Toolkit and
Corresponding Driver Versions" (https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/).
Wheel indexes: https://pytorch.org/get-started/locally/ (download.pytorch.org/whl/cuXYZ).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from harness.errors import DeviceUnavailableError

WHEEL_INDEX = "https://download.pytorch.org/whl/{tag}"

# PyTorch's CUDA wheel tags (newest first) with the CUDA version each is built for and the
# smallest Linux driver of that CUDA toolkit's GA release (NVIDIA's release notes, Table 3).
WHEEL_TAGS: tuple[tuple[str, tuple[int, int], int], ...] = (
    ("cu130", (13, 0), 580),
    ("cu129", (12, 9), 575),
    ("cu128", (12, 8), 570),
    ("cu126", (12, 6), 560),
    ("cu124", (12, 4), 550),
    ("cu121", (12, 1), 530),
    ("cu118", (11, 8), 520),
)

_CUDA_IN_HEADER = re.compile(r"CUDA Version:\s*([0-9]+)\.([0-9]+)")


@dataclass(frozen=True)
class SmiFacts:
    """What `nvidia-smi` says: the GPUs, the driver, and the newest CUDA that driver runs."""

    gpus: tuple[str, ...]
    driver: str | None
    cuda: tuple[int, int] | None  # from the header's "CUDA Version: X.Y"

    @property
    def cuda_text(self) -> str:
        return f"{self.cuda[0]}.{self.cuda[1]}" if self.cuda else "unknown"


@dataclass(frozen=True)
class TorchFacts:
    """What the installed torch says about CUDA."""

    version: str
    cuda: str | None  # torch.version.cuda: None for a CPU-only build
    cuda_available: bool


def _run(args: list[str]) -> str | None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def read_smi(executable: str = "nvidia-smi") -> SmiFacts | None:
    """nvidia-smi's facts, or None where it is missing or fails (no NVIDIA driver here)."""
    path = shutil.which(executable)
    if path is None:
        return None
    listing = _run([path, "--query-gpu=name,driver_version", "--format=csv,noheader"])
    if listing is None:
        return None
    rows = [[c.strip() for c in ln.split(",")] for ln in listing.splitlines() if ln.strip()]
    gpus = tuple(r[0] for r in rows)
    driver = rows[0][1] if rows and len(rows[0]) > 1 else None
    header = _run([path]) or ""
    m = _CUDA_IN_HEADER.search(header)
    return SmiFacts(gpus, driver, (int(m.group(1)), int(m.group(2))) if m else None)


def read_torch() -> TorchFacts:
    import torch

    return TorchFacts(torch.__version__, torch.version.cuda, bool(torch.cuda.is_available()))


def _version_pair(text: str | None) -> tuple[int, int] | None:
    m = re.match(r"\s*([0-9]+)\.([0-9]+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def driver_cuda(smi: SmiFacts) -> tuple[int, int] | None:
    """The newest CUDA the driver runs: nvidia-smi's header, else inferred from the driver."""
    if smi.cuda is not None:
        return smi.cuda
    major = _version_pair(smi.driver)
    if major is None:
        return None
    fits = [cuda for _, cuda, floor in WHEEL_TAGS if major[0] >= floor]
    return fits[0] if fits else None


def wheel_tag_for(cuda: tuple[int, int] | None) -> str | None:
    """The newest PyTorch CUDA wheel tag whose CUDA the driver runs."""
    if cuda is None:
        return None
    for tag, built_for, _ in WHEEL_TAGS:
        if built_for <= cuda:
            return tag
    return None


def _hidden_by_environment() -> str | None:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    return None


def mismatch(smi: SmiFacts | None, torch_facts: TorchFacts) -> str | None:
    """Why torch cannot use the GPUs nvidia-smi lists, and what to do; None when all is well.

    None also where nvidia-smi lists no GPU: a machine without one measures on the CPU.
    """
    if smi is None or not smi.gpus or torch_facts.cuda_available:
        return None
    gpus = f"nvidia-smi lists {len(smi.gpus)} GPU(s) ({smi.gpus[0]}), driver {smi.driver}"
    cuda = driver_cuda(smi)
    tag = wheel_tag_for(cuda)
    install = (
        f"install a torch built for CUDA <= {cuda[0]}.{cuda[1]}: pip install --force-reinstall "
        f"torch torchvision --index-url {WHEEL_INDEX.format(tag=tag)} "
        f"(with make: rm -rf .venv && make measure TORCH_INDEX_URL={WHEEL_INDEX.format(tag=tag)})"
        if cuda and tag
        else "install a torch build for this driver's CUDA (https://pytorch.org/get-started/locally/)"
    )
    hidden = _hidden_by_environment()
    if hidden:
        return f"{gpus}, but {hidden}: unset it, or run `harness measure --suite smoke` for the CPU"
    built = _version_pair(torch_facts.cuda)
    if built is None:
        return f"{gpus}, but torch {torch_facts.version} is a CPU-only build; {install}"
    if cuda is not None and built > cuda:
        return (
            f"{gpus} (runs CUDA <= {cuda[0]}.{cuda[1]}), but torch {torch_facts.version} was "
            f"built for CUDA {torch_facts.cuda}, which needs a newer driver; {install}, "
            "or update the NVIDIA driver"
        )
    return (
        f"{gpus} (CUDA {smi.cuda_text}), and torch {torch_facts.version} (CUDA "
        f"{torch_facts.cuda}) should run on it, but torch.cuda.is_available() is False: check "
        "the device files (/dev/nvidia*), the container's GPU access and CUDA_VISIBLE_DEVICES"
    )


def require_usable_gpus(smi: SmiFacts | None = None, torch_facts: TorchFacts | None = None) -> None:
    """Raise a one-line DeviceUnavailableError where GPUs exist that torch cannot use."""
    torch_facts = torch_facts if torch_facts is not None else read_torch()
    if torch_facts.cuda_available:
        return
    reason = mismatch(smi if smi is not None else read_smi(), torch_facts)
    if reason:
        raise DeviceUnavailableError(f"{reason} (refusing to fall back to the CPU suite)")


def wheel_index_for_driver(smi: SmiFacts | None) -> str | None:
    """The PyTorch wheel index for an older driver; None where the default wheels run (or no GPU).

    Needs no torch: the Makefile asks before installing one.
    """
    if smi is None or not smi.gpus:
        return None
    tag = wheel_tag_for(driver_cuda(smi))
    if tag is None or tag == WHEEL_TAGS[0][0]:
        return None
    return WHEEL_INDEX.format(tag=tag)


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.hardware.driver_check`: exit 1 with the reason, else 0 with a summary.

    `--wheel-index` prints the wheel index an older driver needs (nothing where PyPI's fits).
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--wheel-index"]:
        print(wheel_index_for_driver(read_smi()) or "")
        return 0
    try:
        require_usable_gpus()
    except DeviceUnavailableError as exc:
        print(f"driver check: error: {exc}", file=sys.stderr)
        return 1
    facts = read_torch()
    where = "CUDA available" if facts.cuda_available else "no GPU listed by nvidia-smi: CPU"
    print(f"driver check: torch {facts.version} (CUDA {facts.cuda}): {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
